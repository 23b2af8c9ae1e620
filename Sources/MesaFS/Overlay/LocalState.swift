import MesaCore
import MesaSync

/// The local nodes of a mount, in memory (kept in MesaFS's lock, written through to the journal). A plain value:
/// every change returns the journal changes that record it, which the caller writes before it lets go of the lock.
struct LocalState: Sendable {
    /// Every node, by number.
    var nodes: [LocalID: LocalNode] = [:]
    /// The local root of each repository that has one, by layout index.
    var roots: [Int: LocalID] = [:]
    /// Nodes that a `unlink` or `rmdir` removed while the kernel still holds their inode: they serve reads until it
    /// forgets them. Never in the journal.
    var orphans: [LocalID: LocalNode] = [:]
    /// The next node number.
    var nextID: Int64 = 1
    /// The last generation given.
    var generation: Int64 = 0

    /// Restores the state of a journal.
    init(snapshot: JournalSnapshot, layout: MountLayout) {
        nodes = snapshot.nodes
        for (path, entry) in snapshot.repositories {
            if let index = layout.index(of: path) { roots[index] = entry.root }
        }
        nextID = (nodes.keys.map(\.rawValue).max() ?? 0) + 1
        generation = nodes.values.map { max($0.generation, $0.uploaded?.generation ?? 0) }.max() ?? 0
    }

    init() {}

    /// A new node number.
    mutating func allocate() -> LocalID {
        defer { nextID += 1 }
        return LocalID(nextID)
    }

    /// A node, live or orphaned.
    func node(_ id: LocalID) -> LocalNode? { nodes[id] ?? orphans[id] }

    /// Stamps a node and its ancestors with a new generation (it changed).
    /// - Returns: the journal rows of the nodes that were clean until now (a node already dirty is rewritten
    ///   only when its own metadata changes, by the caller).
    mutating func touch(_ id: LocalID) -> [JournalChange] {
        generation += 1
        var changes: [JournalChange] = []
        if nodes[id]?.ignored == true {
            // A local-only node changes nothing that uploads: its ancestors stay as they are.
            nodes[id]?.generation = generation
            return []
        }
        var current: LocalID? = id
        while let number = current, var node = nodes[number] {
            let wasDirty = node.isDirty
            node.generation = generation
            nodes[number] = node
            if !wasDirty { changes.append(.node(node)) }
            current = node.parent
        }
        return changes
    }

    /// The node rows of a node and its ancestors (after a change that must reach the journal in full).
    func rows(from id: LocalID) -> [JournalChange] {
        var changes: [JournalChange] = []
        var current: LocalID? = id
        while let number = current, let node = nodes[number] {
            changes.append(.node(node))
            current = node.parent
        }
        return changes
    }

    /// Removes a node and everything below it from the live set. Nodes `held` says the kernel holds become orphans;
    /// the rest are gone. O(subtree).
    /// - Returns: the journal changes and the removed file nodes (whose overlay files go).
    mutating func remove(_ id: LocalID, held: (LocalID) -> Bool) -> (changes: [JournalChange], files: [LocalID]) {
        guard let node = nodes.removeValue(forKey: id) else { return ([], []) }
        var changes: [JournalChange] = [.removeNode(id)]
        var files: [LocalID] = []
        for case .local(let child, _) in node.entries.values {
            let (more, removed) = remove(child, held: held)
            changes += more
            files += removed
        }
        if held(id) {
            orphans[id] = node
        } else if node.kind == .file {
            files.append(id)
        }
        return (changes, files)
    }

    /// The changes among `changes` that belong in the journal: none about local-only (ignored) nodes.
    func journalable(_ changes: [JournalChange]) -> [JournalChange] {
        changes.filter { change in
            switch change {
            case .node(let node): return !node.ignored
            case .entry(let directory, _, let item):
                if nodes[directory]?.ignored == true { return false }
                if case .local(let id, _)? = item, node(id)?.ignored == true { return false }
                return true
            case .removeNode, .base, .sent: return true
            }
        }
    }

    /// Marks a subtree local-only or tracked (a rename across `.mesaignore`'s boundary).
    /// - Returns: the journal changes: rows of a subtree that becomes tracked (written whole, and stamped dirty so
    ///   it uploads), removals of one that becomes local-only.
    mutating func setIgnored(_ id: LocalID, _ ignored: Bool) -> [JournalChange] {
        guard var node = nodes[id], node.ignored != ignored else { return [] }
        node.ignored = ignored
        if !ignored {
            generation += 1
            node.generation = generation
            node.uploaded = nil
        }
        nodes[id] = node
        var changes: [JournalChange] = ignored ? [.removeNode(id)] : [.node(node)]
        for (name, item) in node.entries {
            if !ignored { changes.append(.entry(directory: id, name: name, item: item)) }
            if case .local(let child, _) = item { changes += setIgnored(child, ignored) }
        }
        return changes
    }

    /// Whether `ancestor` is `id` or one of its parents.
    func isAncestor(_ ancestor: LocalID, of id: LocalID) -> Bool {
        var current: LocalID? = id
        while let number = current {
            if number == ancestor { return true }
            current = nodes[number]?.parent
        }
        return false
    }

    /// Whether any node of a repository changed since its last upload.
    func hasPendingChanges(repository: Int) -> Bool {
        guard let root = roots[repository], let node = nodes[root] else { return false }
        return node.isDirty
    }
}
