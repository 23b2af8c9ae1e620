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
}
