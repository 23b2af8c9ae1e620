package import MesaCore
package import MesaSync
import MesaTree
import Synchronization

// Moving a repository that has local nodes to another commit (docs/Architecture.md, "Reconciliation"): after the
// upload pipeline pushed a three-way merge of its edits with the server's, or when the server's change moved while
// every local node was uploaded. The local directories are walked against the target tree where they differ, so
// the cost is the difference, not the repository: an entry whose content differs becomes the target's clean entry
// (a local file or subtree it replaces is removed as by unlink: open handles keep their bytes, the path gets a new
// inode at its next lookup), a local directory that the target also has as a directory keeps its node and inode
// and is walked in turn. Nodes changed after the upload's snapshot (a write while the merge ran) are kept as they
// are and upload on top of the target next time.

/// What ``MesaFS/adopt(_:resolution:covering:ids:expecting:)`` did.
package enum AdoptOutcome: Sendable, Equatable {
    /// The repository shows the resolution; the kernel must forget this.
    case applied(Invalidation)
    /// Nothing changed: local nodes wait for their upload, which merges.
    case pending
    /// Nothing changed: the base moved since the caller looked; ask the server again.
    case stale
}

extension MesaFS {
    /// Makes a repository show `resolution` under its local nodes, after `covered` (the snapshot an upload built,
    /// with the object `ids` the build gave its nodes) reached the server inside it; `nil`: every local node is
    /// already uploaded (a remote move the poll saw), and `expected` is the base the poll started from.
    /// - Returns: what the kernel must forget, or why nothing changed: `pending` when `covered` is `nil` and a
    ///   local node is dirty (the next upload reconciles), `stale` when the base is no longer `expected` (an upload
    ///   landed while the poll asked: its answer may predate it; ask again).
    /// - Throws: ``FSError/unknownRepository(_:)``, ``FSError/source(_:)`` when a target tree cannot be read,
    ///   ``FSError/journal(_:)`` (nothing changes then).
    package func adopt(
        _ path: RepositoryPath, resolution: Resolution, covering covered: LocalUpload?, ids: [Int64: ObjectID?],
        expecting expected: Resolution? = nil
    ) async throws(FSError) -> AdoptOutcome {
        guard let index = layout.index(of: path) else { throw .unknownRepository(path) }
        let source = layout.repositories[index].source
        var listings: [ObjectID: SourceTree] = [:]
        while true {
            let step = try state.withLock { (state) throws(FSError) -> AdoptStep in
                guard let root = state.local.roots[index] else {
                    state.resolutions[index] = resolution
                    return .done(Invalidation())
                }
                if covered == nil, state.local.hasPendingChanges(repository: index) { return .pending }
                if let expected, state.resolutions[index] != expected { return .stale }
                if covered == nil, state.resolutions[index] == resolution { return .done(Invalidation()) }
                var walk = AdoptWalk(covered: covered, ids: ids, listings: listings)
                walk.plan(root, target: resolution.rootTree, in: state.local)
                if !walk.missing.isEmpty { return .needsTrees(Array(walk.missing)) }
                return .done(try apply(walk, root: root, index: index, resolution: resolution, &state))
            }
            switch step {
            case .pending:
                return .pending
            case .stale:
                return .stale
            case .done(let invalidation):
                return .applied(invalidation)
            case .needsTrees(let trees):
                for id in trees {
                    do throws(SyncError) {
                        listings[id] = try await source.tree(id)
                    } catch {
                        throw FSError(error)
                    }
                }
            }
        }
    }

    private enum AdoptStep {
        case pending
        case stale
        case needsTrees([ObjectID])
        case done(Invalidation)
    }

    /// Applies a planned walk under the lock and journals it with the new base, in one transaction.
    private func apply(
        _ plan: AdoptWalk, root: LocalID, index: Int, resolution: Resolution, _ state: inout State
    ) throws(FSError) -> Invalidation {
        var walk = plan
        var local = state.takeLocal()  // moved out: changed in place, never copied
        var committed = false
        defer { if !committed { swap(&state.local, &local) } }
        walk.markCovered(&local)
        walk.apply(root, target: resolution.rootTree, &local, held: { state.isHeld($0) })
        walk.changes.append(.base(repository: layout.repositories[index].path, root: root, resolution: resolution))
        try commit(walk.changes, &local)
        swap(&state.local, &local)
        committed = true
        state.resolutions[index] = resolution
        state.sent[index] = nil
        var invalidation = Invalidation()
        for (directory, names) in walk.changedNames {
            refreshRecord(&state, directory)
            guard let number = state.inodeOfNode[directory] else { continue }
            for name in names {
                invalidation.entries.append(Invalidation.Entry(parent: number, name: name))
                invalidation.detached += state.inodes.removeName(parent: number, name: name)
            }
            invalidation.inodes.append(number)
        }
        if let overlay { for file in walk.removedFiles { overlay.remove(file) } }
        return invalidation
    }
}

/// The walk of ``MesaFS/adopt(_:resolution:covering:ids:)``: planned on the state as it is (naming the target trees
/// it still needs), then applied.
private struct AdoptWalk {
    let covered: LocalUpload?
    let ids: [Int64: ObjectID?]
    let listings: [ObjectID: SourceTree]
    var missing = Set<ObjectID>()
    var changes: [JournalChange] = []
    var changedNames: [LocalID: [FileName]] = [:]
    var removedFiles: [LocalID] = []

    init(covered: LocalUpload?, ids: [Int64: ObjectID?], listings: [ObjectID: SourceTree]) {
        self.covered = covered
        self.ids = ids
        self.listings = listings
    }

    /// The entries of a target tree, or `nil` when its listing is not loaded yet.
    private func entries(of tree: ObjectID?) -> [FileName: (kind: EntryKind, id: ObjectID)]? {
        guard let tree, tree != TreeCodec.emptyTreeID else { return [:] }
        guard let listing = listings[tree] else { return nil }
        var entries: [FileName: (kind: EntryKind, id: ObjectID)] = [:]
        for entry in listing.entries { entries[entry.name] = (entry.kind, entry.id) }
        return entries
    }

    /// The object a node stands for on the server once the covered upload landed; `nil` for a node changed since
    /// (or never uploaded, such as an empty directory).
    private func uploadedID(_ node: LocalNode) -> ObjectID? {
        if let generation = covered?.generations[node.id.rawValue], node.generation == generation {
            return ids[node.id.rawValue] ?? covered?.knownIDs[node.id.rawValue]
        }
        return node.isDirty ? nil : node.uploaded?.id
    }

    /// Collects the target trees the walk below `directory` needs and does not have.
    mutating func plan(_ directory: LocalID, target: ObjectID?, in local: LocalState) {
        guard let node = local.nodes[directory] else { return }
        guard let targets = entries(of: target) else {
            if let target { missing.insert(target) }
            return
        }
        for case let (name, .local(child, .directory)) in node.entries {
            guard let childNode = local.nodes[child], !childNode.ignored, let entry = targets[name],
                entry.kind == .directory, uploadedID(childNode) != entry.id
            else { continue }
            plan(child, target: entry.id, in: local)
        }
    }

    /// Marks every node the covered upload carried as uploaded (as an acknowledgement does).
    mutating func markCovered(_ local: inout LocalState) {
        guard let covered else { return }
        for (key, generation) in covered.generations {
            let id = LocalID(key)
            guard var node = local.nodes[id], node.generation == generation else { continue }
            node.uploaded = LocalNode.Uploaded(generation: generation, id: ids[key] ?? covered.knownIDs[key])
            local.nodes[id] = node
            changes.append(.node(node))
        }
    }

    /// Makes `directory` show `target`'s entries, keeping nodes changed since the covered upload.
    mutating func apply(_ directory: LocalID, target: ObjectID?, _ local: inout LocalState, held: (LocalID) -> Bool) {
        guard var node = local.nodes[directory], let targets = entries(of: target) else { return }
        var changed: [FileName] = []
        for name in Set(node.entries.keys).union(targets.keys) {
            let wanted = targets[name]
            switch node.entries[name] {
            case nil:
                if let wanted { node.entries[name] = .clean(wanted.kind, wanted.id) }
                changed.append(name)
            case .clean(let kind, let id)?:
                if let wanted, wanted.kind == kind, wanted.id == id { continue }
                node.entries[name] = wanted.map { .clean($0.kind, $0.id) }
                changed.append(name)
            case .local(let child, let kind)?:
                guard let childNode = local.nodes[child], !childNode.ignored else { continue }
                let current = uploadedID(childNode)
                if kind == .directory, let wanted, wanted.kind == .directory {
                    if current != wanted.id || childNode.isDirty {
                        local.nodes[directory] = node
                        apply(child, target: wanted.id, &local, held: held)
                        node = local.nodes[directory] ?? node
                    }
                    continue
                }
                if kind == .directory, wanted == nil, current == nil { continue }  // a local empty directory stays
                if childNode.isDirty, kind != .directory { continue }  // written since: uploads on top next time
                if let wanted, current == wanted.id, childNode.entryKind == wanted.kind { continue }
                let (removed, files) = local.remove(child, held: held)
                changes += removed
                removedFiles += files
                node.entries[name] = wanted.map { .clean($0.kind, $0.id) }
                changed.append(name)
            }
        }
        if !node.isDirty { node.uploaded = LocalNode.Uploaded(generation: node.generation, id: target) }
        local.nodes[directory] = node
        for name in changed { changes.append(.entry(directory: directory, name: name, item: node.entries[name])) }
        changes.append(.node(node))
        if !changed.isEmpty { changedNames[directory, default: []] += changed }
    }
}
