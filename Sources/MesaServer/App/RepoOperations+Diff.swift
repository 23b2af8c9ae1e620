import Foundation
package import MesaCore
import MesaTree
package import MesaWire

// `GET diff`: MesaTree's tree diff in Mesa's JSON shape. Conflicted paths of the head change (a merge kept with
// allow_conflicted) appear only in `conflicted_entries`, their hunks read from the conflict markers the merge wrote.

extension RepoOperations {
    /// At most this many entries are listed; the rest set `truncated`.
    static let diffEntryLimit = 1000
    /// Files larger than this are listed without hunks (`omitted_reason: too_large`).
    static let diffFileLimit: Int64 = 1 << 20

    /// The changes a diff compares: `head` defaults to the default bookmark's change, `base` to head's first parent.
    package func diffEnds(base: String?, head: String?) throws -> (base: ChangeID, head: ChangeID) {
        let headID = try head.map(Self.changeID) ?? headChange()
        let baseID = try base.map(Self.changeID) ?? (try repository.change(headID)?.parents.first ?? .root)
        return (baseID, headID)
    }

    /// The unified diff text (`Accept: text/plain`).
    package func diffText(base: ChangeID, head: ChangeID) throws -> String {
        try repository.unifiedDiff(from: repository.tree(ofChange: base), to: repository.tree(ofChange: head))
    }

    /// The JSON diff; `conflicts` is `include`, `exclude` or `only`.
    package func diff(base: ChangeID, head: ChangeID, conflicts: String) throws -> Diff {
        guard ["include", "exclude", "only"].contains(conflicts) else {
            throw APIError.badRequest("conflicts must be include, exclude or only")
        }
        let headTree = try repository.tree(ofChange: head)
        let treeDiff = try repository.diff(from: try repository.tree(ofChange: base), to: headTree)
        let conflictedPaths = try repository.change(head).flatMap { _ in try catalog.details(of: head)?.conflicts } ?? []
        // Paths by bytes, as trees compare names (`String` equality merges canonically equivalent spellings).
        var conflicted = Set<[UInt8]>()
        let conflictedInOrder = conflictedPaths.sorted(by: PathName.precedes).filter {
            conflicted.insert(Array($0.utf8)).inserted
        }

        var entries: [MesaWire.DiffEntry] = []
        var additions = 0
        var deletions = 0
        var truncated = false
        if conflicts != "only" {
            for entry in treeDiff.entries where !conflicted.contains(Array(entry.path.utf8)) {
                guard entries.count < Self.diffEntryLimit else {
                    truncated = true
                    break
                }
                entries.append(try json(entry, additions: &additions, deletions: &deletions))
            }
        }
        var conflictedEntries: [ConflictedDiffEntry] = []
        if conflicts != "exclude" {
            for path in conflictedInOrder {
                // A conflicted path the head no longer has shows as empty; a failure to read it is an error.
                let bytes = try entryIfPresent(at: path, in: headTree).map { try repository.readBlob($0.id) } ?? []
                conflictedEntries.append(
                    ConflictedDiffEntry(path: path, hunks: Self.conflictHunks(bytes), sizeBytes: Int64(bytes.count)))
            }
        }
        let stats = DiffStats(
            entries: entries.count, additions: additions, deletions: deletions, changes: additions + deletions,
            conflictedEntries: conflictedEntries.count, conflictedHunks: conflictedEntries.reduce(0) { $0 + $1.hunks.count })
        return Diff(
            baseChangeID: base.description, headChangeID: head.description, stats: stats, truncated: truncated,
            entries: entries, conflictedEntries: conflictedEntries)
    }

    private func json(_ entry: MesaTree.DiffEntry, additions: inout Int, deletions: inout Int) throws -> MesaWire.DiffEntry {
        let status: MesaWire.DiffStatus
        switch entry.status {
        case .added: status = .added
        case .deleted: status = .deleted
        case .modified: status = .modified
        case .renamed: status = .renamed
        }
        let size = try (entry.newID ?? entry.oldID).map { try repository.objectHeader($0).size }
        if entry.isBinary {
            return MesaWire.DiffEntry(path: entry.path, status: status, oldPath: entry.oldPath, omittedReason: .binary, hunks: nil, sizeBytes: size)
        }
        if let size, size > Self.diffFileLimit {
            return MesaWire.DiffEntry(path: entry.path, status: status, oldPath: entry.oldPath, omittedReason: .tooLarge, hunks: nil, sizeBytes: size)
        }
        let hunks = entry.hunks.map { hunk in
            MesaWire.DiffHunk(
                oldStart: hunk.oldStart, oldLines: hunk.oldLines, newStart: hunk.newStart, newLines: hunk.newLines,
                lines: hunk.lines.map { line in
                    let kind: MesaWire.DiffLine.Kind
                    switch line.kind {
                    case .added: kind = .added
                    case .deleted: kind = .deleted
                    case .context: kind = .context
                    case .annotation: kind = .annotation
                    }
                    if kind == .added { additions += 1 }
                    if kind == .deleted { deletions += 1 }
                    return MesaWire.DiffLine(kind: kind, text: line.text)
                })
        }
        return MesaWire.DiffEntry(path: entry.path, status: status, oldPath: entry.oldPath, hunks: hunks, sizeBytes: size)
    }
}
