package import MesaCore

/// One entry of a git tree: a name, a mode and the id of a blob, a subtree or (for submodules) a commit.
package struct TreeEntry: Sendable, Hashable {
    /// The entry's name within its tree (one path component, UTF-8).
    package var name: String
    /// The entry's mode.
    package var mode: FileMode
    /// The blob, tree or commit id.
    package var id: ObjectID

    /// Creates an entry.
    package init(name: String, mode: FileMode, id: ObjectID) {
        self.name = name
        self.mode = mode
        self.id = id
    }

    /// Entries are equal when their names have the same bytes (not merely canonically equivalent text, as `String`
    /// equality would have it), and their modes and ids are equal.
    package static func == (lhs: TreeEntry, rhs: TreeEntry) -> Bool {
        lhs.name.utf8.elementsEqual(rhs.name.utf8) && lhs.mode == rhs.mode && lhs.id == rhs.id
    }

    /// Hashes the name's bytes, the mode and the id.
    package func hash(into hasher: inout Hasher) {
        hasher.combine(FileName(name))
        hasher.combine(mode)
        hasher.combine(id)
    }
}

/// A tree entry found by a recursive walk, with its full path from the walk's root.
package struct TreeWalkEntry: Sendable, Hashable {
    /// The slash-separated path from the root of the walk.
    package var path: String
    /// The entry.
    package var entry: TreeEntry

    /// Creates a walk entry.
    package init(path: String, entry: TreeEntry) {
        self.path = path
        self.entry = entry
    }

    /// Walk entries are equal when their paths have the same bytes and their entries are equal.
    package static func == (lhs: TreeWalkEntry, rhs: TreeWalkEntry) -> Bool {
        lhs.path.utf8.elementsEqual(rhs.path.utf8) && lhs.entry == rhs.entry
    }

    /// Hashes the path's bytes and the entry.
    package func hash(into hasher: inout Hasher) {
        hasher.combine(Array(path.utf8))
        hasher.combine(entry)
    }
}
