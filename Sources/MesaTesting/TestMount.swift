import Foundation
import Logging
package import MesaFS
package import MesaFuse
import MesaStore
package import MesaSync
import Synchronization

// Real mounts for tests (STYLE.md section 8). The mount runs in the test process; test bodies must touch it only
// from threads outside Swift's cooperative pool (`blocking`, `run`), because the FUSE request Tasks need that pool:
// a test blocking a cooperative thread in a syscall on the mount could starve them.

/// A mounted fixture: the mount point, the filesystem, the session and, for remote mounts, the counting fetcher.
package struct TestMount: Sendable {
    /// The mount point.
    package let path: String
    /// The fixture's repository directory: `<path>/acme/demo`.
    package var repositoryPath: String { path + "/" + Self.repository.organization + "/" + Self.repository.name }
    /// The repository's place in the layout.
    package static let repository = RepositoryPath(organization: "acme", name: "demo")
    /// The filesystem.
    package let fs: MesaFS
    /// The session.
    package let session: FuseSession
    /// The "server" repository the mount shows (evolve it to simulate a push).
    package let fixture: FixtureRepository
    /// The object source of the repository.
    package let source: StoreObjectSource
    /// The counting fetcher, for a remote mount.
    package let fetcher: FakeRemoteFetcher?

    /// Runs blocking file work on a thread of its own, outside the cooperative pool (and outside Dispatch's global
    /// queues, which on Linux grow past the core count only after a delay).
    package func blocking<Result: Sendable>(
        _ body: @escaping @Sendable () throws -> Result
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Swift.Result { try body() }) }.start()
        }
    }

    /// The result of a command.
    package struct CommandResult: Sendable {
        /// The exit status.
        package var status: Int32
        /// Standard output.
        package var output: String
        /// Standard error.
        package var error: String
    }

    /// Runs a command (through `/usr/bin/env`) and waits for it, off the cooperative pool.
    package func run(_ arguments: String..., in directory: String? = nil) async throws -> CommandResult {
        try await run(arguments, in: directory)
    }

    /// Runs a command given as an array. See ``run(_:in:)-(String...,_)``.
    package func run(_ arguments: [String], in directory: String? = nil) async throws -> CommandResult {
        let directory = directory ?? path
        return try await blocking {
            let result = try ProcessRunner.run("/usr/bin/env", arguments, directory: directory)
            return CommandResult(status: result.status, output: result.output, error: result.error)
        }
    }

    /// Applies the fixture's current revision to the mount (a remote change reaching it) and returns what was
    /// invalidated.
    @discardableResult
    package func pullRemoteChanges() async throws -> Invalidation {
        try await session.refresh(Self.repository)
    }
}

/// How ``withTestMount(_:remote:prefetch:configuration:_:)`` serves the fixture.
package enum TestMountBacking: Sendable {
    /// The fixture's own store, through a local source.
    case local
    /// An empty cache store filled through a counting ``FakeRemoteFetcher`` over the fixture.
    case remote
}

private let mountCounter = Atomic<Int>(0)

/// Mounts a fixture in a fresh directory, runs `body`, and always unmounts and removes the directory, also when
/// `body` throws.
/// - Parameters:
///   - tree: the repository's files, shown at `<mount>/acme/demo`.
///   - backing: local, or remote through a counting fetcher.
///   - prefetch: prefetch settings (disabled by default, so fetch counts are exact).
///   - sourceConfiguration: memory and tree-fetch settings of the source.
///   - writable: give MesaFS a state directory (journal and overlay), so the mount takes writes; implies a
///     read-write mount.
///   - readOnly: mount `ro`, as `mesa mount` does while MesaFS has no write path; `false` mounts read-write so that
///     MesaFS, not the kernel, answers modifications.
package func withTestMount<Result: Sendable>(
    _ tree: FixtureTree,
    backing: TestMountBacking = .local,
    prefetch: PrefetchConfiguration = .disabled,
    sourceConfiguration: SourceConfiguration = .default,
    readOnly: Bool = true,
    writable: Bool = false,
    _ body: (TestMount) async throws -> Result
) async throws -> Result {
    FuseTestEnvironment.staleMountsSwept
    let fixture = try FixtureRepository(tree)
    let cacheDirectory = try TemporaryDirectory(prefix: "mesa-cache")
    let source: StoreObjectSource
    let fetcher: FakeRemoteFetcher?
    switch backing {
    case .local:
        source = fixture.localSource(configuration: sourceConfiguration)
        fetcher = nil
    case .remote:
        let remote = FakeRemoteFetcher(server: fixture.repository)
        let cache = try ContentStore(
            path: cacheDirectory.appending("store"), configuration: .cache(maxUnpinnedBytes: 1 << 30))
        source = StoreObjectSource(store: cache, backing: .remote(remote), configuration: sourceConfiguration)
        fetcher = remote
    }
    let layout = try MountLayout([
        MountLayout.Repository(path: TestMount.repository, revision: .defaultBookmark, source: source)
    ])
    var configuration = FSConfiguration()
    configuration.prefetch = prefetch
    let stateDirectory = try TemporaryDirectory(prefix: "mesa-state")
    let fs =
        writable
        ? try MesaFS(
            layout: layout, configuration: configuration,
            overlay: Overlay(directory: stateDirectory.appending("state")))
        : MesaFS(layout: layout, configuration: configuration)
    let number = mountCounter.add(1, ordering: .relaxed).newValue
    let mountPoint = "\(FuseTestEnvironment.mountRoot)/mesa-fuse-\(getpid())-\(number)"
    try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
    defer { rmdir(mountPoint) }
    var logger = Logger(label: "mesa.fuse.test")
    logger.logLevel = ProcessInfo.processInfo.environment["MESA_TEST_LOG"] == "1" ? .trace : .error
    var fuseConfiguration = FuseConfiguration()
    fuseConfiguration.readOnly = readOnly && !writable
    fuseConfiguration.debug = ProcessInfo.processInfo.environment["MESA_FUSE_DEBUG"] == "1"
    let session = try await FuseSession.mount(fs, at: mountPoint, configuration: fuseConfiguration, logger: logger)
    do {
        try session.start()
        let mount = TestMount(
            path: mountPoint, fs: fs, session: session, fixture: fixture, source: source, fetcher: fetcher)
        let result = try await body(mount)
        await session.shutdown()
        withExtendedLifetime(stateDirectory) {}
        return result
    } catch {
        await session.shutdown()
        withExtendedLifetime(stateDirectory) {}
        throw error
    }
}
