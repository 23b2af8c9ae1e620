package import MesaCore
import MesaStore
package import MesaTree

// Building an upload: a mount's dirty set becomes a new commit of the change it shows, in the local store, ready
// for have + push (DESIGN.md section 5, "Upload pipeline"; docs/Architecture.md, "Uploads").
//
// The cache is lazy: most trees and nearly all manifests of a mounted repository are not local, so the build must
// never walk the repository (no `records(reachableFrom:)`). It costs O(dirty x depth):
//
// 1. Validate every dirty path with the server's own rules (TreeValidator) before touching anything, so a path the
//    server would refuse fails the build naming it, and nothing is half built.
// 2. Make the base trees along the dirty paths local, level by level: one `objects` request per level for the
//    trees the cache lacks (all dirty paths at once), with the base commit and then its parents riding along. Those
//    records are pinned first (pins hold for keys not stored yet), so eviction cannot take them mid-build, and
//    unpinned at the end unless something else had pinned them.
// 3. Chunk and hash each new file (and each symlink target) into the store, pinned until the push is acknowledged.
// 4. One call to the tree editor, which rewrites only the trees along edited paths; the new trees are then found
//    by comparing new and base trees along the dirty paths only, deepest first.
// 5. One commit for the same change: an evolution, as `PATCH changes/{id}` makes it (the base commit's parents and
//    author, the caller's committer and message, the change-id header). A base at the virtual root starts a new
//    change on the root instead (the root cannot evolve).
//
// The result lists only records this build produced, in push order: chunks, manifests, trees bottom-up, the
// commit. Every one of them is pinned until ``UploadBuilder/release(_:)``.

/// An upload ready to send: a new commit of a change, its records in the local store (pinned), in push order.
package struct BuiltUpload: Sendable, Hashable {
    /// What the mount showed when the dirty set was taken: the change and commit the upload evolves.
    package var base: Resolution
    /// The change the new commit belongs to: the base's change, or a new change when the base is the virtual root.
    package var change: ChangeID
    /// The new root tree.
    package var rootTree: ObjectID
    /// The new commit.
    package var commit: ObjectID
    /// The records this build produced, in push order (chunks, manifests, trees deepest first, the commit); each is
    /// pinned in the store until ``UploadBuilder/release(_:)``.
    package var keys: [RecordKey]

    /// Whether the upload creates its change (the base is the virtual root) rather than evolving it.
    package var createsChange: Bool { base.change.isRoot }
}

/// Turns a dirty set into a ``BuiltUpload`` over a mount's ``StoreObjectSource``, in O(dirty x depth).
package struct UploadBuilder: Sendable {
    /// The mount's source: its store is where the upload's records go, its fetcher where missing base trees come
    /// from.
    package let source: StoreObjectSource
    /// The tree model over the source's store (tree editing and commits).
    let repository: MesaRepository

    /// Creates a builder.
    /// - Throws: ``SyncError/tree(_:)`` when libgit2 cannot be initialized.
    package init(source: StoreObjectSource) throws(SyncError) {
        self.source = source
        do throws(TreeError) {
            repository = try MesaRepository(store: source.store)
        } catch {
            throw SyncError(error)
        }
    }

    /// Builds a new commit of the change `base` shows, with `dirty` applied to its tree.
    ///
    /// - Parameters:
    ///   - base: the resolution the dirty set was made against.
    ///   - dirty: the paths that changed; each path at most once, and a file or symlink never above another
    ///     file or symlink of the set (deletes may sit anywhere: they apply first).
    ///   - message: the commit message.
    ///   - committer: who uploads, and when. The author stays the base commit's (an evolution), or is the committer
    ///     for a new change.
    /// - Returns: the upload; its records are pinned in the source's store until ``release(_:)``.
    /// - Throws: ``SyncError/invalidPath(path:failure:)`` for a path the server would refuse (nothing is stored);
    ///   ``SyncError/invalidArgument(_:)`` for an empty or inconsistent dirty set or an invalid signature;
    ///   ``SyncError/objectNotFound(_:)`` or ``SyncError/remote(operation:message:)`` when a base tree cannot be
    ///   fetched; store and tree failures.
    package func build(
        base: Resolution,
        dirty: [DirtyEntry],
        message: String,
        committer: Signature
    ) async throws(SyncError) -> BuiltUpload {
        let plan = try UploadPlan(dirty)
        do throws(TreeError) {
            try TreeValidator.check(signatureName: committer.name, email: committer.email, role: "committer")
        } catch {
            throw .invalidArgument("the committer cannot be uploaded: \(error)")
        }
        var basePins: [RecordKey] = []
        do throws(SyncError) {
            let baseTrees = try await loadBase(base, directories: plan.directories, pinned: &basePins)
            let result = try await write(plan, base: base, baseTrees: baseTrees, message: message, committer: committer)
            try await unpin(basePins)
            return result
        } catch {
            try? await unpin(basePins)
            throw error
        }
    }

    /// Unpins an upload's records once the server has acknowledged it (or once it is abandoned): they become
    /// ordinary cache content, evictable.
    package func release(_ upload: BuiltUpload) async throws(SyncError) {
        try await unpin(upload.keys)
    }

    func unpin(_ keys: [RecordKey]) async throws(SyncError) {
        guard !keys.isEmpty else { return }
        let store = source.store
        try await source.pool.run { () throws(SyncError) in
            do throws(StoreError) {
                try store.unpin(keys)
            } catch {
                throw SyncError(error)
            }
        }
    }

    // MARK: Base trees

    /// Makes the base commit, its parents and the base trees along `directories` local and pinned, one request per
    /// level for what the store lacks.
    /// - Parameter pinned: receives the keys this call pinned (to unpin after the build).
    /// - Returns: the base tree id of each directory in `directories` that exists in the base as a directory.
    func loadBase(
        _ base: Resolution,
        directories: Set<[FileName]>,
        pinned: inout [RecordKey]
    ) async throws(SyncError) -> [[FileName]: ObjectID] {
        var found: [[FileName]: ObjectID] = [:]
        var level: [[FileName]: ObjectID] = [:]
        if base.rootTree != TreeCodec.emptyTreeID { level[[]] = base.rootTree }
        var extra: [RecordKey] = base.commit.map { [RecordKey(.commit, object: $0)] } ?? []
        var depth = 0
        while !level.isEmpty || !extra.isEmpty {
            let keys = level.values.map { RecordKey(.tree, object: $0) } + extra
            try await ensureLocal(keys, pinned: &pinned)
            // The base commit's parents are needed for the new commit (libgit2 reads them): the next round. Only
            // theirs: history is never walked.
            extra = depth == 0 ? try await parentCommits(of: extra) : []
            var next: [[FileName]: ObjectID] = [:]
            for (path, id) in level {
                found[path] = id
                let children = directories.filter { $0.count == depth + 1 && Array($0.prefix(depth)) == path }
                guard !children.isEmpty else { continue }
                guard let tree = try await source.storedTree(id) else { throw .objectNotFound(RecordKey(.tree, object: id)) }
                for child in children {
                    guard let name = child.last, let entry = tree.entry(named: name), entry.kind == .directory else {
                        continue
                    }
                    next[child] = entry.id
                }
            }
            level = next
            depth += 1
        }
        return found
    }

    /// The parents of the commits among `keys` (all local by now) that are not local yet.
    private func parentCommits(of keys: [RecordKey]) async throws(SyncError) -> [RecordKey] {
        let commits = keys.filter { $0.kind == .commit }
        guard !commits.isEmpty else { return [] }
        let repository = self.repository
        return try await source.pool.run { () throws(SyncError) -> [RecordKey] in
            var parents: [RecordKey] = []
            do throws(TreeError) {
                for case let id? in commits.map(\.objectID) {
                    parents += try repository.commit(id).parents.map { RecordKey(.commit, object: $0) }
                }
            } catch {
                throw SyncError(error)
            }
            return parents
        }
    }

    /// Pins `keys` (those not pinned already, which `pinned` receives), then fetches the ones the store lacks in
    /// one request.
    func ensureLocal(_ keys: [RecordKey], pinned: inout [RecordKey]) async throws(SyncError) {
        guard !keys.isEmpty else { return }
        let store = source.store
        let (newlyPinned, missing) = try await source.pool.run {
            () throws(SyncError) -> ([RecordKey], [RecordKey]) in
            let fresh = keys.filter { !store.isPinned($0) }
            do throws(StoreError) {
                try store.pin(fresh)
            } catch {
                throw SyncError(error)
            }
            return (fresh, keys.filter { !store.contains($0) })
        }
        pinned += newlyPinned
        guard !missing.isEmpty else { return }
        guard let fetcher = source.fetcher else { throw .objectNotFound(missing[0]) }
        let summary = try await fetcher.fetchRecords(keys: missing, into: store)
        source.countRemote(summary)
        if let absent = missing.first(where: { !store.contains($0) }) { throw .objectNotFound(absent) }
    }

    // MARK: Writing

    /// Ingests the new content, edits the tree, writes the commit; on failure unpins what it pinned.
    private func write(
        _ plan: UploadPlan,
        base: Resolution,
        baseTrees: [[FileName]: ObjectID],
        message: String,
        committer: Signature
    ) async throws(SyncError) -> BuiltUpload {
        let repository = self.repository
        return try await source.pool.run { () throws(SyncError) -> BuiltUpload in
            var keys = UploadKeys()
            do throws(SyncError) {
                let result = try Self.write(
                    plan, base: base, baseTrees: baseTrees, message: message, committer: committer,
                    repository: repository, keys: &keys)
                return result
            } catch {
                try? repository.store.unpin(keys.ordered)
                throw error
            }
        }
    }

    /// The blocking part of the build (on a pool thread).
    private static func write(
        _ plan: UploadPlan,
        base: Resolution,
        baseTrees: [[FileName]: ObjectID],
        message: String,
        committer: Signature,
        repository: MesaRepository,
        keys: inout UploadKeys
    ) throws(SyncError) -> BuiltUpload {
        let store = repository.store
        do throws(TreeError) {
            // Content: chunks and manifests, pinned as they are stored.
            var blobs: [[FileName]: (ObjectID, FileMode)] = [:]
            for entry in plan.writes {
                switch entry.change {
                case .file(let contentPath, let executable):
                    let (blob, manifest) = try converting { () throws(StoreError) in
                        try store.ingestBlob(fileAt: contentPath, pinned: true)
                    }
                    keys.add(blob: blob, manifest: manifest)
                    blobs[entry.path] = (blob, executable ? .executable : .regular)
                case .symlink(let target):
                    let (blob, manifest) = try converting { () throws(StoreError) in
                        try Self.ingest(target, into: store)
                    }
                    keys.add(blob: blob, manifest: manifest)
                    blobs[entry.path] = (blob, .symlink)
                case .delete:
                    continue
                }
            }

            // Trees: deletes of what the base has first (a directory replaced by a file), then writes in path order.
            var edits: [TreeEdit] = []
            for path in plan.deletes {
                if try exists(path, in: baseTrees, repository: repository) {
                    edits.append(.delete(path: Self.text(path)))
                }
            }
            for entry in plan.writes {
                guard let blob = blobs[entry.path] else { continue }
                edits.append(.upsert(path: Self.text(entry.path), blob: blob.0, mode: blob.1))
            }
            let root = try repository.applying(edits, to: base.rootTree)
            let trees = try newTrees(root: root, plan: plan, baseTrees: baseTrees, repository: repository)
            try pin(trees, in: store)
            keys.trees = trees

            // The commit: an evolution of the base commit, or a new change on the root.
            let change = base.change.isRoot ? ChangeID.random() : base.change
            let old = try base.commit.map { id throws(TreeError) in try repository.commit(id) }
            let commit = try repository.createCommit(
                tree: root, parents: old?.parents ?? [], author: old?.author ?? committer, committer: committer,
                message: message, changeID: change)
            let commitKey = RecordKey(.commit, object: commit)
            try pin([commitKey], in: store)
            keys.commit = commitKey
            return BuiltUpload(base: base, change: change, rootTree: root, commit: commit, keys: keys.ordered)
        } catch {
            throw SyncError(error)
        }
    }

    /// Runs a store call, converting its error at this edge.
    static func converting<T>(_ body: () throws(StoreError) -> T) throws(TreeError) -> T {
        do throws(StoreError) {
            return try body()
        } catch {
            throw TreeError(error)
        }
    }

    static func pin(_ keys: [RecordKey], in store: ContentStore) throws(TreeError) {
        try converting { () throws(StoreError) in try store.pin(keys) }
    }

    /// Stores in-memory bytes (a symlink target) as a pinned blob: chunks, then the manifest under the blob id.
    static func ingest(_ bytes: [UInt8], into store: ContentStore) throws(StoreError) -> (ObjectID, Manifest) {
        var hasher = GitBlobHasher(size: Int64(bytes.count))
        bytes.withUnsafeBytes { hasher.update($0) }
        let blob = hasher.finalize()
        let manifest = try store.ingest(bytes: bytes, pinned: true)
        let key = RecordKey(.manifest, object: blob)
        try store.pin([key])
        _ = try store.put(manifest.encoded(), key: key)
        return (blob, manifest)
    }

    /// Whether `path` names an entry of the base (its parent directory was loaded, since it is in the plan's
    /// directories).
    private static func exists(
        _ path: [FileName], in baseTrees: [[FileName]: ObjectID], repository: MesaRepository
    ) throws(TreeError) -> Bool {
        guard let name = path.last, let parent = baseTrees[Array(path.dropLast())] else { return false }
        return try repository.tree(parent).contains { $0.name.utf8.elementsEqual(name.bytes) }
    }

    /// The trees of the new root that differ from the base along the dirty directories, deepest first.
    private static func newTrees(
        root: ObjectID,
        plan: UploadPlan,
        baseTrees: [[FileName]: ObjectID],
        repository: MesaRepository
    ) throws(TreeError) -> [RecordKey] {
        var newIDs: [[FileName]: ObjectID] = [[]: root]
        for path in plan.directories.sorted(by: { $0.count < $1.count }) where !path.isEmpty {
            guard let parent = newIDs[Array(path.dropLast())], let name = path.last else { continue }
            let entry = try repository.tree(parent).first { $0.name.utf8.elementsEqual(name.bytes) }
            if let entry, entry.mode == .directory { newIDs[path] = entry.id }
        }
        var seen = Set<ObjectID>()
        var trees: [RecordKey] = []
        for (path, id) in newIDs.sorted(by: { $0.key.count > $1.key.count }) where baseTrees[path] != id {
            if seen.insert(id).inserted { trees.append(RecordKey(.tree, object: id)) }
        }
        return trees
    }

    /// A validated path as the tree editor's text (every component is UTF-8 by now).
    private static func text(_ path: [FileName]) -> String {
        path.map(\.string).joined(separator: "/")
    }
}

/// The records a build produced, kept in push order.
struct UploadKeys {
    var chunks: [RecordKey] = []
    var manifests: [RecordKey] = []
    var trees: [RecordKey] = []
    var commit: RecordKey?
    private var seen = Set<RecordKey>()

    mutating func add(blob: ObjectID, manifest: Manifest) {
        for chunk in manifest.chunks {
            let key = RecordKey(chunk: chunk.id)
            if seen.insert(key).inserted { chunks.append(key) }
        }
        let key = RecordKey(.manifest, object: blob)
        if seen.insert(key).inserted { manifests.append(key) }
    }

    var ordered: [RecordKey] { chunks + manifests + trees + (commit.map { [$0] } ?? []) }
}

/// A dirty set, validated and put in the order the tree editor needs.
struct UploadPlan: Sendable {
    /// Files and symlinks, in path order.
    var writes: [DirtyEntry]
    /// Deleted paths, without those below another deleted path.
    var deletes: [[FileName]]
    /// Every directory the edits walk through (the parents of every dirty path, the root included).
    var directories: Set<[FileName]>

    init(_ dirty: [DirtyEntry]) throws(SyncError) {
        guard !dirty.isEmpty else { throw .invalidArgument("an upload needs at least one dirty path") }
        var seen = Set<[FileName]>()
        for entry in dirty {
            try Self.validate(entry)
            guard seen.insert(entry.path).inserted else {
                throw .invalidArgument("the dirty set names '\(entry.displayPath)' twice")
            }
        }
        writes = dirty.filter { $0.change != .delete }.sorted { $0.path.lexicographicallyPrecedes($1.path) }
        // A file or symlink above another one of the set is contradictory (a path cannot be both).
        for (upper, lower) in zip(writes, writes.dropFirst())
        where lower.path.count > upper.path.count && Array(lower.path.prefix(upper.path.count)) == upper.path {
            throw .invalidArgument(
                "the dirty set has both '\(upper.displayPath)' and '\(lower.displayPath)' as files")
        }
        let deleted = dirty.filter { $0.change == .delete }.map(\.path)
        let deletedSet = Set(deleted)
        deletes = deleted.filter { path in
            !(1..<max(path.count, 1)).contains { deletedSet.contains(Array(path.prefix($0))) }
        }.sorted { $0.lexicographicallyPrecedes($1) }
        var directories: Set<[FileName]> = [[]]
        for entry in dirty {
            for length in 1..<max(entry.path.count, 1) { directories.insert(Array(entry.path.prefix(length))) }
        }
        self.directories = directories
    }

    /// Checks a path against the server's rules: every name, the whole path's length and depth, and no git
    /// metadata file (`.gitmodules`, ...) as a symlink.
    static func validate(_ entry: DirtyEntry) throws(SyncError) {
        let display = entry.displayPath
        guard !entry.path.isEmpty else { throw .invalidArgument("a dirty path cannot be the repository's root") }
        do throws(TreeError) {
            var parent = ""
            for name in entry.path { parent = PathName.join(parent, try TreeValidator.name(name.bytes, parent: parent)) }
            _ = try TreeValidator.components(of: parent)
            if case .symlink = entry.change, let last = entry.path.last, TreeValidator.isGitMetadataName(last.string) {
                throw TreeError.invalid(
                    ValidationFailure(
                        .gitMetadataSymlink, at: parent, "'\(last.string)' as a symlink (git reads it from the work tree)"))
            }
        } catch {
            guard case .invalid(let failure) = error else { throw SyncError(error) }
            throw .invalidPath(path: display, failure: failure)
        }
    }
}
