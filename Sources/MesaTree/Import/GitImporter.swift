import CGit2
package import MesaCore
import MesaStore

// Import of a local git repository into the store.
//
// The source is opened with `git_repository_open` on a handle private to the call (so no lock is needed: one thread
// uses it). Commits are visited oldest first (`git_revwalk`, topological and reversed) and every object is copied
// children first: blobs, then subtrees, then the tree, then the commit. A record that is present therefore implies
// that everything below it is present too, so the walk skips whole subtrees (and whole histories) already imported,
// and a second import writes nothing. Trees, commits and tags are copied byte for byte, so their ids and
// signatures are preserved; blobs are chunked into the store and their manifests keyed by the blob id. Every commit
// and tree is checked by TreeValidator (names, modes, order, depth, signatures) before anything of it is stored, so
// a repository the server would refuse fails here first, naming the path and the rule.

/// A commit an import visited, with its parents.
package struct ImportedCommit: Sendable, Hashable {
    package var id: ObjectID
    package var parents: [ObjectID]
}

/// What an import did.
package struct ImportReport: Sendable, Hashable {
    /// The branch's tip commit.
    package var tip: ObjectID
    /// The tip's (derived) change id.
    package var tipChange: ChangeID
    /// The branch imported (the bookmark created or moved), e.g. `main`.
    package var branch: String
    /// Commits visited.
    package var commits: Int
    /// Commits newly stored.
    package var newCommits: Int
    /// Trees newly stored.
    package var newTrees: Int
    /// Blobs newly stored (as manifests).
    package var newBlobs: Int
    /// Bytes of newly stored blob content (before chunk deduplication and compression).
    package var newBlobBytes: Int64
}

extension MesaRepository {
    /// Imports one branch of a local git repository: its whole history, or with `tipOnly` only the tip commit and
    /// its tree. Each commit becomes a change whose id is derived from the commit id
    /// (``ChangeID/init(importedCommit:)``), and a bookmark named after the branch points at the tip's change.
    /// - Parameters:
    ///   - path: the repository (working tree or bare `.git` directory).
    ///   - branch: the branch name; `nil` for the branch `HEAD` points at.
    /// - Throws: ``TreeError/invalid(_:)`` naming the first name, tree or commit the validator refuses; libgit2 errors for an
    ///   unreadable repository or unknown branch.
    @discardableResult
    package func importGit(
        repositoryAt path: String,
        branch: String? = nil,
        tipOnly: Bool = false
    ) throws(TreeError) -> ImportReport {
        let (report, commits) = try importGitObjects(repositoryAt: path, branch: branch, tipOnly: tipOnly)
        for commit in commits {
            let parents = commit.parents.map { ChangeID(importedCommit: $0) }
            let record = ChangeRecord(
                id: ChangeID(importedCommit: commit.id), commit: commit.id,
                parents: parents.isEmpty ? [.root] : parents)
            try catalog.putChange(record, expected: .any)
        }
        try catalog.putBookmark(Bookmark(name: report.branch, change: report.tipChange), expected: .any)
        return report
    }

    /// The object half of ``importGit(repositoryAt:branch:tipOnly:)``: stores what the store lacks of a branch's
    /// history (children first, each commit and tree checked by ``TreeValidator``) and leaves the catalog alone, so a
    /// caller with its own rules for changes and bookmarks (the server's upstream pull) decides what they become.
    /// - Returns: the report, and every commit visited with its parents, parents before children.
    /// - Throws: as ``importGit(repositoryAt:branch:tipOnly:)``.
    package func importGitObjects(
        repositoryAt path: String,
        branch: String? = nil,
        tipOnly: Bool = false
    ) throws(TreeError) -> (report: ImportReport, commits: [ImportedCommit]) {
        try GitRuntime.ensureInitialized()
        let source = try GitSource(path: path)
        let (tip, branchName) = try source.resolve(branch: branch)
        let commits = tipOnly ? [tip] : try source.history(from: tip)
        var report = ImportReport(
            tip: tip, tipChange: ChangeID(importedCommit: tip), branch: branchName, commits: commits.count,
            newCommits: 0, newTrees: 0, newBlobs: 0, newBlobBytes: 0)
        var shapes: [ObjectID: TreeShape] = [:]
        var visited: [ImportedCommit] = []
        for id in commits {
            let key = RecordKey(.commit, object: id)
            let body = try source.read(id, expecting: GIT_OBJECT_COMMIT)
            let commit = try TreeValidator.commit(body, id: id)
            if !store.contains(key) {
                _ = try importTree(commit.tree, path: "", depth: 0, from: source, report: &report, shapes: &shapes)
                try put(body, key: key)
                report.newCommits += 1
            }
            visited.append(ImportedCommit(id: id, parents: commit.parents))
        }
        return (report, visited)
    }

    /// The tip commit and short name of a branch of a local git repository, without importing anything (a cheap
    /// check before an import: is the remote already there?).
    /// - Parameter branch: the branch name; `nil` for the branch `HEAD` points at (`HEAD` itself when detached).
    /// - Throws: libgit2 errors for an unreadable repository or unknown branch, as ``importGit(repositoryAt:branch:tipOnly:)``.
    package static func gitBranchTip(repositoryAt path: String, branch: String? = nil) throws(TreeError)
        -> (tip: ObjectID, branch: String)
    {
        try GitRuntime.ensureInitialized()
        return try GitSource(path: path).resolve(branch: branch)
    }

    /// Copies a tree and everything below it that the store lacks, children first, each tree checked by
    /// ``TreeValidator`` before anything of it is stored.
    /// - Returns: the tree's shape (for its parent's depth and length checks).
    private func importTree(
        _ id: ObjectID,
        path: String,
        depth: Int,
        from source: GitSource,
        report: inout ImportReport,
        shapes: inout [ObjectID: TreeShape]
    ) throws(TreeError) -> TreeShape {
        if let known = shapes[id] { return known }
        guard depth <= TreeValidator.maxDepth else {
            throw .invalid(
                ValidationFailure(.pathTooDeep, at: path, "a path of more than \(TreeValidator.maxDepth) components"))
        }
        let key = RecordKey(.tree, object: id)
        if store.contains(key) {
            let shape = try self.shape(ofTree: id, memo: &shapes)
            try TreeValidator.check(shape: shape, at: path.isEmpty ? "tree \(id.hex)" : path)
            return shape
        }
        let body = try source.read(id, expecting: GIT_OBJECT_TREE)
        let tree = try TreeValidator.tree(body, id: id, path: path) { (child, childPath) throws(TreeError) in
            try importTree(child, path: childPath, depth: depth + 1, from: source, report: &report, shapes: &shapes)
        }
        for entry in tree.entries where entry.mode.isBlob {
            let manifestKey = RecordKey(.manifest, object: entry.id)
            // A claimed manifest is written again: the importer's own (git's id of the content) settles the claim.
            if store.contains(manifestKey), !store.isClaimed(manifestKey) { continue }
            let content = try source.read(entry.id, expecting: GIT_OBJECT_BLOB)
            do throws(StoreError) {
                let manifest = try store.ingest(bytes: content)
                try store.put(manifest.encoded(), key: manifestKey)
            } catch {
                throw TreeError(error)
            }
            report.newBlobs += 1
            report.newBlobBytes += Int64(content.count)
        }
        // A gitlink (submodule) names a commit of another repository: there is nothing of ours to copy.
        try put(body, key: key)
        report.newTrees += 1
        shapes[id] = tree.shape
        return tree.shape
    }

    private func put(_ body: [UInt8], key: RecordKey) throws(TreeError) {
        do throws(StoreError) {
            try store.put(body, key: key)
        } catch {
            throw TreeError(error)
        }
    }
}

/// A source repository opened for import; freed in `deinit`. Used by one thread (the importing call).
private final class GitSource {
    let repository: OpaquePointer
    let odb: OpaquePointer

    init(path: String) throws(TreeError) {
        var repository: OpaquePointer?
        try GitError.check(git_repository_open(&repository, path), operation: "git_repository_open")
        guard let repository else { throw .invalidArgument("git_repository_open returned no repository") }
        var odb: OpaquePointer?
        let code = git_repository_odb(&odb, repository)
        do {
            try GitError.check(code, operation: "git_repository_odb")
        } catch {
            git_repository_free(repository)
            throw error
        }
        guard let odb else {
            git_repository_free(repository)
            throw .invalidArgument("git_repository_odb returned no database")
        }
        self.repository = repository
        self.odb = odb
    }

    deinit {
        git_odb_free(odb)
        git_repository_free(repository)
    }

    /// The tip commit and the branch's short name.
    func resolve(branch: String?) throws(TreeError) -> (ObjectID, String) {
        var oid = git_oid()
        if let branch {
            let full = branch.hasPrefix("refs/") ? branch : "refs/heads/" + branch
            try GitError.check(git_reference_name_to_id(&oid, repository, full), operation: "git_reference_name_to_id")
            return (ObjectID(oid), branch.hasPrefix("refs/heads/") ? String(branch.dropFirst(11)) : branch)
        }
        var head: OpaquePointer?
        try GitError.check(git_repository_head(&head, repository), operation: "git_repository_head")
        defer { git_reference_free(head) }
        let name = git_reference_shorthand(head).map { String(cString: $0) } ?? "HEAD"
        try GitError.check(git_reference_name_to_id(&oid, repository, "HEAD"), operation: "git_reference_name_to_id")
        return (ObjectID(oid), name)
    }

    /// Every commit reachable from `tip`, parents before children.
    func history(from tip: ObjectID) throws(TreeError) -> [ObjectID] {
        var walk: OpaquePointer?
        try GitError.check(git_revwalk_new(&walk, repository), operation: "git_revwalk_new")
        defer { git_revwalk_free(walk) }
        try GitError.check(
            git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL.rawValue | GIT_SORT_REVERSE.rawValue),
            operation: "git_revwalk_sorting")
        var start = tip.gitOID
        try GitError.check(git_revwalk_push(walk, &start), operation: "git_revwalk_push")
        var commits: [ObjectID] = []
        var oid = git_oid()
        while true {
            let code = git_revwalk_next(&oid, walk)
            if code == GIT_ITEROVER.rawValue { break }
            try GitError.check(code, operation: "git_revwalk_next")
            commits.append(ObjectID(oid))
        }
        return commits
    }

    /// An object's raw bytes (`git_odb_read`), checking its type.
    func read(_ id: ObjectID, expecting type: git_object_t) throws(TreeError) -> [UInt8] {
        var oid = id.gitOID
        var object: OpaquePointer?
        let code = git_odb_read(&object, odb, &oid)
        if GitError.isNotFound(code) { throw .objectNotFound(id) }
        try GitError.check(code, operation: "git_odb_read")
        defer { git_odb_object_free(object) }
        guard git_odb_object_type(object) == type else {
            throw .wrongObjectKind(id, expected: String(cString: git_object_type2string(type)))
        }
        // SAFETY: the object's data stays valid until `git_odb_object_free`, deferred above; it is copied here.
        return Array(UnsafeRawBufferPointer(start: git_odb_object_data(object), count: git_odb_object_size(object)))
    }
}
