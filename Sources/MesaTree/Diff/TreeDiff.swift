package import MesaCore

/// How a path differs between two trees.
package enum DiffStatus: String, Sendable, Hashable {
    /// Only in the new tree.
    case added
    /// Only in the old tree.
    case deleted
    /// In both, with other content or mode (a type change counts as a modification).
    case modified
    /// Moved, possibly with edits (libgit2's similarity detection, 50% by default).
    case renamed
}

/// The kind of one line of a hunk.
package enum DiffLineKind: String, Sendable, Hashable {
    /// Only in the new content.
    case added
    /// Only in the old content.
    case deleted
    /// In both.
    case context
    /// A remark such as `\ No newline at end of file`.
    case annotation
}

/// One line of a hunk.
package struct DiffLine: Sendable, Hashable {
    /// The line's kind.
    package var kind: DiffLineKind
    /// The line's text without its line terminator.
    package var text: String

    /// Creates a line.
    package init(kind: DiffLineKind, text: String) {
        self.kind = kind
        self.text = text
    }
}

/// A run of changed lines with their context, as in `@@ -oldStart,oldLines +newStart,newLines @@`.
package struct DiffHunk: Sendable, Hashable {
    /// First line in the old content (1-based; 0 for an empty side).
    package var oldStart: Int
    /// Lines from the old content.
    package var oldLines: Int
    /// First line in the new content.
    package var newStart: Int
    /// Lines from the new content.
    package var newLines: Int
    /// The `@@ ... @@` header line, without its terminator.
    package var header: String
    /// The lines.
    package var lines: [DiffLine]
}

/// One changed path between two trees.
package struct DiffEntry: Sendable, Hashable {
    /// The path in the new tree (the old path for deletions).
    package var path: String
    /// The path in the old tree, for renames.
    package var oldPath: String?
    /// What happened to the path.
    package var status: DiffStatus
    /// The old mode, `nil` when added.
    package var oldMode: FileMode?
    /// The new mode, `nil` when deleted.
    package var newMode: FileMode?
    /// The old blob, `nil` when added.
    package var oldID: ObjectID?
    /// The new blob, `nil` when deleted.
    package var newID: ObjectID?
    /// Whether either side is binary (then there are no hunks).
    package var isBinary: Bool
    /// The text hunks.
    package var hunks: [DiffHunk]

    /// Lines added across the hunks.
    package var additions: Int { hunks.reduce(0) { $0 + $1.lines.count { $0.kind == .added } } }
    /// Lines deleted across the hunks.
    package var deletions: Int { hunks.reduce(0) { $0 + $1.lines.count { $0.kind == .deleted } } }
}

/// The differences between two trees, one entry per changed path, in path order.
package struct TreeDiff: Sendable, Hashable {
    /// The changed paths.
    package var entries: [DiffEntry]
    /// Lines added in all entries.
    package var additions: Int { entries.reduce(0) { $0 + $1.additions } }
    /// Lines deleted in all entries.
    package var deletions: Int { entries.reduce(0) { $0 + $1.deletions } }
}
