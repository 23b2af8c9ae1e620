import Foundation
import Logging
import MesaCore
import MesaFS
import MesaFuse
import MesaKit
import MesaStore
import MesaSync
import MesaTree
import Synchronization

// `mesa mount`'s running service: checks what can be checked before mounting (and says what to do), builds the
// layout `<mount-point>/<org>/<repo>` from the server, mounts it with FUSE, polls the shown revisions for movement
// (conditional requests; a moved revision is applied with exact kernel invalidations), serves the control socket,
// and on SIGINT, SIGTERM or `mesa unmount` shuts the session down in the documented order (docs/Threading.md).

/// A mount failure with what to do about it.
struct MountFailure: Error, CustomStringConvertible {
    var description: String
}

/// One running mount.
final class MountService: Sendable {
    let configuration: MountConfiguration
    let logger: Logger
    private let credential: MutableCredential
    private let stopRequested = Mutex<CheckedContinuation<Void, Never>?>(nil)
    /// Whether the server answered the last request the service made (polls; an offline start).
    let connectivity = Connectivity()
    /// The outcome `mesa unmount` answers with once the mount is gone, and the requests waiting for it.
    private let unmountWaiters = Mutex<(outcome: String?, waiters: [CheckedContinuation<String, Never>])>((nil, []))
    /// Counts the times the reconnect probe found an unreachable server answering again (wakes backing-off watchers).
    private let reconnected = Atomic<Int>(0)
    private let stopFlag = Atomic<Bool>(false)

    init(configuration: MountConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        credential = MutableCredential(configuration.credential)
    }

    /// Checks `/dev/fuse`, permissions and the mount point before any network or mount work.
    static func preflight(_ configuration: MountConfiguration) throws {
        guard access("/dev/fuse", R_OK | W_OK) == 0 else {
            throw MountFailure(description: "no usable /dev/fuse: load the fuse module or run the sandbox with FUSE enabled (--device /dev/fuse)")
        }
        if geteuid() != 0 {
            let conf = (try? String(contentsOfFile: "/etc/fuse.conf", encoding: .utf8)) ?? ""
            let allowed = conf.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces) == "user_allow_other" }
            guard allowed else {
                throw MountFailure(description: "mounting as a non-root user needs 'user_allow_other' in /etc/fuse.conf (Mesa mounts with allow_other)")
            }
        }
        let path = configuration.mountPoint
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        if MountTable.mount(at: path) != nil {
            throw MountFailure(description: "\(path) is already a mount point (busy): run `mesa unmount` or choose another MESA_MOUNT_POINT")
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        guard entries.isEmpty else {
            throw MountFailure(description: "the mount point \(path) is not empty; choose an empty directory with MESA_MOUNT_POINT")
        }
    }

    /// Mounts, then runs until asked to stop. `ready` is called once the mount serves requests.
    func run(ready: @Sendable (String) -> Void) async throws {
        try Self.preflight(configuration)
        // Merges of moved changes write trees naming content this lazy cache never fetched.
        try MesaRepository.allowTreesNamingAbsentObjects()
        let mesa = Mesa(
            credentials: credential, org: configuration.org, baseURL: configuration.baseURL,
            configuration: Self.clientConfiguration)
        let org: String
        let repos: [(name: String, defaultBookmark: String)]
        let canWrite: Bool
        var recorded: [String: MesaSync.Resolution] = [:]
        do {
            let identity = try await mesa.whoami()
            let listed = try await mesa.repos.all().collect()
            org = configuration.org ?? identity.org.slug
            canWrite = identity.scopes.allow(.write)
            repos = listed.map { ($0.name, $0.defaultBookmark) }
        } catch {
            // Unreachable: start from what the last mount of this state directory recorded (issue 11, offline).
            guard case .transport = error,
                let record = try MountRecord.load(from: configuration.stateDirectory),
                record.server == configuration.baseURL, configuration.org.map({ $0 == record.org }) ?? true
            else { throw Self.describe(error, baseURL: configuration.baseURL) }
            org = record.org
            canWrite = record.canWrite
            repos = record.repositories.map { ($0.name, $0.defaultBookmark) }
            for repository in record.repositories { recorded[repository.name] = repository.resolution }
            connectivity.failed("\(error)")
            logger.warning(
                "the server cannot be reached: starting from the state directory (cached content reads, writes are kept)",
                metadata: ["server": "\(configuration.baseURL)", "error": "\(error)"])
        }

        let cachePath = configuration.cacheEnabled ? configuration.cachePath : configuration.stateDirectory + "/run-cache-\(getpid())"
        try FileManager.default.createDirectory(atPath: configuration.stateDirectory, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: configuration.runtimeDirectory, withIntermediateDirectories: true)
        let cache = try ContentStore(
            path: cachePath + "/store", configuration: .cache(maxUnpinnedBytes: configuration.cacheMaxSize.rawValue))
        var sourceConfiguration = SourceConfiguration()
        sourceConfiguration.memoryBytes = max(16 << 20, configuration.cacheMaxMemorySize.rawValue / Int64(max(1, repos.count)))
        var repositories: [MountLayout.Repository] = []
        var sources: [RepositoryPath: StoreObjectSource] = [:]
        var fetchers: [RepositoryPath: SyncRemoteFetcher] = [:]
        for repo in repos {
            let path = RepositoryPath(organization: org, name: repo.name)
            let fetcher = SyncRemoteFetcher(sync: mesa.sync(repo.name))
            let source = StoreObjectSource(store: cache, backing: .remote(fetcher), configuration: sourceConfiguration)
            let revision: Revision
            switch configuration.repoRevisions["\(org)/\(repo.name)"] {
            case .bookmark(let name)?: revision = Revision(.bookmark(name))
            case .change(let id)?: revision = Revision(parsing: "change-id:\(id)") ?? .defaultBookmark
            case nil: revision = .defaultBookmark
            }
            let known = recorded[repo.name].flatMap { $0.revision == revision ? $0 : nil }
            repositories.append(MountLayout.Repository(path: path, revision: revision, source: source, resolution: known))
            sources[path] = source
            fetchers[path] = fetcher
        }
        let layout = try MountLayout(repositories)
        var prefetch = PrefetchConfiguration()
        prefetch.enabled = configuration.prefetchEnabled
        prefetch.maxDepth = configuration.prefetchMaxDepth
        prefetch.maxConcurrency = configuration.prefetchMaxConcurrency
        prefetch.cachePressureLimit = configuration.prefetchCachePressureLimit
        // The journal and overlay files of this org's repositories: durable state, never in the cache.
        // A journal that cannot be read is never served: the mount stops and says how to repair it.
        let overlay: Overlay
        let fs: MesaFS
        do throws(FSError) {
            overlay = try Overlay(directory: configuration.stateDirectory + "/journal/" + org)
            fs = try MesaFS(
                layout: layout,
                configuration: FSConfiguration(uid: configuration.uid, gid: configuration.gid, prefetch: prefetch),
                overlay: overlay, ignoreRules: IgnoreRules.load(path: configuration.mesaignorePath))
        } catch {
            throw MountFailure(
                description: "the state directory is damaged: \(error). `mesa debug fsck --state-dir "
                    + "\(configuration.stateDirectory)` says what is wrong; add --repair to repair it or set it aside")
        }
        // A credential that cannot push makes writes fail at once (EROFS), never pile up edits that cannot upload.
        fs.acceptWrites(canWrite)
        if !canWrite { logger.notice("the credential is read-only: the mount refuses writes (EROFS)") }
        // Resolved, with their root trees, before the mount is ready (with the protocol check each sync client makes
        // first), so the first path walk into a repository starts with its trees.
        await fs.prepareRepositories()
        let defaultBookmarkByName = Dictionary(repos.map { ($0.name, $0.defaultBookmark) }) { first, _ in first }
        let recorder = MountRecorder(
            stateDirectory: configuration.stateDirectory, server: configuration.baseURL, org: org, canWrite: canWrite,
            defaultBookmarks: defaultBookmarkByName, logger: logger)
        recorder.save(fs)
        let fuseConfiguration = FuseConfiguration()
        let session = try await FuseSession.mount(
            fs, at: configuration.mountPoint, configuration: fuseConfiguration, logger: logger)
        try session.start()

        let socketPath = configuration.runtimeDirectory + "/control.sock"
        let pidPath = configuration.runtimeDirectory + "/mesa.pid"
        try "\(getpid())\n".write(toFile: pidPath, atomically: true, encoding: .utf8)
        let sourcesByPath = sources
        var defaultBookmarks: [Int: String] = [:]
        for repo in repos {
            if let index = layout.index(of: RepositoryPath(organization: org, name: repo.name)) {
                defaultBookmarks[index] = repo.defaultBookmark
            }
        }
        let bookmarks = defaultBookmarks
        let pipeline = UploadPipeline(
            fs: fs, mesa: mesa, defaultBookmarks: bookmarks, quiet: configuration.syncQuiet,
            maxDelay: configuration.syncMaxDelay, committer: (name: "mesa mount", email: "mount@\(org).mesa.local"),
            logger: logger, invalidate: { await session.invalidate($0) })
        await pipeline.start()
        let control = try ControlServer(path: socketPath) { [self] request in
            await handle(
                request, session: session, fs: fs, cache: cache, sources: sourcesByPath, pipeline: pipeline, mesa: mesa,
                defaultBookmarks: bookmarks)
        }
        ready(
            "mounted \(repos.count) repositories of \(org) at \(configuration.mountPoint)"
                + (canWrite ? "" : " (read-only: the credential cannot write)"))

        let fetchersByPath = fetchers
        let poller = Task {
            await follow(
                session: session, fetchers: fetchersByPath, layout: layout, org: org, afterChange: { recorder.save(fs) })
        }
        let prober = Task { await probeWhileUnreachable(pipeline: pipeline, org: org) }
        await waitForStop()
        poller.cancel()
        prober.cancel()
        // A sandbox ends its mount with SIGTERM and then tears everything down: upload what is pending first, within
        // MESA_SHUTDOWN_SYNC_TIMEOUT, while the mount still serves; what stays pending is said, never claimed uploaded.
        let leftovers = await pipeline.flush(timeout: configuration.shutdownSyncTimeout)
        reportShutdownSync(leftovers, layout: layout)
        control.stop()
        await session.shutdown()
        try? FileManager.default.removeItem(atPath: pidPath)
        overlay.close()
        try? cache.close()
        if !configuration.cacheEnabled { try? FileManager.default.removeItem(atPath: cachePath) }
        logger.info("unmounted")
        // `mesa unmount` returns only now: the mount point is gone and the upload's outcome is known.
        finishUnmount(with: Self.unmountOutcome(leftovers, mountPoint: configuration.mountPoint, stateDirectory: configuration.stateDirectory))
        control.drain(timeout: .seconds(5))
    }

    /// Logs the outcome of the stopping mount's last upload: every edit on the server, or, per repository, what stays
    /// in the state directory for the next mount of it.
    private func reportShutdownSync(_ leftovers: [UploadPipeline.Leftover], layout: MountLayout) {
        guard !leftovers.isEmpty else {
            logger.info("every edit is on the server")
            return
        }
        for leftover in leftovers {
            logger.warning(
                "edits stay pending in the state directory; the next mount of it uploads them",
                metadata: [
                    "repo": "\(layout.repositories[leftover.repository].path)", "entries": "\(leftover.entries)",
                    "files": "\(leftover.files)", "bytes": "\(leftover.bytes)",
                    "state_dir": "\(configuration.stateDirectory)",
                    "error": "\(leftover.lastError ?? "not uploaded within MESA_SHUTDOWN_SYNC_TIMEOUT")",
                ])
        }
    }

    /// What `mesa unmount` prints once the mount is gone.
    static func unmountOutcome(_ leftovers: [UploadPipeline.Leftover], mountPoint: String, stateDirectory: String) -> String {
        guard !leftovers.isEmpty else { return "unmounted \(mountPoint); every edit is on the server" }
        let files = leftovers.reduce(0) { $0 + $1.files }
        let bytes = leftovers.reduce(Int64(0)) { $0 + $1.bytes }
        let reasons = Set(leftovers.compactMap(\.lastError)).sorted()
        return "unmounted \(mountPoint); \(files) file(s) (\(bytes) bytes) in \(leftovers.count) repository(ies) stay pending in "
            + "\(stateDirectory): the next mount of it uploads them"
            + (reasons.isEmpty ? " (not uploaded within MESA_SHUTDOWN_SYNC_TIMEOUT)" : " (\(reasons.joined(separator: "; ")))")
    }

    /// Answers every waiting `mesa unmount` (and any that comes later) with `outcome`.
    private func finishUnmount(with outcome: String) {
        let waiters = unmountWaiters.withLock { state in
            state.outcome = outcome
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }

    /// Waits until the mount is gone and its last upload is done; answers with what `finishUnmount` says.
    private func waitForUnmount() async -> String {
        await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            let ready = unmountWaiters.withLock { state -> String? in
                if let outcome = state.outcome { return outcome }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Asks the service to unmount and return (signals, `mesa unmount`).
    func requestStop() {
        guard !stopFlag.exchange(true, ordering: .acquiringAndReleasing) else { return }
        stopRequested.withLock { continuation in
            continuation?.resume()
            continuation = nil
        }
    }

    private func waitForStop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = stopRequested.withLock { stored -> Bool in
                if stopFlag.load(ordering: .acquiring) { return true }
                stored = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    /// Repositories a mount follows with long polls at most; a larger org is polled instead (a long poll holds a
    /// connection).
    static let maximumWatched = 32
    /// How long one long poll may wait (below the client's 30 s stall timeout).
    static let watchWait = Duration.seconds(20)

    /// Follows each repository's revision; a move is applied and invalidated in the kernel. With a server that can
    /// hold a resolve (feature `resolve-wait`, docs/Protocol.md) and at most ``maximumWatched`` repositories, each
    /// repository has a long poll on a client of its own, so another mount's upload shows within a round trip;
    /// otherwise every repository is resolved again each poll interval. Also tells whether the server answers
    /// (`mesa status`'s `server_state`).
    private func follow(
        session: FuseSession, fetchers: [RepositoryPath: SyncRemoteFetcher], layout: MountLayout, org: String,
        afterChange: @escaping @Sendable () -> Void
    ) async {
        let watcher = Mesa(
            credentials: credential, org: org, baseURL: configuration.baseURL,
            configuration: Mesa.Configuration(
                retry: RetryPolicy(maxAttempts: 1), connectTimeout: .seconds(2),
                maxConnectionsPerHost: Self.maximumWatched))
        // Whether the server can hold a resolve; a mount started offline asks again once the server answers.
        var canWait = false
        if layout.repositories.count <= Self.maximumWatched, let first = layout.repositories.first {
            while !Task.isCancelled {
                do {
                    canWait = try await watcher.sync(first.path.name).capabilities().features.contains("resolve-wait")
                    break
                } catch {
                    guard case .transport = error else { break }
                    await sleepUnlessReconnected(for: configuration.pollInterval)
                }
            }
        }
        if canWait {
            await withTaskGroup(of: Void.self) { group in
                for repository in layout.repositories {
                    let sync = watcher.sync(repository.path.name)
                    group.addTask { await self.watch(repository, sync: sync, session: session, layout: layout, afterChange: afterChange) }
                }
            }
            return
        }
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.pollInterval)
            var moved = false
            for repository in layout.repositories {
                guard let fetcher = fetchers[repository.path] else { continue }
                if await check(repository, sync: fetcher.sync, wait: nil, session: session, layout: layout) == .moved {
                    moved = true
                }
            }
            if moved { afterChange() }
        }
    }

    /// One repository's long polls, until cancelled; after a failure it waits (the poll interval, growing to 30 s).
    private func watch(
        _ repository: MountLayout.Repository, sync: Mesa.Sync, session: FuseSession, layout: MountLayout,
        afterChange: () -> Void
    ) async {
        var failures = 0
        while !Task.isCancelled {
            switch await check(repository, sync: sync, wait: Self.watchWait, session: session, layout: layout) {
            case .moved:
                failures = 0
                afterChange()
            case .unchanged:
                failures = 0
            case .failed:
                failures += 1
                await sleepUnlessReconnected(for: min(configuration.pollInterval * failures, .seconds(30)))
            }
        }
    }

    private enum Check { case moved, unchanged, failed }

    /// Sleeps for `duration`, or less when the reconnect probe finds an unreachable server answering again.
    private func sleepUnlessReconnected(for duration: Duration) async {
        let seen = reconnected.load(ordering: .relaxed)
        let until = ContinuousClock.now + duration
        while ContinuousClock.now < until, reconnected.load(ordering: .relaxed) == seen, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// While the server cannot be reached or uploads back off, asks it every `MESA_RECONNECT_PROBE_MS` whether it
    /// answers (`whoami`, one attempt: any answer, even a refusal, means it is reachable). The moment an unreachable
    /// server answers again, pending edits upload and the watchers ask at once, instead of after their back-offs
    /// (up to 30 s): edits made offline arrive within a probe interval and an upload of the server coming back.
    private func probeWhileUnreachable(pipeline: UploadPipeline, org: String) async {
        let prober = Mesa(
            credentials: credential, org: org, baseURL: configuration.baseURL,
            configuration: Mesa.Configuration(
                retry: .never, connectTimeout: .seconds(1), requestTimeout: .seconds(2), maxConnectionsPerHost: 1))
        var unreachable = false
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.reconnectProbe)
            let backingOff = await pipeline.isBackingOff
            guard connectivity.isOffline || unreachable || backingOff else { continue }
            do {
                _ = try await prober.whoami()
            } catch {
                if case .transport = error {
                    connectivity.failed("\(error)")
                    unreachable = true
                    continue
                }
            }
            connectivity.succeeded()
            if unreachable {
                unreachable = false
                logger.info("the server answers again: pending edits upload now")
                reconnected.add(1, ordering: .relaxed)
                await pipeline.retryNow()
            }
        }
    }

    /// Resolves a repository's revision (holding the request up to `wait` while nothing moves) and applies a move.
    private func check(
        _ repository: MountLayout.Repository, sync: Mesa.Sync, wait: Duration?, conditional: Bool = true,
        session: FuseSession, layout: MountLayout
    ) async -> Check {
        do {
            let before = session.fs.currentResolution(of: repository.path)
            let result = try await sync.resolve([repository.revision.description], conditional: conditional, wait: wait)
            connectivity.succeeded()
            guard result.changed, let first = result.resolutions.first else { return .unchanged }
            let resolution = try SyncRemoteFetcher.resolution(first, revision: repository.revision)
            if let index = layout.index(of: repository.path), session.fs.hasLocalRoot(repository: index) {
                // Local nodes: moved only when every one is uploaded and no upload landed meanwhile; otherwise the
                // next upload merges (the server's answer then names the move).
                switch try await session.fs.adopt(
                    repository.path, resolution: resolution, covering: nil, ids: [:], expecting: before)
                {
                case .applied(let invalidation):
                    await session.invalidate(invalidation)
                    return before == resolution ? .unchanged : .moved
                case .pending:
                    return .unchanged
                case .stale:
                    // An upload landed while the answer was on its way: ask again at once, unconditionally.
                    return await check(
                        repository, sync: sync, wait: nil, conditional: false, session: session, layout: layout)
                }
            }
            _ = try await session.update(repository.path, to: resolution)
            return before == resolution ? .unchanged : .moved
        } catch {
            if case .transport = error as? KitError { connectivity.failed("\(error)") }
            logger.debug("poll failed", metadata: ["repo": "\(repository.path)", "error": "\(error)"])
            return .failed
        }
    }

    private func handle(
        _ request: ControlRequest, session: FuseSession, fs: MesaFS, cache: ContentStore,
        sources: [RepositoryPath: StoreObjectSource], pipeline: UploadPipeline, mesa: Mesa,
        defaultBookmarks: [Int: String]
    ) async -> ControlResponse {
        switch request.command {
        case "status":
            var details = [
                "mount_point": configuration.mountPoint,
                "repositories": sources.keys.map(\.description).sorted().joined(separator: ","),
                "server": configuration.baseURL, "pid": "\(getpid())",
            ]
            details["server_state"] = connectivity.description
            for index in fs.layout.repositories.indices {
                let path = fs.layout.repositories[index].path
                let pending = fs.pendingChanges(repository: index)
                let status = await pipeline.status(of: index)
                let resolution = fs.currentResolution(of: path)
                details["\(path).revision"] = fs.layout.repositories[index].revision.description.isEmpty
                    ? "default bookmark" : fs.layout.repositories[index].revision.description
                details["\(path).change_id"] = resolution.map { "\($0.change)" } ?? "not resolved yet"
                details["\(path).commit"] = resolution?.commit?.hex ?? "none"
                details["\(path).pending_files"] = "\(pending.files)"
                details["\(path).pending_bytes"] = "\(pending.bytes)"
                details["\(path).last_upload"] = status.lastUpload.map { ISO8601DateFormatter().string(from: $0) } ?? "never"
                details["\(path).last_error"] = status.lastError ?? "none"
                details["\(path).last_upload_bytes_sent"] = "\(status.lastBytesSent)"
                details["\(path).uploads"] = "\(status.uploads)"
                // Paths a merge left with conflict markers: edit them (remove the markers) and sync.
                details["\(path).conflicts"] = status.conflicts.map { $0.isEmpty ? "none" : $0.map(\.path).joined(separator: ",") } ?? "none"
            }
            return ControlResponse(ok: true, message: "mounted at \(configuration.mountPoint)", details: details)
        case "stats":
            let store = cache.stats()
            var totals = SourceStatistics()
            for source in sources.values {
                let statistics = source.statistics()
                totals.remoteRequests += statistics.remoteRequests
                totals.remoteRecords += statistics.remoteRecords
                totals.remoteBytes += statistics.remoteBytes
                totals.prefetches += statistics.prefetches
                totals.chunkMemoryHits += statistics.chunkMemoryHits
                totals.chunkStoreHits += statistics.chunkStoreHits
                totals.memoryBytes += statistics.memoryBytes
            }
            let fsStatistics = fs.statistics()
            return ControlResponse(
                ok: true, message: "statistics",
                details: [
                    "cache_hits": "\(store.hits)", "cache_misses": "\(store.misses)", "cache_bytes": "\(store.bytes)",
                    "cache_evictions": "\(store.evictions)", "memory_chunk_hits": "\(totals.chunkMemoryHits)",
                    "store_chunk_hits": "\(totals.chunkStoreHits)", "remote_requests": "\(totals.remoteRequests)",
                    "remote_records": "\(totals.remoteRecords)", "remote_bytes": "\(totals.remoteBytes)",
                    "prefetches": "\(totals.prefetches)", "memory_bytes": "\(totals.memoryBytes)",
                    "loaded_inodes": "\(fsStatistics.loadedInodes)", "open_handles": "\(fsStatistics.openHandles)",
                    "opens": "\(fsStatistics.opens)", "fuse_requests": "\(session.requestsReceived)",
                ])
        case "sync":
            var index: Int?
            if let name = request.repository {
                index = fs.layout.repositories.firstIndex {
                    $0.path.description == name || $0.path.name == name
                }
                guard index != nil else {
                    return ControlResponse(ok: false, message: "no repository \(name) in this mount", details: nil)
                }
            }
            let timeout = Duration.milliseconds(Int64((request.timeout ?? 300) * 1000))
            switch await pipeline.sync(repository: index, timeout: timeout) {
            case .success:
                return ControlResponse(ok: true, message: "every edit made before this sync is on the server", details: nil)
            case .failure(let failure):
                return ControlResponse(ok: false, message: failure.description, details: nil)
            }
        case "new", "describe":
            return await changeCommand(
                request, fs: fs, mesa: mesa, pipeline: pipeline, defaultBookmarks: defaultBookmarks)
        case "unmount":
            // The answer waits for the stopping mount's last upload (MESA_SHUTDOWN_SYNC_TIMEOUT) and the unmount, so a
            // script that tears the sandbox down after `mesa unmount` loses nothing the upload could take.
            requestStop()
            return ControlResponse(ok: true, message: await waitForUnmount(), details: nil)
        case "set-token":
            guard let token = request.token, !token.isEmpty else {
                return ControlResponse(ok: false, message: "set-token needs a token", details: nil)
            }
            credential.replace(with: token)
            // What the new credential may do: writes are accepted again only if it can push.
            let scopes: [Scope]
            do {
                scopes = try await mesa.whoami().scopes
            } catch {
                return ControlResponse(
                    ok: false, message: "the mount now uses the new credential, but the server did not accept it: \(error)",
                    details: nil)
            }
            let canWrite = scopes.allow(.write)
            fs.acceptWrites(canWrite)
            await pipeline.retryNow()
            return ControlResponse(
                ok: true,
                message: "the mount now uses the new credential"
                    + (canWrite ? "; pending edits upload now" : "; it is read-only, so writes are refused (EROFS)"),
                details: nil)
        default:
            return ControlResponse(ok: false, message: "unknown command '\(request.command)'", details: nil)
        }
    }

    /// `mesa new` (a change on top of the shown one, which the mount then shows: its bookmark moves to it) and
    /// `mesa describe` (the shown change's message). Both first upload every pending edit of the repository, so the
    /// edits belong to the change they were made in.
    private func changeCommand(
        _ request: ControlRequest, fs: MesaFS, mesa: Mesa, pipeline: UploadPipeline, defaultBookmarks: [Int: String]
    ) async -> ControlResponse {
        let indices = fs.layout.repositories.indices.filter { index in
            guard let name = request.repository else { return true }
            let path = fs.layout.repositories[index].path
            return path.description == name || path.name == name
        }
        guard indices.count == 1, let index = indices.first else {
            let message =
                indices.isEmpty
                ? "no repository \(request.repository ?? "") in this mount"
                : "this mount shows several repositories: name one with --repo"
            return ControlResponse(ok: false, message: message, details: nil)
        }
        let repository = fs.layout.repositories[index]
        if request.command == "describe", request.message == nil {
            return ControlResponse(ok: false, message: "describe needs a message (-m)", details: nil)
        }
        let bookmark: String
        switch repository.revision.kind {
        case .defaultBookmark: bookmark = defaultBookmarks[index] ?? "main"
        case .bookmark(let name): bookmark = name
        case .change:
            return ControlResponse(
                ok: false, message: "\(repository.path) shows a fixed change (MESA_REPO_REVS): mount a bookmark to use \(request.command)",
                details: nil)
        }
        if case .failure(let failure) = await pipeline.sync(repository: index, timeout: .seconds(300)) {
            return ControlResponse(ok: false, message: "pending edits could not be uploaded first: \(failure)", details: nil)
        }
        guard let current = fs.currentResolution(of: repository.path), !current.change.isRoot else {
            return ControlResponse(
                ok: false, message: "\(repository.path) has no change yet: write something first", details: nil)
        }
        do {
            let changes = mesa.changes(repository.path.name)
            let change: Change
            if request.command == "new" {
                change = try await changes.create(base: current.change.description, message: request.message)
                try await mesa.bookmarks(repository.path.name).move(bookmark, to: change.id)
            } else {
                change = try await changes.update(
                    current.change.description, UpdateChangeRequest(message: request.message))
            }
            guard let id = ChangeID(parsing: change.id), let commit = ObjectID(hex: change.currentCommitOID) else {
                return ControlResponse(ok: false, message: "the server answered a malformed change", details: nil)
            }
            try fs.rebase(
                repository.path,
                to: Resolution(
                    revision: repository.revision, change: id, commit: commit, rootTree: current.rootTree,
                    commitTime: Int64(Date().timeIntervalSince1970)))
            let verb = request.command == "new" ? "now on a new change" : "described"
            return ControlResponse(ok: true, message: "\(repository.path): \(verb) \(id)", details: ["change_id": "\(id)"])
        } catch {
            return ControlResponse(ok: false, message: "\(error)", details: nil)
        }
    }

    /// The mount's client settings: a read that needs the server fails soon when it cannot be reached (three
    /// attempts 100 to 400 ms apart, 2 s to connect) rather than hold a process in the kernel; uploads and polls
    /// retry on their own schedules.
    static let clientConfiguration = Mesa.Configuration(
        retry: RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(100), maxDelay: .milliseconds(400)),
        connectTimeout: .seconds(2))

    /// A clear message for a failure talking to the server.
    static func describe(_ error: any Error, baseURL: String) -> MountFailure {
        guard let error = error as? KitError else { return MountFailure(description: "\(error)") }
        switch error {
        case .transport:
            return MountFailure(description: "cannot reach the Mesa server at \(baseURL) (\(error)); check MESA_SERVICE_DOMAIN and the network")
        case .api(401, let code, let message, _):
            return MountFailure(description: "the credential was refused (\(code): \(message)); mint a fresh token or check MESA_API_KEY")
        case .api(403, let code, let message, _):
            return MountFailure(description: "the credential may not list this org's repositories (\(code): \(message))")
        default:
            return MountFailure(description: "\(error)")
        }
    }
}
