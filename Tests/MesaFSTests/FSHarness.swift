import MesaCore
import MesaFS
import MesaStore
import MesaSync
import MesaTesting

/// A MesaFS over a fixture, driven without a kernel.
struct FSHarness {
    static let repository = RepositoryPath(organization: "acme", name: "demo")
    static let commitTime: Int64 = 1_700_000_000

    let fixture: FixtureRepository
    let fs: MesaFS
    let source: StoreObjectSource
    let fetcher: FakeRemoteFetcher?
    let cacheDirectory: TemporaryDirectory?

    /// Content local: the fixture's own store.
    static func local(
        _ tree: FixtureTree,
        configuration: FSConfiguration = FSHarness.configuration()
    ) throws -> FSHarness {
        let fixture = try FixtureRepository(tree, time: commitTime)
        let source = fixture.localSource()
        return FSHarness(
            fixture: fixture, fs: try makeFS(source, configuration), source: source, fetcher: nil, cacheDirectory: nil)
    }

    /// Content fetched into an empty cache through a counting fetcher.
    static func remote(
        _ tree: FixtureTree,
        configuration: FSConfiguration = FSHarness.configuration(),
        sourceConfiguration: SourceConfiguration = .default
    ) throws -> FSHarness {
        let fixture = try FixtureRepository(tree, time: commitTime)
        let fetcher = FakeRemoteFetcher(server: fixture.repository)
        let directory = try TemporaryDirectory(prefix: "mesa-cache")
        let cache = try ContentStore(
            path: directory.appending("store"), configuration: .cache(maxUnpinnedBytes: 1 << 30))
        let source = StoreObjectSource(store: cache, backing: .remote(fetcher), configuration: sourceConfiguration)
        return FSHarness(
            fixture: fixture, fs: try makeFS(source, configuration), source: source, fetcher: fetcher,
            cacheDirectory: directory)
    }

    /// Handles by default (most tests are about their semantics); the mount's zero-message opens when asked.
    static func configuration(
        prefetch: PrefetchConfiguration = .disabled, zeroMessageOpens: Bool = false
    ) -> FSConfiguration {
        var configuration = FSConfiguration(uid: 1234, gid: 5678, prefetch: prefetch)
        configuration.mountTime = 1_600_000_000
        configuration.zeroMessageOpens = zeroMessageOpens
        return configuration
    }

    private static func makeFS(_ source: StoreObjectSource, _ configuration: FSConfiguration) throws -> MesaFS {
        let layout = try MountLayout([
            MountLayout.Repository(path: repository, revision: .defaultBookmark, source: source)
        ])
        return MesaFS(layout: layout, configuration: configuration)
    }

    /// Looks up a slash-separated path from the mount root, one lookup per component (as the kernel does).
    @discardableResult
    func lookup(_ path: String) async throws(FSError) -> EntryAttributes {
        var entry = try fs.getattr(.root)
        for component in path.split(separator: "/") {
            entry = try await fs.lookup(parent: entry.attributes.inode, name: FileName(String(component)))
        }
        return entry
    }

    /// The repository root's inode.
    func repositoryRoot() async throws(FSError) -> InodeNumber { try await lookup("acme/demo").attributes.inode }

    /// Every entry of a directory, through one handle, `pageSize` entries per readdir call.
    func list(
        _ inode: InodeNumber, plus: Bool = false, pageSize: Int = .max
    ) async throws(FSError) -> [DirectoryEntry] {
        let handle = try fs.opendir(inode).handle
        defer { fs.releasedir(handle) }
        var entries: [DirectoryEntry] = []
        var offset: Int64 = 0
        while true {
            var page: [DirectoryEntry] = []
            let fill = { (entry: DirectoryEntry) -> Bool in
                guard page.count < pageSize else { return false }
                page.append(entry)
                return true
            }
            if handle == .inodeReads {
                try await fs.readdir(inode: inode, offset: offset, plus: plus, fill: fill)
            } else {
                try await fs.readdir(handle, offset: offset, plus: plus, fill: fill)
            }
            guard let last = page.last else { break }
            entries += page
            offset = last.nextOffset
        }
        return entries
    }

    /// A whole file through a handle (or by inode, when opens need none).
    func read(_ inode: InodeNumber) async throws(FSError) -> [UInt8] {
        let handle = try fs.open(inode, flags: .readOnly).handle
        defer { fs.release(handle) }
        let size = try fs.getattr(inode).attributes.size
        if handle == .inodeReads { return try await fs.read(inode: inode, offset: 0, size: Int(size)).joined }
        return try await fs.read(handle, offset: 0, size: Int(size)).joined
    }

    /// Moves the mount to the fixture's current revision.
    func update() async throws -> Invalidation {
        try await fs.update(Self.repository, to: try fixture.resolution())
    }
}
