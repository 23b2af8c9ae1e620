import Foundation
import MesaCore
import MesaTree
package import MesaWire

extension RepoOperations {
    /// The nearest common ancestor of two changes in the change graph (the root when they share nothing else).
    func mergeBase(_ a: ChangeID, _ b: ChangeID) throws -> ChangeID {
        var ancestorsOfA = Set<ChangeID>([a])
        try walkAncestry(from: [a]) { _, record in
            ancestorsOfA.formUnion(record.parents)
            return true
        }
        var base = ChangeID.root
        try walkAncestry(from: [b]) { id, _ in
            if ancestorsOfA.contains(id) { base = id }
            return base.isRoot
        }
        return base
    }

    /// `POST bookmarks/merge`: merges the source bookmark's change into the target's with a merge change.
    package func merge(_ body: MergeRequest, principal: Principal) throws -> MergeResult {
        try Self.checkMessage(body.message)
        let target = try bookmarkTarget(body.target)
        let source = try bookmarkTarget(body.source)
        if try isAncestor(source, of: target) {
            let commit = try repository.change(target)?.commit.hex
            return MergeResult(
                mergeType: "no_op", isConflicted: false, commitOID: commit, changeID: target.description,
                target: body.target, source: body.source, sourceDeleted: false)
        }
        let base = try mergeBase(target, source)
        let targetTree = try repository.tree(ofChange: target)
        let now = Int64(Date().timeIntervalSince1970)
        let signature = try Self.author(nil, principal: principal, time: now)
        let parents = [target, source]
        var parentCommits: [ObjectID] = []
        for parent in parents { if let record = try repository.change(parent) { parentCommits.append(record.commit) } }
        let id = ChangeID.random()
        // The merge's computed objects and the resolutions' content are taken back if the merge is refused.
        let (commit, remaining) = try storing { () throws -> (ObjectID, [String]) in
            let merged = try repository.merge(
                base: try repository.tree(ofChange: base), ours: targetTree, theirs: try repository.tree(ofChange: source),
                oursLabel: body.target, theirsLabel: body.source)
            // Resolutions replace conflicting files; their content is stored only once the merge may go ahead.
            var planned: [PlannedEdit] = []
            var sides: [TreeEdit] = []
            // Paths by bytes, as trees compare names.
            var resolved = Set<[UInt8]>()
            for resolution in body.resolutions ?? [] {
                let key = Array(resolution.path.utf8)
                guard let conflict = merged.conflicts.first(where: { $0.path.utf8.elementsEqual(key) }) else { continue }
                if try Self.isPerHunk(resolution) {
                    let bytes = try Self.resolvingHunks(resolution.hunks ?? [], of: conflict.path, in: conflict.workingCopy)
                    let mode = conflict.ours?.mode ?? conflict.theirs?.mode ?? .regular
                    planned.append(.upsert(path: resolution.path, bytes: bytes, mode: mode.isBlob ? mode : .regular))
                    resolved.insert(key)
                    continue
                }
                let side: MesaTree.ConflictSide?
                switch resolution.take {
                case "target": side = conflict.ours
                case "source": side = conflict.theirs
                case nil: side = nil
                case let other?: throw APIError.badRequest("take must be \"target\" or \"source\", not '\(other)'")
                }
                if let content = resolution.content {
                    guard let bytes = RouteSupport.base64(content) else {
                        throw APIError.badRequest("resolution of '\(resolution.path)' is not valid base64")
                    }
                    planned.append(.upsert(path: resolution.path, bytes: bytes, mode: .regular))
                } else if let side {
                    sides.append(.upsert(path: resolution.path, blob: side.id, mode: side.mode))
                } else if resolution.take != nil {
                    sides.append(.delete(path: resolution.path))
                } else {
                    throw APIError.badRequest("resolution of '\(resolution.path)' needs content or take")
                }
                resolved.insert(key)
            }
            let unresolved = merged.conflicts.filter { !resolved.contains(Array($0.path.utf8)) }
                .sorted { PathName.precedes($0.path, $1.path) }
            let remaining = unresolved.map(\.path)
            if !remaining.isEmpty, body.allowConflicted != true {
                // Each path with the hunks a per-hunk resolution names (none for a binary or delete conflict).
                throw Self.mergeConflict(
                    "merging '\(body.source)' into '\(body.target)' conflicts in \(remaining.count) file(s)",
                    unresolved.map { conflict in
                        ConflictedDiffEntry(
                            path: conflict.path, hunks: Self.conflictHunks(conflict.workingCopy),
                            sizeBytes: Int64(conflict.workingCopy.count))
                    })
            }
            let edits = try edits(planned) + sides
            let tree = edits.isEmpty ? merged.tree : try repository.applying(edits, to: merged.tree)
            let commit = try repository.createCommit(
                tree: tree, parents: parentCommits, author: signature, committer: signature,
                message: body.message ?? "Merge '\(body.source)' into '\(body.target)'", changeID: id)
            try commitToCatalog(
                changes: [(ChangeRecord(id: id, commit: commit, parents: parents), .absent)],
                bookmarks: [(MesaTree.Bookmark(name: body.target, change: id), .equal(target))],
                newCommit: commit, over: targetTree, cause: .merge)
            return (commit, remaining)
        }
        if !remaining.isEmpty { try catalog.setConflicts(remaining, of: id) }
        var deleted = false
        if body.deleteSource == true, body.source != repo.defaultBookmark {
            try catalog.deleteBookmark(named: body.source, expected: .equal(source))
            deleted = true
        }
        return MergeResult(
            mergeType: "merge_commit", isConflicted: !remaining.isEmpty, commitOID: commit.hex,
            changeID: id.description, target: body.target, source: body.source, sourceDeleted: deleted)
    }
}
