package import MesaCore

// Tree editing: a new root from a base tree plus path edits, rewriting only the trees along edited paths.
//
// The editor keeps a sparse in-memory overlay of the base: a directory is loaded (decoded from the store) only when
// an edit walks into it, and only loaded directories that an edit changed are encoded and stored again; every other
// subtree keeps its id untouched. Edits apply in order, so a rename may move a path created by an earlier edit.
// Writing an edit into a path whose parent is a file replaces that file by a directory; directories left empty
// disappear (git cannot record empty directories, DESIGN.md section 3), except the root, which becomes the empty
// tree. Names are keyed by their bytes, as git keys them: `String` equality would merge canonically equivalent
// names (a precomposed `é` and `e` plus a combining accent) into one entry.

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
    ///   ``TreeError/invalid(_:)`` for a malformed path or a mode that is not a file mode.
    package func applying(_ edits: [TreeEdit], to base: ObjectID?) throws(TreeError) -> ObjectID {
        let root = EditNode(base: base ?? TreeCodec.emptyTreeID)
        for edit in edits {
            switch edit {
            case .upsert(let path, let blob, let mode):
                guard mode.isBlob else {
                    throw .invalid(ValidationFailure(.badMode, at: path, "mode \(mode) is not a file mode"))
                }
                let components = try TreeValidator.components(of: path)
                let parent = try directory(root, components.dropLast(), path: path, create: true)
                try parent.set(components[components.count - 1], .entry(mode, blob), repository: self)
            case .delete(let path):
                let components = try TreeValidator.components(of: path)
                let parent = try directory(root, components.dropLast(), path: path, create: false)
                guard try parent.remove(components[components.count - 1], repository: self) != nil else {
                    throw .notFound(path: path)
                }
            case .rename(let from, let to):
                let source = try TreeValidator.components(of: from)
                let target = try TreeValidator.components(of: to)
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
        _ components: ArraySlice<FileName>,
        path: String,
        create: Bool
    ) throws(TreeError) -> EditNode {
        var node = root
        node.changed = true
        for component in components {
            let next: EditNode
            switch try node.slot(component, repository: self) {
            case .node(let child):
                next = child
            case .entry(.directory, let id):
                next = EditNode(base: id)
                try node.set(component, .node(next), repository: self)
            case .entry, nil:
                guard create else { throw .notFound(path: path) }
                next = EditNode(base: TreeCodec.emptyTreeID)
                try node.set(component, .node(next), repository: self)
            }
            next.changed = true
            node = next
        }
        return node
    }

    /// Stores a changed node and its changed descendants.
    /// - Returns: the node's tree id, or `nil` when it ended up empty.
    private func write(_ node: EditNode) throws(TreeError) -> ObjectID? {
        guard node.changed else { return node.base }
        try node.load(repository: self)
        var added: [(key: [UInt8], entry: TreeEntry)] = []
        for (name, slot) in node.overrides {
            let entry: TreeEntry
            switch slot {
            case nil:
                continue
            case .entry(let mode, let id)?:
                entry = TreeEntry(name: name.string, mode: mode, id: id)
            case .node(let child)?:
                guard let id = try write(child) else { continue }
                entry = TreeEntry(name: name.string, mode: .directory, id: id)
            }
            added.append((name.bytes + (entry.mode == .directory ? [UInt8(ascii: "/")] : []), entry))
        }
        added.sort { $0.key.lexicographicallyPrecedes($1.key) }
        let body = node.merged(with: added)
        if body.isEmpty { return nil }
        return try storeTree(body: body)
    }
}

/// A directory in the edit overlay: the base tree's bytes, indexed in place, plus the entries edits replaced.
///
/// The base is never decoded into values: its entries are byte ranges found by binary search in git order, and a
/// rewrite copies the untouched ranges verbatim around the few replaced entries. A one-file edit in a directory of
/// 100,000 entries therefore costs one scan of its bytes, not 100,000 strings.
private final class EditNode {
    enum Slot {
        /// An entry as it is (a file, or a directory not walked into).
        case entry(FileMode, ObjectID)
        /// A directory that edits walked into.
        case node(EditNode)
    }

    /// One entry of the base tree: its bytes are `body[start..<end]`, its name `body[nameStart..<nameEnd]`.
    private struct BaseEntry {
        var start: Int
        var nameStart: Int
        var nameEnd: Int
        var mode: FileMode
        var end: Int { nameEnd + 1 + ObjectID.byteCount }
    }

    /// The tree this directory started from (new directories start from the empty tree).
    let base: ObjectID
    /// Whether an edit touched this directory or below.
    var changed = false
    /// Entries set (`.some(slot)`) or deleted (`.some(nil)`) by edits, by name (bytes).
    private(set) var overrides: [FileName: Slot?] = [:]
    private var body: [UInt8] = []
    private var index: [BaseEntry] = []
    private var loaded = false

    init(base: ObjectID) {
        self.base = base
    }

    /// Reads and indexes the base tree, once.
    func load(repository: MesaRepository) throws(TreeError) {
        guard !loaded else { return }
        loaded = true
        guard base != TreeCodec.emptyTreeID else { return }
        body = try repository.treeBody(base)
        var position = 0
        while position < body.count {
            let start = position
            var mode: UInt32 = 0
            while position < body.count, body[position] != UInt8(ascii: " ") {
                mode = mode << 3 | UInt32((body[position] &- UInt8(ascii: "0")) & 7)
                position += 1
            }
            let nameStart = position + 1
            var nameEnd = nameStart
            while nameEnd < body.count, body[nameEnd] != 0 { nameEnd += 1 }
            guard nameEnd + 1 + ObjectID.byteCount <= body.count, nameEnd > nameStart,
                let fileMode = FileMode(octal: mode)
            else {
                throw .corruptObject(base, reason: "malformed entry at byte \(start)")
            }
            index.append(BaseEntry(start: start, nameStart: nameStart, nameEnd: nameEnd, mode: fileMode))
            position = nameEnd + 1 + ObjectID.byteCount
        }
        // Trees written by git are sorted; sort a tree that is not, so binary search and merging stay correct.
        let sorted = zip(index, index.dropFirst()).allSatisfy { compare($0.0, $0.1) < 0 }
        if !sorted { index.sort { compare($0, $1) < 0 } }
    }

    /// The entry called `name`, as edits left it.
    func slot(_ name: FileName, repository: MesaRepository) throws(TreeError) -> Slot? {
        try load(repository: repository)
        if let override = overrides[name] { return override }
        guard let position = find(name) else { return nil }
        let entry = index[position]
        // The index only holds entries whose 20 id bytes were checked to be there.
        let id = ObjectID(bytes: body[(entry.nameEnd + 1)..<entry.end])!
        return .entry(entry.mode, id)
    }

    func set(_ name: FileName, _ slot: Slot, repository: MesaRepository) throws(TreeError) {
        try load(repository: repository)
        overrides[name] = .some(slot)
    }

    func remove(_ name: FileName, repository: MesaRepository) throws(TreeError) -> Slot? {
        let old = try slot(name, repository: repository)
        if old != nil { overrides[name] = .some(nil) }
        return old
    }

    /// The new tree body: the base entries that no edit touched, merged in git order with `added` (sorted).
    func merged(with added: [(key: [UInt8], entry: TreeEntry)]) -> [UInt8] {
        let replaced = Set(overrides.keys.compactMap { find($0) })
        var out = [UInt8]()
        out.reserveCapacity(body.count + added.count * 64)
        var next = 0
        for (position, entry) in index.enumerated() where !replaced.contains(position) {
            while next < added.count, compare(entry, added[next].key) > 0 {
                out.append(contentsOf: TreeCodec.encode([added[next].entry]))
                next += 1
            }
            out.append(contentsOf: body[entry.start..<entry.end])
        }
        for item in added[next...] { out.append(contentsOf: TreeCodec.encode([item.entry])) }
        return out
    }

    /// The position of the base entry called `name`, by binary search in git order.
    private func find(_ name: FileName) -> Int? {
        let bytes = name.bytes
        for key in [bytes, bytes + [UInt8(ascii: "/")]] {
            var low = 0
            var high = index.count
            while low < high {
                let middle = (low + high) / 2
                let order = compare(index[middle], key)
                if order == 0 { return middle }
                if order < 0 { low = middle + 1 } else { high = middle }
            }
        }
        return nil
    }

    /// Compares the sort keys of two base entries.
    private func compare(_ left: BaseEntry, _ right: BaseEntry) -> Int {
        compare(left) { offset in byte(of: right, at: offset) }
    }

    /// Byte `offset` of an entry's sort key (its name, plus `/` for a directory), or `nil` past its end.
    private func byte(of entry: BaseEntry, at offset: Int) -> UInt8? {
        let nameLength = entry.nameEnd - entry.nameStart
        if offset < nameLength { return body[entry.nameStart + offset] }
        return offset == nameLength && entry.mode == .directory ? UInt8(ascii: "/") : nil
    }

    /// Compares an entry's sort key with another key given byte by byte: negative, zero or positive.
    private func compare(_ entry: BaseEntry, _ other: (Int) -> UInt8?) -> Int {
        var offset = 0
        while true {
            let mine = byte(of: entry, at: offset)
            let theirs = other(offset)
            guard let mine else { return theirs == nil ? 0 : -1 }
            guard let theirs else { return 1 }
            if mine != theirs { return Int(mine) - Int(theirs) }
            offset += 1
        }
    }

    /// Compares a base entry's sort key with `key` bytewise: negative, zero or positive.
    private func compare(_ entry: BaseEntry, _ key: [UInt8]) -> Int {
        compare(entry) { offset in offset < key.count ? key[offset] : nil }
    }
}
