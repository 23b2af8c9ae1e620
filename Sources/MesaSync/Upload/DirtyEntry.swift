package import MesaCore
import MesaTree

/// One path of a mount's dirty set, as the upload pipeline sees it: what the path holds now, relative to the base
/// the mount shows (DESIGN.md section 5, "Upload pipeline").
package struct DirtyEntry: Sendable, Hashable {
    /// What the path holds now.
    package enum Change: Sendable, Hashable {
        /// A regular file whose full new content is the local file at `contentPath` (an overlay file); `executable`
        /// gives mode `100755` instead of `100644`. A chmod alone is a `file` change whose content is unchanged.
        case file(contentPath: String, executable: Bool)
        /// A symbolic link to `target` (stored as a blob holding the target's bytes, as git does).
        case symlink(target: [UInt8])
        /// The path (a file, a symlink or a whole directory) no longer exists.
        case delete
    }

    /// The path's components from the repository root (byte names, as trees store them).
    package var path: [FileName]
    /// What the path holds now.
    package var change: Change

    /// Creates an entry.
    package init(path: [FileName], change: Change) {
        self.path = path
        self.change = change
    }

    /// The path as slash-separated text, non-UTF-8 bytes escaped as `\xNN` (for messages).
    package var displayPath: String {
        path.map { PathName.escaped($0.bytes) }.joined(separator: "/")
    }
}
