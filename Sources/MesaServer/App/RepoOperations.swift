import Foundation
package import MesaCore
import MesaStore
package import MesaTree
package import MesaWire

// What the REST routes do to one repo, as blocking functions (they run on the server's pool). Route closures stay
// thin: parse, authorize, call one of these, encode.
//
// Org references: every record a write creates (blob manifests and chunks, the trees along changed paths, the
// commit) is recorded as referenced by the repo's org, so the sync protocol can answer `have` and serve content per
// org, never across orgs (DESIGN.md section 4).

/// One repo's operations, bound to the caller.
package struct RepoOperations {
    let services: ServerServices
    let repo: RepoRow
    let org: OrgRow
    let repository: MesaRepository
    let catalog: any RepoCatalog

    /// The commit id shown for the virtual root, which has none.
    static let rootCommit = String(repeating: "0", count: 40)

    /// Binds to `repo` (opens its repository on first use).
    package init(services: ServerServices, repo: RepoRow, org: OrgRow) throws {
        self.services = services
        self.repo = repo
        self.org = org
        repository = try services.repositories.repository(for: repo.id)
        catalog = try services.repositories.catalog(for: repo.id)
    }

    // MARK: Resolving

    /// Parses a change id, or throws 400.
    package static func changeID(_ text: String) throws(APIError) -> ChangeID {
        guard let id = ChangeID(parsing: text) else {
            throw .badRequest("'\(text)' is not a change id (32 characters of zyxwvutsrqponmlk)")
        }
        return id
    }

    /// The change a bookmark points at (404 when it does not exist).
    package func bookmarkTarget(_ name: String) throws -> ChangeID {
        try repository.resolveBookmark(name)
    }

    /// The default bookmark's change, or the virtual root for a repo with no content yet.
    package func headChange() throws -> ChangeID {
        try catalog.bookmark(named: repo.defaultBookmark)?.change ?? .root
    }

    // MARK: Changes

    /// The REST body of a change; `full` adds `files` and `conflicts`.
    package func changeJSON(_ id: ChangeID, full: Bool) throws -> Change {
        guard let record = try repository.change(id) else {
            let epoch = Timestamp.format(0)
            return Change(
                id: id.description, currentCommitOID: Self.rootCommit, isConflicted: false, message: "",
                author: .init(name: "", email: nil, date: epoch), authors: [], authoredAt: epoch,
                committer: .init(name: "", email: nil, date: epoch), parents: [], createdAt: epoch, updatedAt: epoch,
                files: full ? [] : nil, conflicts: full ? [] : nil)
        }
        let commit = try repository.commit(record.commit)
        let details = try catalog.details(of: id)
        var files: [String]?
        if full {
            let parentTree = try record.parents.first.map { try repository.tree(ofChange: $0) }
            files = try repository.diff(from: parentTree, to: commit.tree, contextLines: 0).entries.map(\.path)
        }
        let conflicts = details?.conflicts ?? []
        return Change(
            id: id.description, currentCommitOID: record.commit.hex, isConflicted: !conflicts.isEmpty,
            message: commit.message, author: Self.signature(commit.author),
            authors: [AuthorRef(name: commit.author.name, email: commit.author.email.isEmpty ? nil : commit.author.email)],
            authoredAt: Timestamp.format(Double(commit.author.time)), committer: Self.signature(commit.committer),
            parents: record.parents.map(\.description),
            createdAt: Timestamp.format(details?.created ?? Double(commit.committer.time)),
            updatedAt: Timestamp.format(details?.updated ?? Double(commit.committer.time)),
            files: files, conflicts: full ? conflicts : nil)
    }

    static func signature(_ signature: MesaTree.Signature) -> MesaWire.Signature {
        MesaWire.Signature(
            name: signature.name, email: signature.email.isEmpty ? nil : signature.email,
            date: Timestamp.format(Double(signature.time)))
    }

    /// Changes reachable from a bookmark (newest first, following parents), or all changes by last update.
    package func listChanges(bookmark: String?, limit: Int, cursor: String?) throws -> (items: [Change], next: String?) {
        var ordered: [ChangeID] = []
        if let bookmark {
            // A new repo's default bookmark resolves to the virtual root, which has no changes to list.
            let tip = bookmark == repo.defaultBookmark ? try headChange() : try bookmarkTarget(bookmark)
            var queue = [tip]
            var seen = Set<ChangeID>()
            while !queue.isEmpty {
                let id = queue.removeFirst()
                guard !id.isRoot, seen.insert(id).inserted, let record = try repository.change(id) else { continue }
                ordered.append(id)
                queue += record.parents
            }
        } else {
            ordered = try catalog.changeIDsByRecency()
        }
        let start = try cursor.map { text -> Int in
            guard let index = Int(text), index >= 0 else { throw APIError.badRequest("bad cursor '\(text)'") }
            return index
        } ?? 0
        let page = ordered.dropFirst(start).prefix(limit)
        let next = start + page.count < ordered.count ? String(start + page.count) : nil
        return (try page.map { try changeJSON($0, full: false) }, next)
    }

    /// Turns REST file operations into tree edits, writing each upserted file's content.
    func edits(_ files: [FileOperation]) throws -> [TreeEdit] {
        try files.map { file -> TreeEdit in
            if file.isDelete { return .delete(path: file.path) }
            guard let content = file.content else {
                throw APIError.badRequest("file '\(file.path)' has no content (use action \"delete\" to remove it)")
            }
            guard file.encoding == nil || file.encoding == "base64" else {
                throw APIError.badRequest("file '\(file.path)': encoding must be \"base64\"")
            }
            guard let bytes = Data(base64Encoded: content) else {
                throw APIError.badRequest("file '\(file.path)': content is not valid base64")
            }
            let mode: FileMode
            switch file.mode ?? "100644" {
            case "100644": mode = .regular
            case "100755": mode = .executable
            default: throw APIError.badRequest("file '\(file.path)': mode must be \"100644\" or \"100755\"")
            }
            return .upsert(path: file.path, blob: try repository.writeBlob([UInt8](bytes)), mode: mode)
        }
    }

    /// A commit signature from a REST one. Git objects need a name and an email (libgit2 refuses empty ones): a
    /// missing name is the API key's name, a missing email `<name>@users.mesa.local`.
    static func author(_ given: MesaWire.Signature?, principal: Principal, now: Int64) -> MesaTree.Signature {
        let time = given?.date.flatMap(Timestamp.parse).map { Int64($0) } ?? now
        let name = given?.name.isEmpty == false ? given?.name ?? "mesa" : principal.key.name ?? "mesa"
        let local = name.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }
        let email = given?.email.flatMap { $0.isEmpty ? nil : $0 } ?? "\(local.isEmpty ? "mesa" : local)@users.mesa.local"
        return MesaTree.Signature(name: name, email: email, time: time)
    }

    /// `POST changes`: a new change on `base_change_id` with the files applied.
    package func createChange(_ body: CreateChangeRequest, principal: Principal) throws -> Change {
        let base = try Self.changeID(body.baseChangeID)
        _ = try repository.change(base)
        let baseTree = try repository.tree(ofChange: base)
        let now = Int64(Date().timeIntervalSince1970)
        let author = Self.author(body.author, principal: principal, now: now)
        let committer = Self.author(body.committer ?? body.author, principal: principal, now: now)
        let record = try repository.createChange(
            parents: [base], edits: try edits(body.files ?? []), message: body.message ?? "", author: author,
            committer: committer)
        try recordReferences(from: baseTree, commit: record.commit)
        // A new repo's default bookmark resolves to the virtual root until the first write, which creates it.
        if base.isRoot, try catalog.bookmark(named: repo.defaultBookmark) == nil {
            try? catalog.putBookmark(MesaTree.Bookmark(name: repo.defaultBookmark, change: record.id), expected: .absent)
        }
        return try changeJSON(record.id, full: true)
    }

    /// `PATCH changes/{id}`: evolves the change (new commit, same id).
    package func updateChange(_ id: ChangeID, _ body: UpdateChangeRequest, principal: Principal) throws -> Change {
        guard let current = try repository.change(id) else { throw APIError.badRequest("the virtual root cannot evolve") }
        if body.files != nil, body.resolutions != nil {
            throw APIError.badRequest("files and resolutions are exclusive")
        }
        var expected: ObjectID?
        if let text = body.baseCommitOID {
            guard let oid = ObjectID(hex: text) else { throw APIError.badRequest("base_commit_oid is not a commit id") }
            expected = oid
        }
        let oldTree = try repository.commit(current.commit).tree
        let now = Int64(Date().timeIntervalSince1970)
        var fileEdits = try edits(body.files ?? [])
        var resolved: [String] = []
        for resolution in body.resolutions ?? [] {
            guard let content = resolution.content, let bytes = Data(base64Encoded: content) else {
                throw APIError.badRequest("resolution of '\(resolution.path)' needs base64 content")
            }
            let mode = (try? repository.entry(at: resolution.path, in: oldTree).mode) ?? .regular
            fileEdits.append(.upsert(path: resolution.path, blob: try repository.writeBlob([UInt8](bytes)), mode: mode))
            resolved.append(resolution.path)
        }
        let committer = Self.author(body.committer, principal: principal, now: now)
        let record = try repository.evolveChange(
            id, edits: fileEdits, message: body.message, committer: committer, expectedCommit: expected)
        try recordReferences(from: oldTree, commit: record.commit)
        if !resolved.isEmpty, let details = try catalog.details(of: id) {
            try catalog.setConflicts(details.conflicts.filter { !resolved.contains($0) }, of: id)
        }
        return try changeJSON(id, full: true)
    }

    // MARK: Bookmarks

    /// The REST body of a bookmark.
    package func bookmarkJSON(_ bookmark: MesaTree.Bookmark) -> MesaWire.Bookmark {
        MesaWire.Bookmark(
            name: bookmark.name, changeID: bookmark.change.description, isDefault: bookmark.name == repo.defaultBookmark)
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors (the root is everyone's ancestor).
    package func isAncestor(_ ancestor: ChangeID, of descendant: ChangeID) throws -> Bool {
        if ancestor.isRoot || ancestor == descendant { return true }
        var queue = [descendant]
        var seen = Set<ChangeID>()
        while !queue.isEmpty {
            let id = queue.removeFirst()
            guard !id.isRoot, seen.insert(id).inserted, let record = try repository.change(id) else { continue }
            if record.parents.contains(ancestor) { return true }
            queue += record.parents
        }
        return false
    }

    // MARK: References

    /// What `newTree` changed over `oldTree`: the trees along every changed path (the root included) and the blobs
    /// of changed files.
    package func changes(from oldTree: ObjectID?, to newTree: ObjectID) throws -> (trees: [RecordKey], blobs: [ObjectID]) {
        var trees = [RecordKey(.tree, object: newTree)]
        var blobs: [ObjectID] = []
        var directories = Set<String>()
        for entry in try repository.diff(from: oldTree, to: newTree, contextLines: 0).entries {
            var components = entry.path.split(separator: "/").dropLast()
            while !components.isEmpty {
                directories.insert(components.joined(separator: "/"))
                components = components.dropLast()
            }
            if let id = entry.newID, entry.newMode != .directory, entry.newMode != .submodule { blobs.append(id) }
        }
        for directory in directories.sorted() {
            if let entry = try? repository.entry(at: directory, in: newTree) { trees.append(RecordKey(.tree, object: entry.id)) }
        }
        return (trees, blobs)
    }

    /// Records as referenced by the org everything a new commit added over `oldTree`: the commit, the trees along
    /// every changed path, and the changed files' manifests and chunks.
    package func recordReferences(from oldTree: ObjectID?, commit: ObjectID) throws {
        let added = try changes(from: oldTree, to: try repository.commit(commit).tree)
        var keys = [RecordKey(.commit, object: commit)] + added.trees
        for blob in added.blobs {
            keys.append(RecordKey(.manifest, object: blob))
            keys += try repository.manifest(ofBlob: blob).chunks.map { RecordKey(chunk: $0.id) }
        }
        try services.metadata.addReferences(orgID: org.id, keys: keys, staged: false)
    }
}
