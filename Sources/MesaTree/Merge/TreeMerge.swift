package import MesaCore

/// How a path conflicts in a three-way merge.
package enum ConflictKind: String, Sendable, Hashable {
    /// Both sides changed the file and the changes overlap.
    case bothModified
    /// Both sides added different files at the path (no base version).
    case bothAdded
    /// Ours deleted the file, theirs changed it.
    case deletedByUs
    /// Theirs deleted the file, ours changed it.
    case deletedByThem
}

/// One side of a conflict: the version of the file in the base, ours or theirs.
package struct ConflictSide: Sendable, Hashable {
    /// The file's mode on this side.
    package var mode: FileMode
    /// The file's blob on this side.
    package var id: ObjectID

    /// Creates a side.
    package init(mode: FileMode, id: ObjectID) {
        self.mode = mode
        self.id = id
    }
}

/// A conflicting path, with every side kept and the content the working copy shows.
package struct MergeConflict: Sendable, Hashable {
    /// The path (in ours when the sides disagree after a rename).
    package var path: String
    /// The kind of conflict.
    package var kind: ConflictKind
    /// The base version, if the file existed in the base.
    package var base: ConflictSide?
    /// Our version, unless we deleted the file.
    package var ours: ConflictSide?
    /// Their version, unless they deleted the file.
    package var theirs: ConflictSide?
    /// The working-copy rendering: both sides' text with `<<<<<<<`, `|||||||` (the base's lines), `=======` and
    /// `>>>>>>>` markers (git's diff3 style; ``ConflictMarkers`` reads them), or the surviving side's content when one side deleted the file (as git), or
    /// our content when the file is binary.
    package var workingCopy: [UInt8]
    /// Whether both sides have the file and it is binary (libgit2 renders no markers then).
    package var isBinary = false
}

/// The outcome of merging two trees against their base.
package struct TreeMergeResult: Sendable, Hashable {
    /// The merged tree when clean; with conflicts, the working tree: every clean path merged, and each conflicting
    /// path holding its ``MergeConflict/workingCopy``.
    package var tree: ObjectID
    /// The conflicting paths, sorted by path bytes; empty for a clean merge.
    package var conflicts: [MergeConflict]
    /// Whether the merge had no conflict.
    package var isClean: Bool { conflicts.isEmpty }
}
