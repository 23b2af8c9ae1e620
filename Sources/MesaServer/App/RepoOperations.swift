import Foundation
import HTTPTypes
package import MesaCore
import MesaStore
package import MesaTree
package import MesaWire

// What the REST routes do to one repo, as blocking functions (they run on the server's pool). Route closures stay
// thin: parse, authorize, call one of these, encode.
//
// Repo references: every record a write creates (blob manifests and chunks, the trees along changed paths, the
// commit) is recorded as referenced by the repo, so the sync protocol can answer `have` and serve content per repo,
// never across repos (docs/Protocol.md, "Authorization by repository").
//
// Writes validate their whole request before they store anything: paths and names (TreeValidator), encodings,
// modes, signatures, the base change and the paths a delete names. A request refused there leaves the store as it
// was; what a failure after that point leaves unreferenced is reclaimed by garbage collection.

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
            authoredAt: Self.date(of: commit.author), committer: Self.signature(commit.committer),
            parents: record.parents.map(\.description),
            createdAt: Timestamp.format(details?.created ?? Double(commit.committer.time)),
            updatedAt: Timestamp.format(details?.updated ?? Double(commit.committer.time)),
            files: files, conflicts: full ? conflicts : nil)
    }

    static func signature(_ signature: MesaTree.Signature) -> MesaWire.Signature {
        MesaWire.Signature(
            name: signature.name, email: signature.email.isEmpty ? nil : signature.email, date: date(of: signature))
    }

    /// A signature's date in its own zone (`2026-01-01T10:00:00+05:30` for git's `1767241800 +0530`).
    static func date(of signature: MesaTree.Signature) -> String {
        Timestamp.format(Double(signature.time), offsetMinutes: Int(signature.offsetMinutes))
    }

    /// Changes reachable from a bookmark (newest first, following parents), or all changes by last update.
    package func listChanges(bookmark: String?, limit: Int, cursor: String?) throws -> (items: [Change], next: String?) {
        var ordered: [ChangeID] = []
        if let bookmark {
            // A new repo's default bookmark resolves to the virtual root, which has no changes to list.
            let tip = bookmark == repo.defaultBookmark ? try headChange() : try bookmarkTarget(bookmark)
            try walkAncestry(from: [tip]) { id, _ in
                ordered.append(id)
                return true
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

    /// The entry at `path` below `tree`, or `nil` when nothing is there; a failure to read is an error, not absence.
    func entryIfPresent(at path: String, in tree: ObjectID) throws(TreeError) -> TreeEntry? {
        do {
            return try repository.entry(at: path, in: tree)
        } catch {
            // A `catch .notFound` pattern on typed throws crashes Swift 6.3.1: test the case inside.
            if case .notFound = error { return nil }
            throw error
        }
    }

    /// A REST file operation checked and decoded, not yet stored.
    enum PlannedEdit {
        case upsert(path: String, bytes: [UInt8], mode: FileMode)
        case delete(path: String)
    }

    /// Checks REST file operations against `base` and decodes their content, storing nothing: every path through
    /// the validator, encodings, modes, and for a delete that the path exists (in `base` or from an earlier
    /// operation of the same request). Paths are compared as bytes, as trees compare names.
    func plan(_ files: [FileOperation], base: ObjectID) throws -> [PlannedEdit] {
        var written = Set<[UInt8]>()
        var deleted = Set<[UInt8]>()
        return try files.map { file -> PlannedEdit in
            _ = try TreeValidator.components(of: file.path)
            let key = Array(file.path.utf8)
            if file.isDelete {
                let inBase = deleted.contains(key) ? false : try entryIfPresent(at: file.path, in: base) != nil
                guard written.contains(key) || inBase else {
                    throw APIError(
                        .notFound, "NOT_FOUND",
                        "cannot delete '\(file.path)': there is no file or directory at that path (nothing was changed)",
                        details: ["path": .string(file.path)])
                }
                written.remove(key)
                deleted.insert(key)
                return .delete(path: file.path)
            }
            guard let content = file.content else {
                throw APIError.badRequest("file '\(file.path)' has no content (use action \"delete\" to remove it)")
            }
            guard file.encoding == nil || file.encoding == "base64" else {
                throw APIError.badRequest("file '\(file.path)': encoding must be \"base64\"")
            }
            guard let bytes = RouteSupport.base64(content) else {
                throw APIError.badRequest("file '\(file.path)': content is not valid base64")
            }
            let mode: FileMode
            switch file.mode ?? "100644" {
            case "100644": mode = .regular
            case "100755": mode = .executable
            default: throw APIError.badRequest("file '\(file.path)': mode must be \"100644\" or \"100755\"")
            }
            written.insert(key)
            deleted.remove(key)
            return .upsert(path: file.path, bytes: bytes, mode: mode)
        }
    }

    /// Stores planned edits' content and turns them into tree edits.
    func edits(_ planned: [PlannedEdit]) throws -> [TreeEdit] {
        try planned.map { edit -> TreeEdit in
            switch edit {
            case .delete(let path): return .delete(path: path)
            case .upsert(let path, let bytes, let mode):
                return .upsert(path: path, blob: try repository.writeBlob(bytes), mode: mode)
            }
        }
    }

    /// Refuses a commit message git objects cannot carry (a NUL byte would cut it short).
    static func checkMessage(_ message: String?) throws(TreeError) {
        if message?.utf8.contains(0) == true {
            throw .invalid(ValidationFailure(.malformedCommit, at: "message", "a NUL byte in the commit message"))
        }
    }

    /// A commit signature from a REST one. Git objects need a name and an email (libgit2 refuses empty ones): a
    /// missing name is the API key's name, a missing email `<name>@users.mesa.local`. Given names and emails go
    /// through the validator; a default from the key's name keeps only the characters a signature may hold. A
    /// given date keeps its offset; a signature given without a date is dated `time` in the zone `offsetMinutes`.
    static func author(
        _ given: MesaWire.Signature?, principal: Principal, time: Int64, offsetMinutes: Int32 = 0,
        role: String = "author"
    ) throws(TreeError) -> MesaTree.Signature {
        if let given { try TreeValidator.check(signatureName: given.name, email: given.email ?? "", role: role) }
        let date = given?.date.flatMap(Timestamp.parseKeepingOffset)
        let keyName = (principal.key.name ?? "").filter { character in
            character.unicodeScalars.allSatisfy { $0 != "<" && $0 != ">" && $0.value >= 0x20 && $0.value != 0x7f }
        }
        let name = given?.name.isEmpty == false ? given?.name ?? "mesa" : keyName.isEmpty ? "mesa" : keyName
        let local = name.lowercased().filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }
        let email = given?.email.flatMap { $0.isEmpty ? nil : $0 } ?? "\(local.isEmpty ? "mesa" : local)@users.mesa.local"
        return MesaTree.Signature(
            name: name, email: email, time: date.map { Int64($0.seconds) } ?? time,
            offsetMinutes: date.map { Int32($0.offsetMinutes) } ?? offsetMinutes)
    }

    /// `POST changes`: a new change on `base_change_id` with the files applied.
    package func createChange(_ body: CreateChangeRequest, principal: Principal) throws -> Change {
        let base = try Self.changeID(body.baseChangeID)
        _ = try repository.change(base)
        let baseTree = try repository.tree(ofChange: base)
        let now = Int64(Date().timeIntervalSince1970)
        let author = try Self.author(body.author, principal: principal, time: now)
        let committer = try Self.author(body.committer ?? body.author, principal: principal, time: now, role: "committer")
        try Self.checkMessage(body.message)
        let planned = try plan(body.files ?? [], base: baseTree)
        let id = ChangeID.random()
        let parentCommits = try repository.change(base).map { [$0.commit] } ?? []
        try storing { () throws -> Void in
            let tree = try repository.applying(try edits(planned), to: baseTree)
            let commit = try repository.createCommit(
                tree: tree, parents: parentCommits, author: author, committer: committer, message: body.message ?? "",
                changeID: id)
            try commitToCatalog(
                changes: [(ChangeRecord(id: id, commit: commit, parents: [base]), .absent)], bookmarks: [],
                newCommit: commit, over: baseTree)
        }
        // A new repo's default bookmark resolves to the virtual root until the first write, which creates it.
        if base.isRoot, try catalog.bookmark(named: repo.defaultBookmark) == nil {
            do throws(TreeError) {
                try catalog.putBookmark(MesaTree.Bookmark(name: repo.defaultBookmark, change: id), expected: .absent)
            } catch {
                // Another first write created it meanwhile: theirs stands. Any other failure is an error.
                guard case .staleBookmark = error else { throw error }
            }
        }
        return try changeJSON(id, full: true)
    }

    /// `PATCH changes/{id}`: evolves the change (new commit, same id). A given `author` replaces the change's; one
    /// without a date keeps the change's author date, as `git commit --amend --author` does.
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
        // A stale expectation is refused before anything is stored.
        if let expected, expected != current.commit {
            throw TreeError.staleChange(id, expected: expected, current: current.commit)
        }
        let old = try repository.commit(current.commit)
        let oldTree = old.tree
        let now = Int64(Date().timeIntervalSince1970)
        let author = try body.author.map { given in
            try Self.author(given, principal: principal, time: old.author.time, offsetMinutes: old.author.offsetMinutes)
        } ?? old.author
        let committer = try Self.author(body.committer, principal: principal, time: now, role: "committer")
        try Self.checkMessage(body.message)
        var planned = try plan(body.files ?? [], base: oldTree)
        // A recorded conflict path the request writes or deletes (or deletes a directory above) is resolved, as a
        // push that changes it resolves it (docs/Protocol.md); so is one a resolution names.
        var resolved = Set<[UInt8]>()
        for edit in planned {
            switch edit {
            case .upsert(let path, _, _), .delete(let path): resolved.insert(Array(path.utf8))
            }
        }
        for resolution in body.resolutions ?? [] {
            _ = try TreeValidator.components(of: resolution.path)
            planned.append(try resolve(resolution, of: current, in: oldTree))
            resolved.insert(Array(resolution.path.utf8))
        }
        try storing { () throws -> Void in
            let tree = try repository.applying(try edits(planned), to: oldTree)
            let commit = try repository.createCommit(
                tree: tree, parents: old.parents, author: author, committer: committer,
                message: body.message ?? old.message, changeID: id)
            // Compare-and-swap on the commit the change was at: a concurrent evolution makes this a 409.
            try commitToCatalog(
                changes: [(ChangeRecord(id: id, commit: commit, parents: current.parents), .equal(current.commit))],
                bookmarks: [], newCommit: commit, over: oldTree)
        }
        if !resolved.isEmpty, let details = try catalog.details(of: id), !details.conflicts.isEmpty {
            let kept = details.conflicts.filter { path in
                let bytes = Array(path.utf8)
                return !resolved.contains(bytes) && !resolved.contains { bytes.starts(with: $0 + [UInt8(ascii: "/")]) }
            }
            if kept != details.conflicts { try catalog.setConflicts(kept, of: id) }
        }
        return try changeJSON(id, full: true)
    }

    /// The edit a resolution of a conflicted file in a change makes: whole-file base64 `content`; `take` of the
    /// target (first parent) or source (second parent) version, a delete when that side has no such file; or per-hunk
    /// resolutions of the conflict markers the file holds.
    private func resolve(_ resolution: Resolution, of change: ChangeRecord, in tree: ObjectID) throws -> PlannedEdit {
        let path = resolution.path
        let present = try entryIfPresent(at: path, in: tree)
        let mode = present?.mode.isBlob == true ? present!.mode : .regular
        if try Self.isPerHunk(resolution) {
            guard let present, present.mode.isBlob else { throw APIError.notFound("'\(path)' is not a file of the change") }
            let bytes = try Self.resolvingHunks(resolution.hunks ?? [], of: path, in: try repository.readBlob(present.id))
            return .upsert(path: path, bytes: bytes, mode: mode)
        }
        switch (resolution.content, resolution.take) {
        case (let content?, nil):
            guard let bytes = RouteSupport.base64(content) else {
                throw APIError.badRequest("resolution of '\(path)' needs base64 content")
            }
            return .upsert(path: path, bytes: bytes, mode: mode)
        case (nil, let take?):
            let index: Int
            switch take {
            case "target": index = 0
            case "source": index = 1
            default: throw APIError.badRequest("take must be \"target\" or \"source\", not '\(take)'")
            }
            guard index < change.parents.count else {
                throw APIError.badRequest("take needs a merge change: this change has \(change.parents.count) parent(s)")
            }
            guard let side = try entryIfPresent(at: path, in: try repository.tree(ofChange: change.parents[index])),
                side.mode.isBlob
            else { return .delete(path: path) }
            return .upsert(path: path, bytes: try repository.readBlob(side.id), mode: side.mode)
        default:
            throw APIError.badRequest("resolution of '\(path)' needs exactly one of content, take or hunks")
        }
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
        var found = false
        try walkAncestry(from: [descendant]) { _, record in
            found = record.parents.contains(ancestor)
            return !found
        }
        return found
    }

    /// Visits changes from `starts` through their parents breadth first, each once (the virtual root never), until
    /// `visit` returns `false`. Linear in the changes visited.
    func walkAncestry(from starts: [ChangeID], _ visit: (ChangeID, ChangeRecord) throws -> Bool) throws {
        var queue = starts
        var next = 0
        var seen = Set<ChangeID>()
        while next < queue.count {
            let id = queue[next]
            next += 1
            guard !id.isRoot, seen.insert(id).inserted, let record = try repository.change(id) else { continue }
            guard try visit(id, record) else { return }
            queue += record.parents
        }
    }

    // MARK: References

    /// What `newTree` changed over `oldTree`: the trees along every changed path (the root included) and the blobs
    /// of changed files.
    package func changes(from oldTree: ObjectID?, to newTree: ObjectID) throws -> (trees: [RecordKey], blobs: [ObjectID]) {
        var trees = [RecordKey(.tree, object: newTree)]
        var blobs: [ObjectID] = []
        // Directory paths by bytes, split at `/` bytes: `String` would merge canonically equivalent spellings.
        var directories = Set<[UInt8]>()
        for entry in try repository.diff(from: oldTree, to: newTree, contextLines: 0).entries {
            var bytes = Array(entry.path.utf8)
            while let slash = bytes.lastIndex(of: UInt8(ascii: "/")) {
                bytes.removeSubrange(slash...)
                directories.insert(bytes)
            }
            if let id = entry.newID, entry.newMode != .directory, entry.newMode != .submodule { blobs.append(id) }
        }
        for directory in directories.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            let path = String(decoding: directory, as: UTF8.self)
            if let entry = try entryIfPresent(at: path, in: newTree) { trees.append(RecordKey(.tree, object: entry.id)) }
        }
        return (trees, blobs)
    }

    /// Everything a new commit adds over `oldTree`: the commit, the trees along every changed path, and the changed
    /// files' manifests and chunks (what the repo must reference once the commit is in its catalog).
    func addedRecords(by commit: ObjectID, over oldTree: ObjectID?) throws -> [RecordKey] {
        let added = try changes(from: oldTree, to: try repository.commit(commit).tree)
        var keys = [RecordKey(.commit, object: commit)] + added.trees
        for blob in added.blobs {
            keys.append(RecordKey(.manifest, object: blob))
            keys += try repository.manifest(ofBlob: blob).chunks.map { RecordKey(chunk: $0.id) }
        }
        return keys
    }

    /// Applies catalog updates for a new commit together with the references of what it adds over `oldTree` and the
    /// webhook events of `cause`, in one transaction; a stale expectation throws
    /// ``TreeError/staleChange(_:expected:current:)`` or ``TreeError/staleBookmark(_:expected:current:)`` (409) and
    /// changes nothing.
    func commitToCatalog(
        changes: [(record: ChangeRecord, expected: Expectation<ObjectID>)],
        bookmarks: [(bookmark: MesaTree.Bookmark, expected: Expectation<ChangeID>)],
        newCommit: ObjectID, over oldTree: ObjectID?, cause: CatalogWriteCause = .write
    ) throws {
        let references = try addedRecords(by: newCommit, over: oldTree)
        // Durable before visible: the records reach the disk before the catalog names them (group commit).
        try services.store.sync()
        let conflicts = try catalog.apply(changes: changes, bookmarks: bookmarks, references: references, cause: cause)
        switch conflicts.first {
        case nil: return
        case .change(let id, let expected, let current)?:
            throw TreeError.staleChange(id, expected: expected, current: current)
        case .bookmark(let name, let expected, let current)?:
            throw TreeError.staleBookmark(name, expected: expected, current: current)
        }
    }

    /// Runs a write whose records are taken back from the store if it fails (ContentStore's write log: what no
    /// other writer used meanwhile is removed at once, the rest left to garbage collection).
    func storing<T>(_ body: () throws -> T) throws -> T {
        var log = NewRecords()
        do {
            return try services.store.logNewRecords(into: &log) { () throws -> T in try body() }
        } catch {
            services.store.takeBack(log)
            throw error
        }
    }
}
