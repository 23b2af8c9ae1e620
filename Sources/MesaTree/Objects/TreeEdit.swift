package import MesaCore

// Tree editing: a new root from a base tree plus path edits, rewriting only the trees along edited paths.
//
// The editor keeps a sparse in-memory overlay of the base: a directory is loaded (decoded from the store) only when
// an edit walks into it, and only loaded directories that an edit changed are encoded and stored again; every other
// subtree keeps its id untouched. Edits apply in order, so a rename may move a path created by an earlier edit.
// Writing an edit into a path whose parent is a file replaces that file by a directory; directories left empty
// disappear (git cannot record empty directories, DESIGN.md section 3), except the root, which becomes the empty
// tree.

/// One change to a tree, by path.
package enum TreeEdit: Sendable, Hashable {
    /// Creates or replaces the file at `path` (`mode` is regular, executable or symlink; a symlink's blob holds its
    /// target). Missing parent directories are created.
    case upsert(path: String, blob: ObjectID, mode: FileMode)
    /// Removes the file or directory at `path`.
    case delete(path: String)
    /// Moves the file or directory at `from` to `to`, replacing whatever is there.
    case rename(from: String, to: String)
}

extension MesaRepository {
    /// Builds a tree from `base` (the empty tree when `nil`) with `edits` applied in order, and stores every new
    /// tree. Only the trees on edited paths are rewritten.
    /// - Returns: the new root tree id.
    /// - Throws: ``TreeError/notFound(path:)`` when a delete or rename names a missing path,
    ///   ``TreeError/invalidPath(_:reason:)`` for a malformed path or a mode that is not a file mode.
    package func applying(_ edits: [TreeEdit], to base: ObjectID?) throws(TreeError) -> ObjectID {
        let root = EditNode(base: base ?? TreeCodec.emptyTreeID)
        for edit in edits {
            switch edit {
            case .upsert(let path, let blob, let mode):
                guard mode.isBlob else { throw .invalidPath(path, reason: "mode \(mode) is not a file mode") }
                let components = try PathName.components(of: path)
                let parent = try directory(root, components.dropLast(), path: path, create: true)
                try parent.set(components[components.count - 1], .entry(mode, blob), repository: self)
            case .delete(let path):
                let components = try PathName.components(of: path)
                let parent = try directory(root, components.dropLast(), path: path, create: false)
                guard try parent.remove(components[components.count - 1], repository: self) != nil else {
                    throw .notFound(path: path)
                }
            case .rename(let from, let to):
                let source = try PathName.components(of: from)
                let target = try PathName.components(of: to)
                let sourceParent = try directory(root, source.dropLast(), path: from, create: false)
                guard let slot = try sourceParent.remove(source[source.count - 1], repository: self) else {
                    throw .notFound(path: from)
                }
                let targetParent = try directory(root, target.dropLast(), path: to, create: true)
                try targetParent.set(target[target.count - 1], slot, repository: self)
            }
        }
        if let id = try write(root) { return id }
        return try storeTree(body: [])
    }

    /// The directory node at `components` below `root`, marking every node on the way as changed.
    private func directory(
        _ root: EditNode,
        _ components: ArraySlice<String>,
        path: String,
        create: Bool
    ) throws(TreeError) -> EditNode {
        var node = root
        node.changed = true
        for component in components {
            // Subscript the loaded table at once: a live copy would make the mutations below copy it whole.
            let slot = try node.load(repository: self)[component]
            let next: EditNode
            switch slot {
            case .node(let child):
                next = child
            case .entry(.directory, let id):
                next = EditNode(base: id)
                node.entries?[component] = .node(next)
            case .entry, nil:
                guard create else { throw .notFound(path: path) }
                next = EditNode(base: TreeCodec.emptyTreeID)
                node.entries?[component] = .node(next)
            }
            next.changed = true
            node = next
        }
        return node
    }

    /// Stores a changed node and its changed descendants.
    /// - Returns: the node's tree id, or `nil` when it ended up empty.
    private func write(_ node: EditNode) throws(TreeError) -> ObjectID? {
        guard node.changed, let entries = node.entries else { return node.base }
        var list: [TreeEntry] = []
        list.reserveCapacity(entries.count)
        for (name, slot) in entries {
            switch slot {
            case .entry(let mode, let id):
                list.append(TreeEntry(name: name, mode: mode, id: id))
            case .node(let child):
                if let id = try write(child) { list.append(TreeEntry(name: name, mode: .directory, id: id)) }
            }
        }
        if list.isEmpty { return nil }
        return try storeTree(body: TreeCodec.encode(list))
    }
}

/// A directory in the edit overlay.
private final class EditNode {
    enum Slot {
        /// An entry as it is (a file, or a directory not walked into).
        case entry(FileMode, ObjectID)
        /// A directory that edits walked into.
        case node(EditNode)
    }

    /// The tree this directory started from (new directories start from the empty tree).
    let base: ObjectID
    /// The entries by name, once loaded.
    var entries: [String: Slot]?
    /// Whether an edit touched this directory or below.
    var changed = false

    init(base: ObjectID) {
        self.base = base
    }

    func load(repository: MesaRepository) throws(TreeError) -> [String: Slot] {
        if let entries { return entries }
        var loaded: [String: Slot] = [:]
        for entry in try repository.tree(base) { loaded[entry.name] = .entry(entry.mode, entry.id) }
        entries = loaded
        return loaded
    }

    func set(_ name: String, _ slot: Slot, repository: MesaRepository) throws(TreeError) {
        _ = try load(repository: repository)
        entries?[name] = slot
    }

    func remove(_ name: String, repository: MesaRepository) throws(TreeError) -> Slot? {
        _ = try load(repository: repository)
        return entries?.removeValue(forKey: name)
    }
}
