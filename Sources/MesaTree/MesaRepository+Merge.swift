import CGit2
package import MesaCore
import MesaStore

extension MesaRepository {
    /// Merges `theirs` into `ours` against `base` with libgit2 (`git_merge_trees`, renames detected).
    ///
    /// Conflicts are read from the merged index (`git_index_conflict_iterator_new`) with all three sides; the working
    /// copy of a file both sides changed comes from `git_merge_file_from_index` (conflict markers labelled with
    /// `oursLabel` and `theirsLabel`). The conflicting entries are then dropped from the index, the rest written as a
    /// tree (`git_index_write_tree_to`), and the working copies written on top.
    /// - Parameters:
    ///   - base: the common ancestor, a tree or commit; `nil` when there is none.
    ///   - ours: a tree or commit.
    ///   - theirs: a tree or commit.
    package func merge(
        base: ObjectID?,
        ours: ObjectID,
        theirs: ObjectID,
        oursLabel: String = "ours",
        theirsLabel: String = "theirs"
    ) throws(TreeError) -> TreeMergeResult {
        let baseTree = try base.map { (id) throws(TreeError) in try rootTree(of: id) }
        let ourTree = try rootTree(of: ours)
        let theirTree = try rootTree(of: theirs)
        for tree in [baseTree, ourTree, theirTree] where tree == TreeCodec.emptyTreeID {
            _ = try storeTree(body: [])
        }

        let (cleanTree, rawConflicts) = try git.withHandle {
            (handle) throws(TreeError) -> (ObjectID, [MergeConflict]) in
            let baseObject = try baseTree.map { (id) throws(TreeError) in try handle.lookupTree(id) }
            defer { git_tree_free(baseObject) }
            let ourObject = try handle.lookupTree(ourTree)
            defer { git_tree_free(ourObject) }
            let theirObject = try handle.lookupTree(theirTree)
            defer { git_tree_free(theirObject) }

            var options = git_merge_options()
            try GitError.check(
                git_merge_options_init(&options, UInt32(GIT_MERGE_OPTIONS_VERSION)),
                operation: "git_merge_options_init")
            options.flags |= GIT_MERGE_FIND_RENAMES.rawValue
            var index: OpaquePointer?
            try GitError.check(
                git_merge_trees(&index, handle.repository, baseObject, ourObject, theirObject, &options),
                operation: "git_merge_trees")
            defer { git_index_free(index) }

            var conflicts: [MergeConflict] = []
            if git_index_has_conflicts(index) != 0 {
                conflicts = try Self.conflicts(
                    in: index, handle: handle, oursLabel: oursLabel, theirsLabel: theirsLabel)
                try GitError.check(git_index_conflict_cleanup(index), operation: "git_index_conflict_cleanup")
            }
            var oid = git_oid()
            try GitError.check(
                git_index_write_tree_to(&oid, index, handle.repository), operation: "git_index_write_tree_to")
            return (ObjectID(oid), conflicts)
        }

        var conflicts: [MergeConflict] = []
        var edits: [TreeEdit] = []
        for var conflict in rawConflicts {
            if conflict.workingCopy.isEmpty, conflict.ours == nil || conflict.theirs == nil {
                // One side deleted the file: like git, the working copy keeps the surviving side as it is.
                if let survivor = conflict.ours ?? conflict.theirs { conflict.workingCopy = try readBlob(survivor.id) }
            } else if conflict.workingCopy.isEmpty, let ours = conflict.ours, ours.mode.isBlob {
                // Both sides have it and libgit2 rendered nothing: binary content (a text conflict always has marker
                // lines). Our version stays, as git leaves it.
                conflict.workingCopy = try readBlob(ours.id)
                conflict.isBinary = !conflict.workingCopy.isEmpty
            }
            let mode = conflict.ours?.mode ?? conflict.theirs?.mode ?? .regular
            if mode.isBlob {
                edits.append(.upsert(path: conflict.path, blob: try writeBlob(conflict.workingCopy), mode: mode))
            }
            conflicts.append(conflict)
        }
        let tree = edits.isEmpty ? cleanTree : try applying(edits, to: cleanTree)
        return TreeMergeResult(tree: tree, conflicts: conflicts.sorted { PathName.precedes($0.path, $1.path) })
    }

    /// Reads the conflicts of a merged index, rendering the working copy of files both sides have.
    private static func conflicts(
        in index: OpaquePointer?,
        handle: GitHandle,
        oursLabel: String,
        theirsLabel: String
    ) throws(TreeError) -> [MergeConflict] {
        var iterator: OpaquePointer?
        try GitError.check(
            git_index_conflict_iterator_new(&iterator, index), operation: "git_index_conflict_iterator_new")
        defer { git_index_conflict_iterator_free(iterator) }
        var conflicts: [MergeConflict] = []
        while true {
            // SAFETY: the entries belong to `index`, which outlives the loop; their fields are copied at once.
            var ancestor: UnsafePointer<git_index_entry>?
            var ours: UnsafePointer<git_index_entry>?
            var theirs: UnsafePointer<git_index_entry>?
            let code = git_index_conflict_next(&ancestor, &ours, &theirs, iterator)
            if code == GIT_ITEROVER.rawValue { break }
            try GitError.check(code, operation: "git_index_conflict_next")
            guard let any = ours ?? theirs ?? ancestor, let pathPointer = any.pointee.path else { continue }
            let path = String(cString: pathPointer)
            let kind: ConflictKind =
                if ours == nil {
                    .deletedByUs
                } else if theirs == nil {
                    .deletedByThem
                } else if ancestor == nil {
                    .bothAdded
                } else {
                    .bothModified
                }
            var workingCopy: [UInt8] = []
            if let ours, let theirs {
                workingCopy = try render(
                    ancestor, ours, theirs, handle: handle, oursLabel: oursLabel, theirsLabel: theirsLabel)
            }
            conflicts.append(
                MergeConflict(
                    path: path, kind: kind, base: side(ancestor), ours: side(ours), theirs: side(theirs),
                    workingCopy: workingCopy))
        }
        return conflicts
    }

    private static func side(_ entry: UnsafePointer<git_index_entry>?) -> ConflictSide? {
        guard let entry, let mode = FileMode(octal: entry.pointee.mode) else { return nil }
        return ConflictSide(mode: mode, id: ObjectID(entry.pointee.id))
    }

    /// The content with conflict markers in diff3 style (`git_merge_file_from_index`): the target's lines, `||||||| base`
    /// and the base's, `=======`, the source's, then `>>>>>>>`.
    private static func render(
        _ ancestor: UnsafePointer<git_index_entry>?,
        _ ours: UnsafePointer<git_index_entry>,
        _ theirs: UnsafePointer<git_index_entry>,
        handle: GitHandle,
        oursLabel: String,
        theirsLabel: String
    ) throws(TreeError) -> [UInt8] {
        var options = git_merge_file_options()
        try GitError.check(
            git_merge_file_options_init(&options, UInt32(GIT_MERGE_FILE_OPTIONS_VERSION)),
            operation: "git_merge_file_options_init")
        // diff3 style: each region carries the base's lines too, so a client (and ConflictMarkers) sees all three sides.
        options.flags |= GIT_MERGE_FILE_STYLE_DIFF3.rawValue
        var result = git_merge_file_result()
        defer { git_merge_file_result_free(&result) }
        let code = "base".withCString { baseLabel in
            oursLabel.withCString { ourLabel in
                theirsLabel.withCString { theirLabel in
                    options.ancestor_label = baseLabel
                    options.our_label = ourLabel
                    options.their_label = theirLabel
                    return git_merge_file_from_index(&result, handle.repository, ancestor, ours, theirs, &options)
                }
            }
        }
        try GitError.check(code, operation: "git_merge_file_from_index")
        // SAFETY: libgit2 owns `len` bytes at `ptr` until `git_merge_file_result_free`, deferred above.
        return Array(UnsafeRawBufferPointer(start: result.ptr, count: result.len))
    }
}
