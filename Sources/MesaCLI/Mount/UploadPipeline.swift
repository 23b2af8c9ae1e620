import Foundation
import Logging
import MesaCore
import MesaFS
import MesaKit
import MesaSync
import MesaTree
import MesaWire

// The upload pipeline of a writable mount (DESIGN.md section 5). It watches the filesystem's generation (every
// change stamps a new one); once changes have been quiet for `quiet`, or pending for `maxDelay`, or when `mesa sync`
// asks, it snapshots each repository's changed nodes, builds a new commit of the shown change from them
// (UploadBuilder: new content chunked into the store and pinned, trees along changed paths only), and sends it with
// one `have` and one streaming push (Uploader). A pushed snapshot is acknowledged in the journal; changes made
// during the upload carry newer generations and go in the next batch. A failed upload leaves everything in the
// journal and is retried with back-off; a conflict (the change moved on the server) is reported and kept.
//
// Lost answers. Each built commit is journaled (`SentPush`) before it is sent. When a push was applied but its answer
// never came (a dropped connection, a daemon killed mid-push), the next attempt is built again, with another commit,
// and the server answers a conflict naming the commit the lost push made. The pipeline finds that commit among its
// sent pushes: if it has the tree of the new snapshot, the snapshot is acknowledged with it ("already there"); if not
// (edits came after it), the repository's base moves to it and the snapshot is sent again on top, at once.

/// The uploads of one mount.
actor UploadPipeline {
    /// What `mesa status` shows of one repository's uploads.
    struct RepositoryStatus: Sendable {
        /// The generation the last acknowledged upload covered.
        var uploadedGeneration: Int64 = 0
        /// When the last upload was acknowledged.
        var lastUpload: Date?
        /// Why the last attempt failed, if it did.
        var lastError: String?
        /// Bytes the last upload sent.
        var lastBytesSent: Int64 = 0
        /// Uploads acknowledged this session.
        var uploads = 0
        /// The conflicts a merge left that no upload has resolved yet (known since this session's first merge; `nil`
        /// before: the server then resolves each conflicted path an upload changes).
        var conflicts: [MergedUpload.Conflict]?
    }

    private let fs: MesaFS
    private let mesa: Mesa
    private let defaultBookmarks: [Int: String]
    private let quiet: Duration
    private let maxDelay: Duration
    private let logger: Logger
    private let committer: (name: String, email: String)
    private let invalidate: @Sendable (Invalidation) async -> Void
    private var statuses: [Int: RepositoryStatus] = [:]
    private var lastSeen: Int64 = 0
    private var lastChange = ContinuousClock.now
    private var firstPending: ContinuousClock.Instant?
    private var syncRequested = false
    private var failures = 0
    private var retryAt: ContinuousClock.Instant?
    private var loop: Task<Void, Never>?

    init(
        fs: MesaFS, mesa: Mesa, defaultBookmarks: [Int: String], quiet: Duration, maxDelay: Duration,
        committer: (name: String, email: String), logger: Logger,
        invalidate: @escaping @Sendable (Invalidation) async -> Void
    ) {
        self.invalidate = invalidate
        self.fs = fs
        self.mesa = mesa
        self.defaultBookmarks = defaultBookmarks
        self.quiet = quiet
        self.maxDelay = maxDelay
        self.committer = committer
        self.logger = logger
        lastSeen = fs.generation
        for index in fs.layout.repositories.indices where fs.hasPendingChanges(repository: index) {
            firstPending = .now  // edits pending from an earlier session: upload them once quiet
        }
    }

    /// Starts watching.
    func start() {
        guard loop == nil else { return }
        loop = Task { await self.run() }
    }

    /// Stops watching (unmount); an upload in flight is cancelled and stays pending in the journal.
    func stop() {
        loop?.cancel()
        loop = nil
    }

    /// What a stopping mount could not upload, per repository (layout index): journaled files that stay in the state
    /// directory for the next mount.
    struct Leftover: Sendable, Equatable {
        /// The repository's layout index.
        var repository: Int
        /// Changed entries (files, symlinks, directories with additions or removals), and the files and bytes
        /// among them.
        var entries: Int
        var files: Int
        var bytes: Int64
        /// Why the last attempt failed, if one did.
        var lastError: String?
    }

    /// Uploads every pending edit at once (a stopping mount: SIGTERM, SIGINT, `mesa unmount`), retrying with the
    /// pipeline's back-off until nothing is pending or `timeout` passes, then stops watching. An upload still in
    /// flight at the deadline is cancelled and stays in the journal: only what the server acknowledged counts.
    /// - Returns: what stays pending (empty when every edit is on the server).
    func flush(timeout: Duration) async -> [Leftover] {
        let deadline = ContinuousClock.now + timeout
        let pending = { [fs] in fs.layout.repositories.indices.filter { fs.hasPendingChanges(repository: $0) } }
        if !pending().isEmpty, timeout > .zero {
            start()
            retryNow()
            while ContinuousClock.now < deadline, !pending().isEmpty {
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        // Cancelled, an upload in flight returns without acknowledging: its edits stay journaled.
        let running = loop
        stop()
        await running?.value
        return pending().map { index in
            let counts = fs.pendingChanges(repository: index)
            return Leftover(
                repository: index, entries: counts.nodes, files: counts.files, bytes: counts.bytes,
                lastError: statuses[index]?.lastError)
        }
    }

    private func run() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(50))
            let generation = fs.generation
            let now = ContinuousClock.now
            if generation != lastSeen {
                lastSeen = generation
                lastChange = now
                if firstPending == nil { firstPending = now }
            }
            guard let first = firstPending else { continue }
            let due = syncRequested || now - lastChange >= quiet || now - first >= maxDelay
            guard due else { continue }
            if let retryAt, now < retryAt, !syncRequested { continue }
            syncRequested = false
            let succeeded = await uploadAll()
            if succeeded {
                failures = 0
                retryAt = nil
                if fs.layout.repositories.indices.allSatisfy({ !fs.hasPendingChanges(repository: $0) }) {
                    firstPending = nil
                }
            } else {
                failures += 1
                retryAt = .now + .milliseconds(min(30_000, 250 << min(failures, 7)))
            }
        }
    }

    /// Uploads every repository with pending changes, one after another.
    /// - Returns: whether every one succeeded.
    private func uploadAll() async -> Bool {
        var succeeded = true
        for index in fs.layout.repositories.indices where fs.hasPendingChanges(repository: index) {
            if !(await upload(repository: index)) { succeeded = false }
        }
        return succeeded
    }

    /// Uploads one repository's pending changes, following a lost answer's commit at most a few times.
    private func upload(repository index: Int) async -> Bool {
        for _ in 0..<3 {
            switch await attempt(repository: index) {
            case .done: return true
            case .failed: return false
            case .again: continue
            case .settling:
                // Wait for quiet again (or a new maximum delay), without back-off and without an error.
                firstPending = .now
                lastChange = .now
                return true
            }
        }
        record(index, error: "the change kept moving to commits of earlier lost answers; trying again later")
        return false
    }

    /// `settling`: the build read files that were being written; no error, the next quiet period retries.
    private enum Attempt { case done, failed, again, settling }

    private func attempt(repository index: Int) async -> Attempt {
        guard let snapshot = fs.pendingUpload(repository: index) else { return .done }
        let repository = fs.layout.repositories[index]
        guard let source = repository.source as? StoreObjectSource else {
            record(index, error: "the repository's source cannot take uploads")
            return .failed
        }
        do {
            let builder = try UploadBuilder(source: source)
            let signature = MesaTree.Signature(name: committer.name, email: committer.email, time: Int64(Date().timeIntervalSince1970))
            let built: NodeUpload
            do {
                built = try await builder.build(base: snapshot.base, root: snapshot.root, message: nil, committer: signature)
            } catch {
                guard fs.generation != snapshot.generation else { throw error }
                // Written while it was read (a file that grew, shrank or went away under the build): not a failure,
                // the writes are newer than the snapshot. The next snapshot, once the writes are quiet, has them.
                logger.info(
                    "files changed while the upload read them; it waits for the writes to settle",
                    metadata: ["repo": "\(repository.path)", "error": "\(error)"])
                return .settling
            }
            defer { Task { try? await builder.release(built.upload) } }
            let uploader = Uploader(
                mesa: mesa, repo: repository.path.name, store: source.store,
                defaultBookmark: defaultBookmarks[index] ?? "main")
            let sent = SentPush(
                change: built.upload.change, commit: built.upload.commit, rootTree: built.upload.rootTree,
                commitTime: signature.time)
            let earlier = fs.sentPushes(repository: index)
            try fs.recordSent(sent, repository: index)
            let conflicts = try await remainingConflicts(index, in: built.upload, source: source)
            let report = try await uploader.send(built.upload, conflicts: conflicts)
            switch report.outcome {
            case .pushed(let commit):
                try acknowledge(snapshot, built: built, as: sent, commit: commit, bytesSent: report.bytesSent)
                if let conflicts {
                    statuses[index, default: RepositoryStatus()].conflicts =
                        statuses[index]?.conflicts?.filter { conflicts.remaining.contains($0.path) }
                }
                return .done
            case .conflict(let current, let bookmarkChange, let material):
                // A lost answer's commit: the change (or the bookmark an upload creating it wanted) is at a commit
                // this mount sent earlier.
                let landed = earlier.last { push in
                    if let current { return push.commit == current && push.change == built.upload.change }
                    return built.upload.createsChange && push.change == bookmarkChange
                }
                guard let landed else {
                    guard let current, !built.upload.createsChange else {
                        let now = current.map(\.hex) ?? bookmarkChange.map { "change \($0)" } ?? "none"
                        record(
                            index,
                            error: "the bookmark moved on the server (now at \(now)) before this mount created its "
                                + "change; the edits stay in the journal")
                        return .failed
                    }
                    return try await reconcile(
                        snapshot, built: built, builder: builder, uploader: uploader, theirs: current,
                        material: material, committer: signature)
                }
                if landed.rootTree == built.upload.rootTree {
                    logger.info(
                        "an earlier upload's answer was lost; it had landed with the same tree",
                        metadata: ["repo": "\(repository.path)", "commit": "\(landed.commit)"])
                    try acknowledge(snapshot, built: built, as: landed, commit: landed.commit, bytesSent: report.bytesSent)
                    return .done
                }
                logger.info(
                    "an earlier upload's answer was lost; it had landed, so the edits since go on top of it",
                    metadata: ["repo": "\(repository.path)", "commit": "\(landed.commit)"])
                try fs.rebase(
                    repository.path,
                    to: Resolution(
                        revision: snapshot.base.revision, change: landed.change, commit: landed.commit,
                        rootTree: landed.rootTree, commitTime: landed.commitTime))
                return .again
            }
        } catch {
            record(index, error: Self.explain(error))
            return .failed
        }
    }

    /// Merges a refused snapshot with the change's current commit on the server (three ways, base = the commit the
    /// snapshot was built on), pushes the merge, and moves the repository to it (``MesaFS/adopt(_:resolution:covering:ids:)``):
    /// the working copy then shows the server's edits too, and conflicting files both sides between markers.
    private func reconcile(
        _ snapshot: LocalUpload, built: NodeUpload, builder: UploadBuilder, uploader: Uploader, theirs: ObjectID,
        material: [SyncRecord], committer signature: MesaTree.Signature
    ) async throws -> Attempt {
        let index = snapshot.repository
        let repository = fs.layout.repositories[index]
        let merged = try await builder.merge(built.upload, theirs: theirs, material: material, committer: signature)
        defer { Task { try? await builder.release(merged.upload) } }
        let report = try await uploader.send(merged.upload, conflicts: (merged.paths, []))
        guard case .pushed(let commit) = report.outcome else { return .again }  // moved again meanwhile
        let resolution = Resolution(
            revision: snapshot.base.revision, change: merged.upload.change, commit: commit,
            rootTree: merged.upload.rootTree, commitTime: signature.time)
        if case .applied(let invalidation) = try await fs.adopt(
            repository.path, resolution: resolution, covering: snapshot, ids: built.ids)
        {
            await invalidate(invalidation)
        }
        var status = statuses[index, default: RepositoryStatus()]
        status.uploadedGeneration = snapshot.generation
        status.lastUpload = Date()
        status.lastError = nil
        status.lastBytesSent = report.bytesSent
        status.uploads += 1
        status.conflicts = merged.conflicts
        statuses[index] = status
        logger.info(
            "merged with the server's edits",
            metadata: [
                "repo": "\(repository.path)", "theirs": "\(theirs)", "commit": "\(commit)",
                "conflicts": "\(merged.paths.joined(separator: ","))",
            ])
        return .done
    }

    /// The known conflicts `upload` leaves unresolved, and the others; `nil` when none are known. A conflict is
    /// resolved when its path is gone, or for a binary one when the server's copy beside it is gone; otherwise
    /// it lasts while the file is as the merge left it or still has a conflict marker line (a file that cannot be
    /// read counts as unresolved).
    private func remainingConflicts(
        _ index: Int, in upload: BuiltUpload, source: StoreObjectSource
    ) async throws -> (remaining: [String], resolved: [String])? {
        guard let known = statuses[index]?.conflicts else { return nil }
        guard !known.isEmpty else { return ([], []) }
        let repository = try MesaRepository(store: source.store)
        let root = upload.rootTree
        let remaining = try await BlockingPool.shared.run { () throws(SyncError) -> [String] in
            known.filter { conflict in
                guard let entry = try? repository.entry(at: conflict.path, in: root) else { return false }
                if conflict.isBinary {
                    return (try? repository.entry(at: UploadBuilder.serverCopy(of: conflict.path), in: root)) != nil
                }
                if entry.id == conflict.workingCopy { return true }
                guard entry.mode.isBlob, let bytes = try? repository.readBlob(entry.id) else { return true }
                return Self.hasConflictMarkers(bytes)
            }.map(\.path)
        }
        return (remaining, known.map(\.path).filter { !remaining.contains($0) })
    }

    /// Whether text has a line that opens a conflict (`<<<<<<< `) followed by a line that closes one (`>>>>>>> `).
    static func hasConflictMarkers(_ bytes: [UInt8]) -> Bool {
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard let open = lines.firstIndex(where: { $0.starts(with: Array("<<<<<<< ".utf8)) }) else { return false }
        return lines[open...].contains { $0.starts(with: Array(">>>>>>> ".utf8)) }
    }

    /// What a failed upload's error means for the user, and what to do about a refused credential.
    static func explain(_ error: any Error) -> String {
        if let error = error as? SyncError, case .pushRefused(let status?, _, let message) = error {
            switch status {
            case 401:
                return "the server refused the credential (expired or revoked: \(message)); every edit stays in the "
                    + "journal: give the mount a fresh token with `mesa auth set-token TOKEN`"
            case 403:
                return "the credential may not write to this repository (\(message)); every edit stays in the journal: "
                    + "give the mount a token with write scope with `mesa auth set-token TOKEN`"
            default:
                break
            }
        }
        return "\(error)"
    }

    /// Whether a failed upload waits for its back-off to pass.
    var isBackingOff: Bool { retryAt.map { ContinuousClock.now < $0 } ?? false }

    /// Uploads pending edits now (a new credential, a server that answers again), whatever the back-off.
    func retryNow() {
        retryAt = nil
        failures = 0
        if fs.layout.repositories.indices.contains(where: { fs.hasPendingChanges(repository: $0) }) {
            syncRequested = true
            if firstPending == nil { firstPending = .now }
        }
    }

    /// Marks a snapshot uploaded as `commit` (of `push`'s change and tree) and updates the status.
    private func acknowledge(
        _ snapshot: LocalUpload, built: NodeUpload, as push: SentPush, commit: ObjectID, bytesSent: Int64
    ) throws {
        try fs.acknowledge(
            snapshot, ids: built.ids, change: push.change, commit: commit, rootTree: push.rootTree,
            commitTime: push.commitTime)
        let index = snapshot.repository
        var status = statuses[index, default: RepositoryStatus()]
        status.uploadedGeneration = snapshot.generation
        status.lastUpload = Date()
        status.lastError = nil
        status.lastBytesSent = bytesSent
        status.uploads += 1
        statuses[index] = status
        logger.info(
            "uploaded",
            metadata: [
                "repo": "\(fs.layout.repositories[index].path)", "commit": "\(commit)", "files": "\(snapshot.files)",
                "bytes_sent": "\(bytesSent)",
            ])
    }

    private func record(_ index: Int, error: String) {
        statuses[index, default: RepositoryStatus()].lastError = error
        logger.warning("upload failed", metadata: ["repo": "\(fs.layout.repositories[index].path)", "error": "\(error)"])
    }

    /// Waits until every change made before this call is on the server (uploading at once), or fails with the
    /// reason: a repository's upload failed, or `timeout` passed.
    /// - Parameter repository: only this repository (layout index), or all.
    func sync(repository: Int?, timeout: Duration) async -> Result<Void, MountFailure> {
        let target = fs.generation
        let indices = repository.map { [$0] } ?? Array(fs.layout.repositories.indices)
        let waiting = indices.filter { fs.hasPendingChanges(repository: $0) }
        guard !waiting.isEmpty else { return .success(()) }
        for index in waiting { statuses[index, default: RepositoryStatus()].lastError = nil }
        syncRequested = true
        if firstPending == nil { firstPending = .now }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let remaining = waiting.filter { (statuses[$0]?.uploadedGeneration ?? 0) < target }
            if remaining.isEmpty { return .success(()) }
            for index in remaining {
                if let error = statuses[index]?.lastError {
                    return .failure(MountFailure(description: "\(fs.layout.repositories[index].path): \(error)"))
                }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return .failure(MountFailure(description: "not every edit was uploaded within \(timeout); they stay pending"))
    }

    /// A repository's upload status.
    func status(of index: Int) -> RepositoryStatus { statuses[index] ?? RepositoryStatus() }
}
