import CGit2
package import MesaCore
import MesaStore

extension MesaRepository {
    /// Reads and parses a commit.
    /// - Throws: ``TreeError/objectNotFound(_:)``, ``TreeError/corruptObject(_:reason:)``.
    package func commit(_ id: ObjectID) throws(TreeError) -> Commit {
        let body: [UInt8]
        do throws(StoreError) {
            body = try store.get(RecordKey(.commit, object: id))
        } catch {
            throw TreeError(error)
        }
        return try Commit(id: id, body: body)
    }

    /// The raw bytes of a commit object, as git stores them (after the `commit <size>\0` header).
    package func commitBytes(_ id: ObjectID) throws(TreeError) -> [UInt8] {
        do throws(StoreError) {
            return try store.get(RecordKey(.commit, object: id))
        } catch {
            throw TreeError(error)
        }
    }

    /// The root tree of a commit, or the id itself when it names a tree.
    /// - Throws: ``TreeError/objectNotFound(_:)`` when it is neither.
    package func rootTree(of id: ObjectID) throws(TreeError) -> ObjectID {
        if id == TreeCodec.emptyTreeID || store.contains(RecordKey(.tree, object: id)) { return id }
        if store.contains(RecordKey(.commit, object: id)) { return try commit(id).tree }
        throw .objectNotFound(id)
    }

    /// Creates a commit with libgit2 and stores it.
    ///
    /// The buffer comes from `git_commit_create_buffer`; when `changeID` is given, a `change-id <id>` header line is
    /// inserted right after the `committer` line (`git_commit_create` cannot add headers), and the result is
    /// written with `git_odb_write`, which hashes it and hands it to the store backend.
    /// - Parameters:
    ///   - tree: the root tree (must be in the store).
    ///   - parents: parent commits (must be in the store).
    /// - Returns: the new commit's id.
    package func createCommit(
        tree: ObjectID,
        parents: [ObjectID],
        author: Signature,
        committer: Signature,
        message: String,
        changeID: ChangeID?
    ) throws(TreeError) -> ObjectID {
        if tree == TreeCodec.emptyTreeID { _ = try storeTree(body: []) }
        return try git.withHandle { (handle) throws(TreeError) -> ObjectID in
            let treeObject = try handle.lookupTree(tree)
            defer { git_tree_free(treeObject) }
            var parentObjects: [OpaquePointer?] = []
            defer { for parent in parentObjects { git_commit_free(parent) } }
            for parent in parents { parentObjects.append(try handle.lookupCommit(parent)) }
            let authorSignature = try Self.gitSignature(author)
            defer { git_signature_free(authorSignature) }
            let committerSignature = try Self.gitSignature(committer)
            defer { git_signature_free(committerSignature) }

            var buffer = git_buf()
            defer { git_buf_dispose(&buffer) }
            // SAFETY: the array of commit pointers lives for the call; libgit2 only reads it.
            let created = parentObjects.withUnsafeMutableBufferPointer { parentArray in
                git_commit_create_buffer(
                    &buffer, handle.repository, authorSignature, committerSignature, nil, message, treeObject,
                    parentArray.count, parentArray.baseAddress)
            }
            try GitError.check(created, operation: "git_commit_create_buffer")
            // SAFETY: libgit2 filled `buffer` with `size` bytes; they are copied before the deferred dispose.
            var bytes = Array(UnsafeRawBufferPointer(start: buffer.ptr, count: buffer.size))
            if let changeID { bytes = try Self.inserting(changeID, into: bytes) }

            var oid = git_oid()
            let written = bytes.withUnsafeBytes { raw in
                git_odb_write(&oid, handle.odb, raw.baseAddress, raw.count, GIT_OBJECT_COMMIT)
            }
            try GitError.check(written, operation: "git_odb_write")
            return ObjectID(oid)
        }
    }

    /// A libgit2 signature (`git_signature_new`); the caller frees it with `git_signature_free`.
    private static func gitSignature(_ signature: Signature) throws(TreeError) -> UnsafeMutablePointer<git_signature> {
        var result: UnsafeMutablePointer<git_signature>?
        let code = git_signature_new(
            &result, signature.name, signature.email, git_time_t(signature.time), Int32(signature.offsetMinutes))
        try GitError.check(code, operation: "git_signature_new")
        guard let result else { throw .invalidArgument("git_signature_new returned no signature") }
        return result
    }

    /// Inserts `change-id <id>\n` after the `committer` line of a commit buffer.
    static func inserting(_ changeID: ChangeID, into commit: [UInt8]) throws(TreeError) -> [UInt8] {
        let marker = Array("\ncommitter ".utf8)
        var index = 0
        while index + marker.count <= commit.count {
            if commit[index] == marker[0], Array(commit[index..<index + marker.count]) == marker {
                guard let end = commit[(index + 1)...].firstIndex(of: 10) else { break }
                var result = Array(commit[...end])
                result += Array("change-id \(changeID)\n".utf8)
                result += commit[(end + 1)...]
                return result
            }
            index += 1
        }
        throw .invalidArgument("the commit buffer libgit2 made has no committer line")
    }
}

extension MesaRepository {
    /// The catalog row of a change; `nil` for the virtual root.
    /// - Throws: ``TreeError/changeNotFound(_:)`` for an unknown change.
    package func change(_ id: ChangeID) throws(TreeError) -> ChangeRecord? {
        if id.isRoot { return nil }
        guard let record = try catalog.change(id) else { throw .changeNotFound(id) }
        return record
    }

    /// The root tree of a change's current commit (the empty tree for the virtual root).
    package func tree(ofChange id: ChangeID) throws(TreeError) -> ObjectID {
        guard let record = try change(id) else { return TreeCodec.emptyTreeID }
        return try commit(record.commit).tree
    }

    /// Creates a change: a new commit whose tree is the first parent's tree with `edits` applied.
    /// - Parameters:
    ///   - parents: parent changes (``ChangeID/root`` or none for a first change).
    ///   - edits: path edits applied to the first parent's tree.
    ///   - id: the new change id (random by default).
    /// - Returns: the new change's catalog row.
    package func createChange(
        parents: [ChangeID],
        edits: [TreeEdit],
        message: String,
        author: Signature,
        committer: Signature? = nil,
        id: ChangeID = .random()
    ) throws(TreeError) -> ChangeRecord {
        let base = try tree(ofChange: parents.first ?? .root)
        let tree = try applying(edits, to: base)
        var parentCommits: [ObjectID] = []
        for parent in parents where !parent.isRoot {
            guard let record = try change(parent) else { continue }
            parentCommits.append(record.commit)
        }
        let commit = try createCommit(
            tree: tree, parents: parentCommits, author: author, committer: committer ?? author, message: message,
            changeID: id)
        let record = ChangeRecord(id: id, commit: commit, parents: parents.isEmpty ? [.root] : parents)
        try catalog.putChange(record, expected: .absent)
        return record
    }

    /// Evolves a change: a new commit with the same change id and parents, the current tree plus `edits`.
    /// - Parameters:
    ///   - expectedCommit: the commit the caller last saw; `nil` accepts the current one. Either way the catalog
    ///     update is compare-and-swap, so a concurrent evolution makes this throw.
    ///   - message: the new message, or `nil` to keep the current one.
    /// - Throws: ``TreeError/staleChange(_:expected:current:)`` when the change moved.
    package func evolveChange(
        _ id: ChangeID,
        edits: [TreeEdit],
        message: String? = nil,
        committer: Signature,
        expectedCommit: ObjectID? = nil
    ) throws(TreeError) -> ChangeRecord {
        guard let current = try change(id) else { throw .invalidArgument("the virtual root cannot evolve") }
        if let expectedCommit, expectedCommit != current.commit {
            throw .staleChange(id, expected: expectedCommit, current: current.commit)
        }
        let old = try commit(current.commit)
        let tree = try applying(edits, to: old.tree)
        let commit = try createCommit(
            tree: tree, parents: old.parents, author: old.author, committer: committer,
            message: message ?? old.message, changeID: id)
        let record = ChangeRecord(id: id, commit: commit, parents: current.parents)
        try catalog.putChange(record, expected: .equal(current.commit))
        return record
    }

    /// Creates or moves a bookmark to an existing change (or the virtual root).
    package func setBookmark(
        _ name: String,
        to change: ChangeID,
        expected: Expectation<ChangeID> = .any
    ) throws(TreeError) {
        guard !name.isEmpty, !name.contains("\0") else { throw .invalidArgument("bad bookmark name '\(name)'") }
        _ = try self.change(change)
        try catalog.putBookmark(Bookmark(name: name, change: change), expected: expected)
    }

    /// The change a bookmark points at.
    /// - Throws: ``TreeError/bookmarkNotFound(_:)``.
    package func resolveBookmark(_ name: String) throws(TreeError) -> ChangeID {
        guard let bookmark = try catalog.bookmark(named: name) else { throw .bookmarkNotFound(name) }
        return bookmark.change
    }
}
