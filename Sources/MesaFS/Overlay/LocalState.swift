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

    /// Removes a node and everything below it from the live set. Nodes listed in `held` become orphans (the kernel
    /// holds them); the rest are gone.
    /// - Returns: the journal changes and the removed file nodes (whose overlay files go).
    mutating func remove(_ id: LocalID, held: Set<LocalID>) -> (changes: [JournalChange], files: [LocalID]) {
        guard let node = nodes.removeValue(forKey: id) else { return ([], []) }
        var changes: [JournalChange] = [.removeNode(id)]
        var files: [LocalID] = []
        for case .local(let child, _) in node.entries.values {
            let (more, removed) = remove(child, held: held)
            changes += more
            files += removed
        }
        if held.contains(id) {
            orphans[id] = node
        } else if node.kind == .file {
            files.append(id)
        }
        return (changes, files)
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
