import Foundation
import MesaCore
import MesaStore
import MesaTree
import MesaWire

// The blocking side of the sync protocol (docs/Protocol.md): resolving revisions, planning which records a query
// streams, org authorization of keys, and verifying and applying pushes. Everything here runs on the server's pool.
//
// Org scoping: a key is visible to an org only when the org references it. `have` reports every other key as
// missing, fetches of unreferenced keys are refused, and a pushed tree, commit or manifest may only point at records
// the org references or that the same push carries, so a push cannot probe another org's content either.

struct SyncOperations {
    let operations: RepoOperations

    var services: ServerServices { operations.services }
    var repository: MesaRepository { operations.repository }
    var orgID: String { operations.org.id }

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
        let resolution = try resolve(request.revision)
        guard let root = ObjectID(hex: resolution.rootTree) else { throw APIError.internalError("bad root tree") }
        var keys = [RecordKey(.tree, object: root)]
        let components = request.path.split(separator: "/").map(String.init)
        var current = root
        var target: TreeEntry?
        for (index, name) in components.enumerated() {
            guard let entry = try repository.tree(current).first(where: { $0.name == name }) else {
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

    /// Throws 404 unless the org references every key.
    func authorize(_ keys: [RecordKey]) throws {
        guard !keys.isEmpty else { return }
        let referenced = try services.metadata.referenced(orgID: orgID, keys: keys)
        if let missing = keys.first(where: { !referenced.contains($0) }) {
            throw APIError.notFound("record \(missing) is not available to this org")
        }
    }

    /// The keys the org lacks: not referenced by it, or not in the store.
    func missing(_ request: HaveRequest) throws -> [String] {
        let keys = try request.keys.map(Self.recordKey)
        let referenced = try services.metadata.referenced(orgID: orgID, keys: keys)
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

    /// Verifies and stores pushed records: each id is recomputed from the decompressed bytes, and each tree, commit
    /// and manifest may point only at records the org references or this push carries. Stored records are referenced
    /// as staged until the transaction applies.
    func receive(
        _ records: [SyncRecord], pushed: inout Set<RecordKey>, external: inout Set<RecordKey>
    ) throws -> Int {
        var stored = 0
        var keys: [RecordKey] = []
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
            external.formUnion(try checkReferences(record.key, bytes, pushed: pushed))
            if let reason = try services.store.idMismatch(record.key, bytes) {
                throw APIError.badRequest("record \(record.key) is refused: \(reason)")
            }
            if try services.store.putStored(storedRecord) { stored += 1 }
            pushed.insert(record.key)
            keys.append(record.key)
        }
        try services.metadata.addReferences(orgID: orgID, keys: keys, staged: true)
        return stored
    }

    /// Refuses a tree, commit or manifest that points at records this org cannot see.
    /// - Returns: the records it points at outside this push (all referenced or staged by the org).
    private func checkReferences(_ key: RecordKey, _ bytes: [UInt8], pushed: Set<RecordKey>) throws -> [RecordKey] {
        let needed = try references(key, bytes)
        let unknown = needed.filter { !pushed.contains($0) }
        let referenced = try services.metadata.referenced(orgID: orgID, keys: unknown)
        if let missing = unknown.first(where: { !referenced.contains($0) || !services.store.contains($0) }) {
            throw APIError.badRequest("record \(key) refers to \(missing), which this push does not carry")
        }
        return unknown
    }

    /// The records a record points at: a manifest's chunks, a tree's subtrees and blobs' manifests, a commit's tree
    /// and parent commits.
    private func references(_ key: RecordKey, _ bytes: [UInt8]) throws -> [RecordKey] {
        var needed: [RecordKey] = []
        switch key.kind {
        case .chunk, .tag:
            return []
        case .manifest:
            guard let manifest = Manifest(decoding: bytes) else { throw APIError.badRequest("\(key) is not a manifest") }
            needed = manifest.chunks.map { RecordKey(chunk: $0.id) }
        case .tree:
            for entry in try TreeCodec.decode(bytes, id: key.objectID ?? TreeCodec.emptyTreeID) {
                switch entry.mode {
                case .directory: needed.append(RecordKey(.tree, object: entry.id))
                case .regular, .executable, .symlink: needed.append(RecordKey(.manifest, object: entry.id))
                case .submodule: continue
                }
            }
        case .commit:
            guard let id = key.objectID else { return [] }
            let commit = try Commit(id: id, body: bytes)
            needed.append(RecordKey(.tree, object: commit.tree))
            needed += commit.parents.map { RecordKey(.commit, object: $0) }
        }
        return needed
    }

    /// The records an applied push makes visible: what it carried, plus whatever an earlier (interrupted or refused)
    /// push of this org left staged that the carried records reach, followed through staged records only (a
    /// referenced record's closure is referenced already).
    func promotable(pushed: Set<RecordKey>, external: Set<RecordKey>) throws -> [RecordKey] {
        var promote = Array(pushed)
        var seen = pushed
        var frontier = Array(try services.metadata.staged(orgID: orgID, keys: Array(external)))
        while !frontier.isEmpty {
            var next: [RecordKey] = []
            for key in frontier where seen.insert(key).inserted {
                promote.append(key)
                next += try references(key, try services.store.get(key)).filter { !seen.contains($0) }
            }
            frontier = Array(try services.metadata.staged(orgID: orgID, keys: next))
        }
        return promote
    }

    /// Applies a push transaction atomically, or reports its stale expectations.
    func apply(
        _ transaction: PushTransaction, pushed: Set<RecordKey>, external: Set<RecordKey>
    ) throws -> [CatalogConflict] {
        var changes: [(record: ChangeRecord, expected: Expectation<ObjectID>)] = []
        for update in transaction.changes {
            let id = try RepoOperations.changeID(update.changeID)
            guard !id.isRoot else { throw APIError.badRequest("the virtual root cannot be pushed") }
            let commitID = try Self.objectID(update.commit)
            let key = RecordKey(.commit, object: commitID)
            if !pushed.contains(key) { try authorize([key]) }
            let commit = try repository.commit(commitID)
            if let header = commit.changeID, header != id {
                throw APIError.badRequest("commit \(commitID) belongs to change \(header), not \(id)")
            }
            let parents = try update.parents.map(RepoOperations.changeID)
            let expected: Expectation<ObjectID> = try update.expectedCommit.map { .equal(try Self.objectID($0)) } ?? .absent
            changes.append((ChangeRecord(id: id, commit: commitID, parents: parents.isEmpty ? [.root] : parents), expected))
        }
        let newChanges = Set(changes.map(\.record.id))
        var bookmarks: [(bookmark: MesaTree.Bookmark, expected: Expectation<ChangeID>)] = []
        for update in transaction.bookmarks {
            try RouteSupport.validateBookmarkName(update.name)
            let change = try RepoOperations.changeID(update.change)
            if !newChanges.contains(change) { _ = try repository.change(change) }
            let expected: Expectation<ChangeID> =
                try update.expectedChange.map { .equal(try RepoOperations.changeID($0)) } ?? .absent
            bookmarks.append((MesaTree.Bookmark(name: update.name, change: change), expected))
        }
        let conflicts = try operations.catalog.apply(changes: changes, bookmarks: bookmarks)
        if conflicts.isEmpty {
            try services.metadata.addReferences(
                orgID: orgID, keys: try promotable(pushed: pushed, external: external), staged: false)
        }
        return conflicts
    }

    /// What a client needs to merge a stale change: the current commit and the trees along the paths that differ
    /// from the commit it expected.
    func mergeMaterial(_ conflicts: [CatalogConflict]) throws -> [RecordKey] {
        var keys: [RecordKey] = []
        for conflict in conflicts {
            guard case .change(_, let expected, let current?) = conflict else { continue }
            keys.append(RecordKey(.commit, object: current))
            let currentTree = try repository.commit(current).tree
            let expectedTree = expected.flatMap { try? repository.commit($0).tree }
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
