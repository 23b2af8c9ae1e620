import Foundation
import MesaCore
import MesaStore
import MesaTree
import MesaWire

// The blocking side of the sync protocol (docs/Protocol.md): resolving revisions, planning which records a query
// streams, repo authorization of keys, and verifying and applying pushes. Everything here runs on the server's pool.
//
// Authorization by repository: a key is visible to a repo only when the repo references it (reachable from its own
// history, or staged by a push into that same repo). `have` reports every other key as missing, fetches of
// unreferenced keys are refused with 404 (no existence oracle), and a pushed tree, commit or manifest may only point
// at records the repo references or the same push carries. A repo-restricted credential therefore reaches nothing of
// another repo, even given its record ids. Each check is one indexed lookup per key asked: O(records asked).

struct SyncOperations {
    let operations: RepoOperations

    var services: ServerServices { operations.services }
    var repository: MesaRepository { operations.repository }
    var repoID: String { operations.repo.id }

    // MARK: Resolving

    /// `bookmark:<name>`, `change-id:<id>`, a bare bookmark name, or empty for the default bookmark.
    func resolve(_ revision: String) throws -> RevisionResolution {
        let change: ChangeID
        if revision.isEmpty {
            change = try operations.headChange()
        } else if revision.hasPrefix("change-id:") {
            change = try RepoOperations.changeID(String(revision.dropFirst(10)))
        } else {
            change = try operations.bookmarkTarget(revision.hasPrefix("bookmark:") ? String(revision.dropFirst(9)) : revision)
        }
        guard let record = try repository.change(change) else {
            return RevisionResolution(
                revision: revision, changeID: change.description, commit: "", rootTree: TreeCodec.emptyTreeID.hex,
                commitTime: 0)
        }
        let commit = try repository.commit(record.commit)
        return RevisionResolution(
            revision: revision, changeID: change.description, commit: record.commit.hex, rootTree: commit.tree.hex,
            commitTime: commit.committer.time)
    }

    // MARK: Planning fetches

    /// The lookup header and the records to stream: the trees from the root to the target, the target's manifest,
    /// and its chunks when the file is small.
    func lookup(_ request: LookupRequest) throws -> (LookupHeader, [RecordKey]) {
        guard request.inlineMaxBytes >= 0 else { throw APIError.badRequest("inline_max_bytes must not be negative") }
        let components = request.path.isEmpty ? [] : try TreeValidator.components(of: request.path)
        let resolution = try resolve(request.revision)
        guard let root = ObjectID(hex: resolution.rootTree) else { throw APIError.internalError("bad root tree") }
        var keys = [RecordKey(.tree, object: root)]
        var current = root
        var target: TreeEntry?
        for (index, name) in components.enumerated() {
            // Names match by bytes: canonically equivalent spellings are different entries.
            guard let entry = try repository.tree(current).first(where: { $0.name.utf8.elementsEqual(name.bytes) })
            else {
                return (LookupHeader(resolution: resolution, type: nil, id: nil, mode: nil, size: nil), keys)
            }
            if index < components.count - 1 {
                guard entry.mode == .directory else {
                    return (LookupHeader(resolution: resolution, type: nil, id: nil, mode: nil, size: nil), keys)
                }
                keys.append(RecordKey(.tree, object: entry.id))
                current = entry.id
            } else {
                target = entry
            }
        }
        guard let target else {
            return (LookupHeader(resolution: resolution, type: "dir", id: root.hex, mode: "40000", size: nil), keys)
        }
        let mode = RepoOperations.modeText(target.mode)
        switch target.mode {
        case .directory:
            keys.append(RecordKey(.tree, object: target.id))
            return (LookupHeader(resolution: resolution, type: "dir", id: target.id.hex, mode: mode, size: nil), keys)
        case .regular, .executable, .symlink:
            let manifest = try repository.manifest(ofBlob: target.id)
            keys.append(RecordKey(.manifest, object: target.id))
            if manifest.size <= Int64(request.inlineMaxBytes) { keys += manifest.chunks.map { RecordKey(chunk: $0.id) } }
            let type = target.mode == .symlink ? "symlink" : "file"
            return (LookupHeader(resolution: resolution, type: type, id: target.id.hex, mode: mode, size: manifest.size), keys)
        case .submodule:
            return (LookupHeader(resolution: resolution, type: nil, id: target.id.hex, mode: mode, size: nil), keys)
        }
    }

    /// Every tree under `roots` to `depth` levels (all when `nil`), skipping and not descending into `have`.
    func trees(_ request: TreesRequest) throws -> [RecordKey] {
        if let depth = request.depth, !(0...TreeValidator.maxDepth).contains(depth) {
            throw APIError.badRequest("depth must be null (all) or a whole number from 0 to \(TreeValidator.maxDepth)")
        }
        let roots = try request.roots.map(Self.objectID)
        try authorize(roots.map { RecordKey(.tree, object: $0) })
        let have = Set(try (request.have ?? []).map(Self.objectID))
        var keys: [RecordKey] = []
        var seen = Set<ObjectID>()
        var level = roots.filter { !have.contains($0) }
        var depth = 0
        while !level.isEmpty {
            var next: [ObjectID] = []
            for tree in level where seen.insert(tree).inserted {
                keys.append(RecordKey(.tree, object: tree))
                if request.depth.map({ depth < $0 }) ?? true {
                    next += try repository.tree(tree).filter { $0.mode == .directory && !have.contains($0.id) }.map(\.id)
                }
            }
            level = next
            depth += 1
        }
        return keys
    }

    /// Records asked for by key (authorized), then a subtree's manifests and chunks within its budget.
    func objects(_ request: ObjectsRequest) throws -> [RecordKey] {
        var keys = try request.keys.map(Self.recordKey)
        try authorize(keys)
        guard let subtree = request.subtree else { return keys }
        guard subtree.maxBytes >= 0, subtree.maxFileBytes >= 0 else {
            throw APIError.badRequest("max_bytes and max_file_bytes must not be negative")
        }
        let root = try Self.objectID(subtree.tree)
        try authorize([RecordKey(.tree, object: root)])
        let have = Set(try (subtree.have ?? []).map(Self.recordKey))
        var chunks: [RecordKey] = []
        var budget = subtree.maxBytes
        var seen = Set<RecordKey>(keys)
        try repository.walk(root) { (item: TreeWalkEntry) throws(TreeError) -> Bool in
            let entry = item.entry
            guard entry.mode == .regular || entry.mode == .executable || entry.mode == .symlink else { return true }
            let manifestKey = RecordKey(.manifest, object: entry.id)
            if seen.insert(manifestKey).inserted, !have.contains(manifestKey) { keys.append(manifestKey) }
            // With no content budget left (or none asked for: a walk's metadata) the manifest need not be read.
            guard budget > 0 else { return true }
            let manifest = try repository.manifest(ofBlob: entry.id)
            guard manifest.size <= subtree.maxFileBytes else { return true }
            for chunk in manifest.chunks {
                let key = RecordKey(chunk: chunk.id)
                guard seen.insert(key).inserted, !have.contains(key) else { continue }
                chunks.append(key)
                budget -= Int64(chunk.length)
            }
            return true
        }
        return keys + chunks
    }

    /// Throws 404 unless the repo references every key.
    func authorize(_ keys: [RecordKey]) throws {
        guard !keys.isEmpty else { return }
        let referenced = try services.metadata.referenced(repoID: repoID, keys: keys)
        if let missing = keys.first(where: { !referenced.contains($0) }) {
            throw APIError.notFound("record \(missing) is not available in this repo")
        }
    }

    /// The keys the repo lacks: not referenced by it, or not in the store.
    func missing(_ request: HaveRequest) throws -> [String] {
        let keys = try request.keys.map(Self.recordKey)
        let referenced = try services.metadata.referenced(repoID: repoID, keys: keys)
        return zip(request.keys, keys).filter { !referenced.contains($0.1) || !services.store.contains($0.1) }.map(\.0)
    }

    /// Reads records in their stored form for streaming.
    func stored(_ keys: ArraySlice<RecordKey>) throws -> [SyncRecord] {
        try keys.map { key in
            let record = try services.store.stored(key)
            return SyncRecord(
                key: key, codec: record.codec.rawValue, rawLength: record.rawLength, stored: record.stored,
                checksum: record.checksum)
        }
    }

    // MARK: Pushing

    /// What a push has received so far: the records it carried (with the shapes of its trees) and the records
    /// outside it that they point at.
    struct PushState: Sendable {
        /// Keys of the records this push carried.
        var pushed = Set<RecordKey>()
        /// Records outside the push that pushed records point at (referenced or staged by the repo).
        var external = Set<RecordKey>()
        /// Shapes of the trees this push carried.
        var shapes: [ObjectID: TreeShape] = [:]
        /// Records stored for the first time.
        var stored = 0
        /// The records this push newly stored, taken back if the push is refused.
        var written = NewRecords()
    }

    /// Verifies and stores pushed records: each is checked by the validator (trees, commits, manifests), its id is
    /// recomputed from the decompressed bytes (a manifest's when that reads little: ``admitManifest(_:_:state:)``),
    /// and it may point only at records the repo references or this push carried before it. Stored records are
    /// referenced by the repo as staged until the transaction applies.
    func receive(_ records: [SyncRecord], state: inout PushState) throws {
        var written = NewRecords()
        defer { state.written.formUnion(written) }
        try services.store.logNewRecords(into: &written) { () throws -> Void in try receiveLogged(records, state: &state) }
    }

    /// ``receive(_:state:)`` inside the store's write log.
    private func receiveLogged(_ records: [SyncRecord], state: inout PushState) throws {
        var keys: [RecordKey] = []
        var newShapes: [ObjectID: TreeShape] = [:]
        for record in records {
            guard let codec = Codec(rawValue: record.codec) else { throw APIError.badRequest("unknown codec") }
            let storedRecord = StoredRecord(
                key: record.key, codec: codec, rawLength: record.rawLength, stored: record.stored,
                checksum: record.checksum)
            let bytes: [UInt8]
            do {
                bytes = try storedRecord.decoded()
            } catch {
                throw APIError.badRequest("record \(record.key) does not decompress: \(error)")
            }
            if let shape = try check(record.key, bytes, state: &state), let id = record.key.objectID {
                state.shapes[id] = shape
                newShapes[id] = shape
            }
            if record.key.kind == .manifest {
                if try admitManifest(storedRecord, bytes, state: state) { state.stored += 1 }
            } else {
                if let reason = try services.store.idMismatch(record.key, bytes) {
                    throw APIError.badRequest("record \(record.key) is refused: \(reason)")
                }
                if try services.store.putStored(storedRecord) { state.stored += 1 }
            }
            state.pushed.insert(record.key)
            keys.append(record.key)
        }
        try services.metadata.addReferences(repoID: repoID, keys: keys, staged: true)
        try services.metadata.recordTreeShapes(newShapes)
    }

    /// Validates one pushed record and checks what it points at: pushed earlier in this push, or referenced (or
    /// staged) by the repo and present; those outside the push are touched (so garbage collection keeps them) and
    /// added to `state.external`.
    /// - Returns: a tree's shape.
    private func check(_ key: RecordKey, _ bytes: [UInt8], state: inout PushState) throws -> TreeShape? {
        let targets: [RecordKey]
        var tree: ValidatedTree?
        switch key.kind {
        case .chunk:
            return nil
        case .tag:
            throw TreeError.invalid(
                ValidationFailure(.unsupportedRecord, at: key.description, "a tag record (a push carries no tags)"))
        case .manifest:
            guard let manifest = Manifest(decoding: bytes) else { throw APIError.badRequest("\(key) is not a manifest") }
            targets = manifest.chunks.map { RecordKey(chunk: $0.id) }
        case .tree:
            // Names, modes, order and duplicates first; the shape needs the subtrees, checked below.
            let id = key.objectID ?? TreeCodec.emptyTreeID
            let validated = try TreeValidator.tree(bytes, id: id) { _, _ in .empty }
            tree = validated
            targets = validated.entries.compactMap(Self.record(namedBy:))
        case .commit:
            guard let id = key.objectID else { return nil }
            targets = Self.records(namedBy: try TreeValidator.commit(bytes, id: id))
        }
        let outside = targets.filter { !state.pushed.contains($0) }
        if !outside.isEmpty {
            let referenced = try services.metadata.referenced(repoID: repoID, keys: outside)
            let present = services.store.touch(outside)
            if let missing = outside.first(where: { !referenced.contains($0) || !present.contains($0) }) {
                let rule: ValidationRule = key.kind == .commit && missing.kind == .commit ? .missingParent : .entryKindMismatch
                throw TreeError.invalid(
                    ValidationFailure(
                        rule, at: key.description,
                        "it points at \(missing), which this push does not carry and this repo does not have"))
            }
            state.external.formUnion(outside)
        }
        guard let tree, let id = key.objectID else { return nil }
        var shape = TreeShape.empty
        let subtrees = tree.entries.filter { $0.mode == .directory }.map(\.id)
        let known = try knownShapes(subtrees, state: state)
        for entry in tree.entries {
            shape.include(nameBytes: entry.name.utf8.count, subtree: entry.mode == .directory ? known[entry.id] : nil)
        }
        try TreeValidator.check(shape: shape, at: "tree \(id.hex)")
        return shape
    }

    /// The shapes of subtrees: from this push, from the shapes table, or computed from the stored trees (trees stored
    /// before shapes were recorded; remembered afterwards).
    private func knownShapes(_ ids: [ObjectID], state: PushState) throws -> [ObjectID: TreeShape] {
        var shapes: [ObjectID: TreeShape] = [:]
        var unknown: [ObjectID] = []
        for id in ids {
            if let shape = state.shapes[id] { shapes[id] = shape } else if id == TreeCodec.emptyTreeID { shapes[id] = .empty } else { unknown.append(id) }
        }
        guard !unknown.isEmpty else { return shapes }
        let recorded = try services.metadata.treeShapes(unknown)
        var computed: [ObjectID: TreeShape] = [:]
        for id in unknown {
            if let shape = recorded[id] {
                shapes[id] = shape
            } else {
                var memo: [ObjectID: TreeShape] = [:]
                let shape = try repository.shape(ofTree: id, memo: &memo)
                shapes[id] = shape
                computed.merge(memo) { first, _ in first }
            }
        }
        try services.metadata.recordTreeShapes(computed)
        return shapes
    }

    /// Forgets what a refused push staged and takes back the records it newly stored (those no other writer used
    /// since), so that nothing it carried stays visible or stored; what another writer used meanwhile is left to
    /// garbage collection.
    func dropStaged(_ state: PushState) throws {
        try services.metadata.dropStaged(repoID: repoID, keys: Array(state.pushed))
        services.store.takeBack(state.written)
    }

    /// The records an applied push makes referenced: what it carried, plus whatever an earlier (interrupted) push
    /// into this repo left staged that the carried records reach, followed through staged records only (a
    /// referenced record's closure is referenced already).
    func promotable(_ state: PushState) throws -> [RecordKey] {
        var promote = Array(state.pushed)
        var seen = state.pushed
        var frontier = Array(try services.metadata.staged(repoID: repoID, keys: Array(state.external)))
        while !frontier.isEmpty {
            var next: [RecordKey] = []
            for key in frontier where seen.insert(key).inserted {
                promote.append(key)
                next += try references(key, try services.store.get(key)).filter { !seen.contains($0) }
            }
            frontier = Array(try services.metadata.staged(repoID: repoID, keys: next))
        }
        return promote
    }

    /// The records a stored record points at (its references were checked when it was pushed).
    private func references(_ key: RecordKey, _ bytes: [UInt8]) throws -> [RecordKey] {
        switch key.kind {
        case .chunk, .tag:
            return []
        case .manifest:
            return Manifest(decoding: bytes)?.chunks.map { RecordKey(chunk: $0.id) } ?? []
        case .tree:
            return try TreeCodec.decode(bytes, id: key.objectID ?? TreeCodec.emptyTreeID).compactMap(Self.record(namedBy:))
        case .commit:
            guard let id = key.objectID else { return [] }
            return Self.records(namedBy: try Commit(id: id, body: bytes))
        }
    }

    /// The record a tree entry names: a subtree or a file's manifest; none for a gitlink, whose commit belongs to
    /// another repository.
    static func record(namedBy entry: TreeEntry) -> RecordKey? {
        switch entry.mode {
        case .directory: RecordKey(.tree, object: entry.id)
        case .regular, .executable, .symlink: RecordKey(.manifest, object: entry.id)
        case .submodule: nil
        }
    }

    /// The records a commit names: its tree and its parent commits.
    static func records(namedBy commit: Commit) -> [RecordKey] {
        [RecordKey(.tree, object: commit.tree)] + commit.parents.map { RecordKey(.commit, object: $0) }
    }

    /// Applies a push transaction atomically, or reports its stale expectations.
    func apply(_ transaction: PushTransaction, state: PushState) throws -> [CatalogConflict] {
        var changes: [(record: ChangeRecord, expected: Expectation<ObjectID>)] = []
        var conflicts: [ChangeID: [String]] = [:]
        let newChanges = Set(try transaction.changes.map { try RepoOperations.changeID($0.changeID) })
        for update in transaction.changes {
            let id = try RepoOperations.changeID(update.changeID)
            guard !id.isRoot else { throw APIError.badRequest("the virtual root cannot be pushed") }
            let commitID = try Self.objectID(update.commit)
            let key = RecordKey(.commit, object: commitID)
            if !state.pushed.contains(key) { try authorize([key]) }
            let commit = try repository.commit(commitID)
            if let header = commit.changeID, header != id {
                throw APIError.badRequest("commit \(commitID) belongs to change \(header), not \(id)")
            }
            let parents: [ChangeID]
            if let named = update.parents {
                parents = try named.map(RepoOperations.changeID)
            } else {
                // No parents named: an evolving change keeps its own, a new one goes on the root.
                do throws(TreeError) {
                    parents = try repository.change(id)?.parents ?? []
                } catch {
                    guard case .changeNotFound = error else { throw error }
                    parents = []
                }
            }
            for parent in parents where !parent.isRoot && !newChanges.contains(parent) {
                do throws(TreeError) {
                    _ = try repository.change(parent)
                } catch {
                    // A `catch .changeNotFound` pattern here crashes Swift 6.3.1: test the case inside.
                    guard case .changeNotFound = error else { throw error }
                    throw TreeError.invalid(
                        ValidationFailure(
                            .missingParent, at: id.description,
                            "the parent change \(parent) is neither in this repo nor in this push"))
                }
            }
            let expected: Expectation<ObjectID> = try update.expectedCommit.map { .equal(try Self.objectID($0)) } ?? .absent
            changes.append((ChangeRecord(id: id, commit: commitID, parents: parents.isEmpty ? [.root] : parents), expected))
            if let paths = try self.conflicts(
                of: id, naming: update.conflicts ?? [], resolving: update.resolved ?? [], from: expected.value,
                to: commit.tree)
            {
                conflicts[id] = paths
            }
        }
        var bookmarks: [(bookmark: MesaTree.Bookmark, expected: Expectation<ChangeID>)] = []
        for update in transaction.bookmarks {
            try RouteSupport.validateBookmarkName(update.name)
            let change = try RepoOperations.changeID(update.change)
            if !newChanges.contains(change) { _ = try repository.change(change) }
            let expected: Expectation<ChangeID> =
                try update.expectedChange.map { .equal(try RepoOperations.changeID($0)) } ?? .absent
            bookmarks.append((MesaTree.Bookmark(name: update.name, change: change), expected))
        }
        // What the push points at outside itself must still be there (a staged record past its grace period may have
        // been reclaimed since it was checked); touching it keeps it through the transaction.
        let external = Array(state.external)
        let stillReferenced = try services.metadata.referenced(repoID: repoID, keys: external)
        let present = services.store.touch(external)
        if let gone = external.first(where: { !stillReferenced.contains($0) || !present.contains($0) }) {
            throw APIError.conflict(
                "record \(gone), which this push relies on, was reclaimed; push again", code: "RECORDS_RECLAIMED")
        }
        let references = try promotable(state)
        // Durable before visible: what the push stored reaches the disk before the catalog names it (group commit).
        try services.store.sync()
        return try operations.catalog.apply(
            changes: changes, bookmarks: bookmarks, references: references, conflicts: conflicts,
            cause: .push(recordsReceived: state.pushed.count, recordsStored: state.stored))
    }

    /// A change's conflicts after a push: the paths it names, and each recorded path it does not resolve whose entry
    /// the new commit leaves as the expected commit had it (a path the push changes is resolved, as a PATCH of that
    /// path resolves it).
    /// - Returns: the paths, or `nil` when they are what the catalog records.
    private func conflicts(
        of id: ChangeID, naming named: [String], resolving resolved: [String], from expected: ObjectID?,
        to tree: ObjectID
    ) throws -> [String]? {
        let recorded = expected == nil ? [] : try operations.catalog.details(of: id)?.conflicts ?? []
        guard !recorded.isEmpty || !named.isEmpty else { return nil }
        let kept = try untouched(recorded.filter { !resolved.contains($0) }, from: expected, to: tree)
        let paths = Array(Set(kept + named)).sorted(by: PathName.precedes)
        return paths == recorded.sorted(by: PathName.precedes) ? nil : paths
    }

    /// The paths among `paths` whose entry is the same in the expected commit and in `tree`.
    private func untouched(_ paths: [String], from expected: ObjectID?, to tree: ObjectID) throws -> [String] {
        guard let expected, !paths.isEmpty else { return [] }
        let before = try repository.commit(expected).tree
        func entry(_ path: String, in root: ObjectID) throws -> TreeEntry? {
            do throws(TreeError) {
                return try repository.entry(at: path, in: root)
            } catch {
                guard case .notFound = error else { throw error }
                return nil
            }
        }
        return try paths.filter { try entry($0, in: before) == entry($0, in: tree) }
    }

    /// What a client needs to merge a stale change: the current commit and the trees along the paths that differ
    /// from the commit it expected.
    func mergeMaterial(_ conflicts: [CatalogConflict]) throws -> [RecordKey] {
        var keys: [RecordKey] = []
        for conflict in conflicts {
            guard case .change(_, let expected, let current?) = conflict else { continue }
            keys.append(RecordKey(.commit, object: current))
            let currentTree = try repository.commit(current).tree
            // The commit the client expected may be one this server never had: then the whole tree is material.
            var expectedTree: ObjectID?
            if let expected {
                do throws(TreeError) {
                    expectedTree = try repository.commit(expected).tree
                } catch {
                    guard case .objectNotFound = error else { throw error }
                }
            }
            keys += try operations.changes(from: expectedTree, to: currentTree).trees
        }
        return keys
    }

    // MARK: Parsing

    static func objectID(_ text: String) throws -> ObjectID {
        guard let id = ObjectID(hex: text) else { throw APIError.badRequest("'\(text)' is not a 40-digit object id") }
        return id
    }

    static func recordKey(_ text: String) throws -> RecordKey {
        guard let key = RecordKey(parsing: text) else { throw APIError.badRequest("'\(text)' is not a record key") }
        return key
    }
}
