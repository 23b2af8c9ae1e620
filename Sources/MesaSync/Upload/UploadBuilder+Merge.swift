package import MesaCore
import MesaStore
package import MesaTree
package import MesaWire

// Reconciling an upload the server refused because its change moved (DESIGN.md section 5, "Offline and conflicts";
// docs/Architecture.md, "Reconciliation"). The refused upload's commit is "ours", the commit it was built on (the
// last one synced) the base, and the change's current commit on the server "theirs"; libgit2 merges the three trees
// (MesaRepository.merge, renames detected). Only what the merge reads is made local: the trees along the paths where
// the three differ, level by level (one request per level for what the cache lacks; the server's 409 already carried
// theirs), and the content of the files both sides changed, or that a rename could pair. The merged tree becomes a
// new commit of the change on top of theirs (their parents, author and message), carrying the conflicted paths; a
// conflicting file holds both sides between conflict markers (as the server's own merges write them), a file one side
// deleted and the other changed keeps the changed side.

/// A merge of a refused upload with the change's current commit, ready to send.
package struct MergedUpload: Sendable, Hashable {
    /// The merge commit as an upload: its base is theirs (the commit the push expects), its records the new ones.
    package var upload: BuiltUpload
    /// The conflicts, sorted by path bytes.
    package var conflicts: [Conflict]

    /// One conflicted path and how the working copy shows it.
    package struct Conflict: Sendable, Hashable {
        package var path: String
        /// The blob the merge left at the path (markers, or the surviving or our binary version).
        package var workingCopy: ObjectID?
        /// A binary conflict: the server's version is beside it (``UploadBuilder/serverCopy(of:)``).
        package var isBinary: Bool
    }

    /// The conflicted paths.
    package var paths: [String] { conflicts.map(\.path) }
}

extension UploadBuilder {
    /// Merges `ours` (a built upload the server refused) with the change's current commit `theirs`.
    /// - Parameters:
    ///   - material: the records the server's 409 carried (theirs and its trees along the changed paths).
    ///   - theirsTime: the commit time `theirs` shows (for the new base).
    /// - Returns: the merge, its records pinned until ``release(_:)`` of its upload.
    /// - Throws: ``SyncError/invalidArgument(_:)`` when `ours` has no base commit (a change the upload creates is
    ///   never merged), store, tree and remote failures.
    package func merge(
        _ ours: BuiltUpload, theirs: ObjectID, material: [SyncRecord], committer: MesaTree.Signature
    ) async throws(SyncError) -> MergedUpload {
        guard let baseCommit = ours.base.commit, !ours.createsChange else {
            throw .invalidArgument("only an evolution of an existing change can be merged")
        }
        let store = source.store
        try await source.pool.run { () throws(SyncError) in
            do throws(StoreError) {
                _ = try store.putStored(try material.map { record throws(StoreError) in try StoredRecord(record) })
            } catch {
                throw SyncError(error)
            }
        }
        var pinned: [RecordKey] = []
        do throws(SyncError) {
            try await ensureLocal([RecordKey(.commit, object: baseCommit), RecordKey(.commit, object: theirs)], pinned: &pinned)
            let repository = self.repository
            let (baseTree, theirCommit) = try await source.pool.run { () throws(SyncError) -> (ObjectID, MesaTree.Commit) in
                do throws(TreeError) {
                    return (try repository.commit(baseCommit).tree, try repository.commit(theirs))
                } catch {
                    throw SyncError(error)
                }
            }
            try await ensureMergeInputs(base: baseTree, ours: ours.rootTree, theirs: theirCommit.tree, pinned: &pinned)
            let merged = try await source.pool.run { () throws(SyncError) -> MergedUpload in
                do throws(TreeError) {
                    let result = try repository.merge(
                        base: baseTree, ours: ours.rootTree, theirs: theirCommit.tree, oursLabel: "mount",
                        theirsLabel: "server")
                    // A binary conflict keeps our version at its path and the server's beside it.
                    let sideBySide: [TreeEdit] = result.conflicts.compactMap { conflict in
                        guard conflict.isBinary, let theirs = conflict.theirs else { return nil }
                        return .upsert(path: Self.serverCopy(of: conflict.path), blob: theirs.id, mode: theirs.mode)
                    }
                    let tree = sideBySide.isEmpty ? result.tree : try repository.applying(sideBySide, to: result.tree)
                    let commit = try repository.createCommit(
                        tree: tree, parents: theirCommit.parents, author: theirCommit.author,
                        committer: committer, message: theirCommit.message, changeID: ours.change)
                    var keys = try Self.newRecords(of: tree, over: theirCommit.tree, repository: repository)
                    keys.append(RecordKey(.commit, object: commit))
                    try Self.pin(keys, in: repository.store)
                    let base = Resolution(
                        revision: ours.base.revision, change: ours.change, commit: theirs, rootTree: theirCommit.tree,
                        commitTime: theirCommit.committer.time)
                    return MergedUpload(
                        upload: BuiltUpload(base: base, change: ours.change, rootTree: tree, commit: commit, keys: keys),
                        conflicts: try result.conflicts.map { conflict throws(TreeError) in
                            MergedUpload.Conflict(
                                path: conflict.path, workingCopy: try? repository.entry(at: conflict.path, in: tree).id,
                                isBinary: conflict.isBinary)
                        })
                } catch {
                    throw SyncError(error)
                }
            }
            try await unpin(pinned)
            return merged
        } catch {
            try? await unpin(pinned)
            throw error
        }
    }

    /// Where a binary conflict puts the server's version: beside ours, `<name>~server`. Deleting it resolves the
    /// conflict (the pipeline's check).
    package static func serverCopy(of path: String) -> String { path + "~server" }

    /// Makes local what merging the three trees reads: the trees where they differ, level by level, then the content
    /// of files both sides changed and, when a side deleted files, that side's deleted and added files (rename
    /// candidates).
    private func ensureMergeInputs(
        base: ObjectID, ours: ObjectID, theirs: ObjectID, pinned: inout [RecordKey]
    ) async throws(SyncError) {
        var level: [[ObjectID?]] = [[base, ours, theirs]]
        var blobs = Set<ObjectID>()
        var deleted: [[ObjectID]] = [[], []]
        var added: [[ObjectID]] = [[], []]
        let repository = self.repository
        while !level.isEmpty {
            let trees = Set(level.flatMap { $0.compactMap { $0 } }).filter { $0 != TreeCodec.emptyTreeID }
            try await ensureLocal(trees.map { RecordKey(.tree, object: $0) }, pinned: &pinned)
            let current = level
            let step = try await source.pool.run { () throws(SyncError) -> MergeLevel in
                do throws(TreeError) {
                    return try Self.compare(current, repository: repository)
                } catch {
                    throw SyncError(error)
                }
            }
            level = step.next
            blobs.formUnion(step.bothChanged)
            for side in 0..<2 {
                deleted[side] += step.deleted[side]
                added[side] += step.added[side]
            }
        }
        for side in 0..<2 where !deleted[side].isEmpty {
            blobs.formUnion(deleted[side])
            blobs.formUnion(added[side])
        }
        let manifests = blobs.map { RecordKey(.manifest, object: $0) }
        try await ensureLocal(manifests, pinned: &pinned)
        let store = source.store
        let needed = blobs
        let chunks = try await source.pool.run { () throws(SyncError) -> [RecordKey] in
            do throws(StoreError) {
                var chunks = Set<RecordKey>()
                for blob in needed {
                    for chunk in try store.manifest(forBlob: blob).chunks { chunks.insert(RecordKey(chunk: chunk.id)) }
                }
                return Array(chunks)
            } catch {
                throw SyncError(error)
            }
        }
        try await ensureLocal(chunks, pinned: &pinned)
    }

    /// What one level of the three-way comparison found.
    private struct MergeLevel: Sendable {
        /// Triples (base, ours, theirs) of subtrees that differ, for the next level.
        var next: [[ObjectID?]] = []
        /// Blobs of files both sides changed, deletes included (every side's version).
        var bothChanged: [ObjectID] = []
        /// Per side (ours, theirs): base blobs of files it deleted, and blobs of files it added.
        var deleted: [[ObjectID]] = [[], []]
        var added: [[ObjectID]] = [[], []]
    }

    private static func compare(_ level: [[ObjectID?]], repository: MesaRepository) throws(TreeError) -> MergeLevel {
        var result = MergeLevel()
        for triple in level {
            let listings = try triple.map { id throws(TreeError) -> [String: TreeEntry] in
                guard let id else { return [:] }
                return Dictionary(try repository.tree(id).map { ($0.name, $0) }) { first, _ in first }
            }
            for name in Set(listings.flatMap(\.keys)) {
                let sides = listings.map { $0[name] }
                let (base, ours, theirs) = (sides[0], sides[1], sides[2])
                if base == ours, ours == theirs { continue }
                let directories = sides.map { $0?.mode == .directory ? $0?.id : nil }
                if directories.contains(where: { $0 != nil }), !(directories[0] == directories[1] && directories[1] == directories[2]) {
                    result.next.append(directories)
                }
                let files = sides.map { $0.flatMap { $0.mode.isBlob ? $0.id : nil } }
                // Both sides changed it (edits, an edit against a delete, two adds): every version may be read, to
                // merge the content or to keep the surviving side.
                if ours != base, theirs != base, ours != theirs {
                    result.bothChanged += files.compactMap { $0 }
                }
                for (index, side) in [files[1], files[2]].enumerated() {
                    if let removed = files[0], side == nil { result.deleted[index].append(removed) }
                    if files[0] == nil, let new = side { result.added[index].append(new) }
                }
            }
        }
        return result
    }

    /// The records of `tree` that `over` does not have along the paths where they differ: trees, and the manifests
    /// and chunks of files (those the server has are dropped by `have`).
    static func newRecords(of tree: ObjectID, over old: ObjectID?, repository: MesaRepository) throws(TreeError) -> [RecordKey] {
        var trees: [RecordKey] = []
        var blobs: [ObjectID] = []
        var work: [(ObjectID, ObjectID?)] = [(tree, old)]
        while let (new, previous) = work.popLast() {
            guard new != previous else { continue }
            trees.append(RecordKey(.tree, object: new))
            let before = try previous.map { id throws(TreeError) in
                Dictionary(try repository.tree(id).map { ($0.name, $0) }) { first, _ in first }
            } ?? [:]
            for entry in try repository.tree(new) where before[entry.name] != entry {
                let old = before[entry.name].flatMap { $0.mode == .directory ? $0.id : nil }
                if entry.mode == .directory {
                    work.append((entry.id, old))
                } else if entry.mode.isBlob {
                    blobs.append(entry.id)
                }
            }
        }
        var keys = UploadKeys()
        for blob in blobs {
            keys.add(blob: blob, manifest: try converting { () throws(StoreError) in try repository.store.manifest(forBlob: blob) })
        }
        // Trees deepest first (each after what it names), as a push needs them.
        return keys.chunks + keys.manifests + trees.reversed()
    }
}
