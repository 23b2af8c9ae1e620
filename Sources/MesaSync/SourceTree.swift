package import MesaCore

/// The kind of a tree entry as a filesystem shows it (git's modes, without MesaTree's types).
package enum EntryKind: Sendable, Hashable {
    /// A regular file (`100644`).
    case regular
    /// An executable file (`100755`).
    case executable
    /// A symbolic link (`120000`); the blob holds the target.
    case symlink
    /// A directory (`40000`); the id is a tree.
    case directory
    /// A submodule (`160000`); the id is a commit of another repository, shown as an empty directory.
    case submodule

    /// Whether the id names a blob (file content or a link target).
    package var isBlob: Bool { self == .regular || self == .executable || self == .symlink }

    /// Whether the entry shows as a directory.
    package var isDirectory: Bool { self == .directory || self == .submodule }
}

/// One entry of a tree.
package struct SourceEntry: Sendable, Hashable {
    /// The name within its tree.
    package var name: FileName
    /// What the entry is.
    package var kind: EntryKind
    /// The blob, tree or (submodule) commit id.
    package var id: ObjectID

    /// Creates an entry.
    package init(name: FileName, kind: EntryKind, id: ObjectID) {
        self.name = name
        self.kind = kind
        self.id = id
    }
}

/// A decoded tree: its entries in git order and an index by name, so a lookup in a large directory is O(1).
package struct SourceTree: Sendable, Hashable {
    /// The tree's id.
    package let id: ObjectID
    /// The entries in git order.
    package let entries: [SourceEntry]
    private let index: [FileName: Int]

    /// Creates a tree from its entries (in git order; names are unique in a valid tree).
    package init(id: ObjectID, entries: [SourceEntry]) {
        self.id = id
        self.entries = entries
        var index = [FileName: Int](minimumCapacity: entries.count)
        for (position, entry) in entries.enumerated() { index[entry.name] = position }
        self.index = index
    }

    package static func == (lhs: SourceTree, rhs: SourceTree) -> Bool { lhs.id == rhs.id && lhs.entries == rhs.entries }

    package func hash(into hasher: inout Hasher) { hasher.combine(id) }

    /// The entry with this name, if any.
    package func entry(named name: FileName) -> SourceEntry? {
        index[name].map { entries[$0] }
    }

    /// An estimate of the memory the tree holds, for the memory cache's bound.
    package var cost: Int { 96 + entries.reduce(0) { $0 + $1.name.bytes.count + 96 } }
}
