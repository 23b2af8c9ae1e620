import CGit2
package import MesaCore

extension MesaRepository {
    /// Compares two trees (or the trees of two commits) with libgit2: `git_diff_tree_to_tree`, then
    /// `git_diff_find_similar` for renames, then each delta's patch for hunks and binary detection.
    /// - Parameters:
    ///   - old: a tree or commit id; `nil` for the empty tree.
    ///   - new: a tree or commit id; `nil` for the empty tree.
    ///   - contextLines: unchanged lines shown around each change (git's default is 3).
    package func diff(from old: ObjectID?, to new: ObjectID?, contextLines: Int = 3) throws(TreeError) -> TreeDiff {
        let oldTree = try old.map { (id) throws(TreeError) in try rootTree(of: id) }
        let newTree = try new.map { (id) throws(TreeError) in try rootTree(of: id) }
        return try git.withHandle { (handle) throws(TreeError) -> TreeDiff in
            let diff = try Self.makeDiff(handle, oldTree, newTree, contextLines: contextLines)
            defer { git_diff_free(diff) }
            var entries: [DiffEntry] = []
            for index in 0..<git_diff_num_deltas(diff) {
                var patch: OpaquePointer?
                try GitError.check(git_patch_from_diff(&patch, diff, index), operation: "git_patch_from_diff")
                defer { git_patch_free(patch) }
                guard let patch, let entry = try Self.entry(of: patch) else { continue }
                entries.append(entry)
            }
            return TreeDiff(entries: entries)
        }
    }

    /// The diff as `git diff` prints it (`git_diff_to_buf` with `GIT_DIFF_FORMAT_PATCH`).
    package func unifiedDiff(
        from old: ObjectID?,
        to new: ObjectID?,
        contextLines: Int = 3
    ) throws(TreeError) -> String {
        let oldTree = try old.map { (id) throws(TreeError) in try rootTree(of: id) }
        let newTree = try new.map { (id) throws(TreeError) in try rootTree(of: id) }
        return try git.withHandle { (handle) throws(TreeError) -> String in
            let diff = try Self.makeDiff(handle, oldTree, newTree, contextLines: contextLines)
            defer { git_diff_free(diff) }
            var buffer = git_buf()
            defer { git_buf_dispose(&buffer) }
            try GitError.check(git_diff_to_buf(&buffer, diff, GIT_DIFF_FORMAT_PATCH), operation: "git_diff_to_buf")
            // SAFETY: libgit2 filled `buffer` with `size` bytes; it is copied here, before the deferred dispose.
            return String(decoding: UnsafeRawBufferPointer(start: buffer.ptr, count: buffer.size), as: UTF8.self)
        }
    }

    /// A diff with renames detected; the caller frees it with `git_diff_free`.
    private static func makeDiff(
        _ handle: GitHandle,
        _ old: ObjectID?,
        _ new: ObjectID?,
        contextLines: Int
    ) throws(TreeError) -> OpaquePointer {
        // libgit2 takes NULL for an empty side; the empty tree need not be in the store.
        let oldObject = try old.flatMap { (id) throws(TreeError) in
            id == TreeCodec.emptyTreeID ? nil : try handle.lookupTree(id)
        }
        defer { git_tree_free(oldObject) }
        let newObject = try new.flatMap { (id) throws(TreeError) in
            id == TreeCodec.emptyTreeID ? nil : try handle.lookupTree(id)
        }
        defer { git_tree_free(newObject) }

        var options = git_diff_options()
        try GitError.check(
            git_diff_options_init(&options, UInt32(GIT_DIFF_OPTIONS_VERSION)), operation: "git_diff_options_init")
        options.context_lines = UInt32(max(0, contextLines))
        var diff: OpaquePointer?
        try GitError.check(
            git_diff_tree_to_tree(&diff, handle.repository, oldObject, newObject, &options),
            operation: "git_diff_tree_to_tree")
        guard let diff else { throw .invalidArgument("git_diff_tree_to_tree returned no diff") }

        var find = git_diff_find_options()
        do {
            try GitError.check(
                git_diff_find_options_init(&find, UInt32(GIT_DIFF_FIND_OPTIONS_VERSION)),
                operation: "git_diff_find_options_init")
            find.flags = GIT_DIFF_FIND_RENAMES.rawValue
            try GitError.check(git_diff_find_similar(diff, &find), operation: "git_diff_find_similar")
        } catch {
            git_diff_free(diff)
            throw error
        }
        return diff
    }

    /// Copies one patch into a ``DiffEntry``; `nil` for deltas we do not report (unmodified, ignored).
    private static func entry(of patch: OpaquePointer) throws(TreeError) -> DiffEntry? {
        guard let delta = git_patch_get_delta(patch)?.pointee else { return nil }
        let status: DiffStatus
        switch delta.status {
        case GIT_DELTA_ADDED, GIT_DELTA_COPIED: status = .added
        case GIT_DELTA_DELETED: status = .deleted
        case GIT_DELTA_MODIFIED, GIT_DELTA_TYPECHANGE: status = .modified
        case GIT_DELTA_RENAMED: status = .renamed
        default: return nil
        }
        let oldPath = delta.old_file.path.map { String(cString: $0) } ?? ""
        let newPath = delta.new_file.path.map { String(cString: $0) } ?? oldPath
        var hunks: [DiffHunk] = []
        for hunkIndex in 0..<git_patch_num_hunks(patch) {
            // SAFETY: hunk and line pointers belong to `patch`, which outlives this loop; values are copied at once.
            var hunkPointer: UnsafePointer<git_diff_hunk>?
            var lineCount = 0
            try GitError.check(
                git_patch_get_hunk(&hunkPointer, &lineCount, patch, hunkIndex), operation: "git_patch_get_hunk")
            guard let hunk = hunkPointer?.pointee else { continue }
            var lines: [DiffLine] = []
            lines.reserveCapacity(lineCount)
            for lineIndex in 0..<Int(lineCount) {
                var linePointer: UnsafePointer<git_diff_line>?
                try GitError.check(
                    git_patch_get_line_in_hunk(&linePointer, patch, hunkIndex, lineIndex),
                    operation: "git_patch_get_line_in_hunk")
                guard let line = linePointer?.pointee else { continue }
                lines.append(diffLine(line))
            }
            // SAFETY: `header` is a fixed 128-byte array of which libgit2 sets `header_len` bytes.
            let header = withUnsafeBytes(of: hunk.header) { raw in
                String(decoding: raw.prefix(hunk.header_len), as: UTF8.self)
            }
            hunks.append(
                DiffHunk(
                    oldStart: Int(hunk.old_start), oldLines: Int(hunk.old_lines), newStart: Int(hunk.new_start),
                    newLines: Int(hunk.new_lines), header: header.trimmingNewline(), lines: lines))
        }
        let zero = ObjectID(bytes: [UInt8](repeating: 0, count: ObjectID.byteCount))
        let oldID = ObjectID(delta.old_file.id)
        let newID = ObjectID(delta.new_file.id)
        return DiffEntry(
            path: status == .deleted ? oldPath : newPath,
            oldPath: status == .renamed ? oldPath : nil,
            status: status,
            oldMode: status == .added ? nil : FileMode(octal: UInt32(delta.old_file.mode)),
            newMode: status == .deleted ? nil : FileMode(octal: UInt32(delta.new_file.mode)),
            oldID: status == .added || oldID == zero ? nil : oldID,
            newID: status == .deleted || newID == zero ? nil : newID,
            isBinary: delta.flags & GIT_DIFF_FLAG_BINARY.rawValue != 0,
            hunks: hunks)
    }

    private static func diffLine(_ line: git_diff_line) -> DiffLine {
        let text =
            line.content.map { content in
                // SAFETY: `content` points at `content_len` bytes of the patch's buffer (not NUL-terminated).
                content.withMemoryRebound(to: UInt8.self, capacity: line.content_len) { bytes in
                    String(decoding: UnsafeBufferPointer(start: bytes, count: line.content_len), as: UTF8.self)
                }
            } ?? ""
        let kind: DiffLineKind
        switch UInt8(bitPattern: line.origin) {
        case UInt8(ascii: "+"): kind = .added
        case UInt8(ascii: "-"): kind = .deleted
        case UInt8(ascii: " "): kind = .context
        default:
            // GIT_DIFF_LINE_CONTEXT_EOFNL, _ADD_EOFNL, _DEL_EOFNL: libgit2's "\ No newline at end of file".
            return DiffLine(kind: .annotation, text: "\\ No newline at end of file")
        }
        return DiffLine(kind: kind, text: text.trimmingNewline())
    }
}

extension String {
    /// The string without one trailing `\n`.
    func trimmingNewline() -> String {
        var text = self
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
