import Foundation
import MesaCore
import MesaTree
import MesaWire

// Conflict hunks and per-hunk resolutions, shared by merge, PATCH change and diff. A hunk is a region of the
// working copy between conflict markers (ConflictMarkers); its id carries a digest of the region, so an id from an
// earlier answer never resolves a region whose content has changed since.

extension RepoOperations {
    /// The conflict hunks of a working copy, in file order.
    static func conflictHunks(_ bytes: [UInt8]) -> [ConflictHunk] {
        ConflictMarkers.regions(in: bytes).map(conflictHunk)
    }

    /// A region in Mesa's JSON shape: `old_*` locate it in the file with every hunk taking the target side, `new_*`
    /// with every hunk taking the source side.
    static func conflictHunk(_ region: ConflictRegion) -> ConflictHunk {
        func side(_ bytes: [UInt8]) -> MesaWire.ConflictSide { MesaWire.ConflictSide(content: Data(bytes).base64EncodedString()) }
        return ConflictHunk(
            hunkID: region.id, oldStart: region.targetStart, oldLines: region.targetLines,
            newStart: region.sourceStart, newLines: region.sourceLines,
            target: side(region.target), base: region.base.map(side), source: side(region.source))
    }

    /// The 409 `MERGE_CONFLICT` for conflicted paths: `conflict_paths`, and `conflicts` with each path's hunks (what
    /// a per-hunk resolution names), plus `unknown_hunk_ids` when a resolution named hunks the file does not have.
    static func mergeConflict(
        _ message: String, _ entries: [ConflictedDiffEntry], unknownHunkIDs: [String] = []
    ) -> APIError {
        var details: [String: JSONValue] = ["conflict_paths": .array(entries.map { .string($0.path) })]
        // Encoding our own Codable models cannot fail; the fallback keeps the answer well formed regardless.
        details["conflicts"] =
            (try? JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(entries))) ?? .array([])
        if !unknownHunkIDs.isEmpty { details["unknown_hunk_ids"] = .array(unknownHunkIDs.map(JSONValue.string)) }
        return APIError.conflict(message, code: "MERGE_CONFLICT", details: details)
    }

    /// `workingCopy`, the content of `path` with conflict markers, with each hunk replaced as `hunks` say.
    /// - Throws: 400 for a malformed hunk resolution or a file without hunks; 409 `MERGE_CONFLICT` naming the file's
    ///   hunks when the resolutions do not cover exactly its hunks (a stale or unknown id, a hunk left out).
    static func resolvingHunks(_ hunks: [HunkResolution], of path: String, in workingCopy: [UInt8]) throws -> [UInt8] {
        var choices: [String: RegionResolution] = [:]
        for hunk in hunks {
            if let encoding = hunk.encoding, encoding != "base64" {
                throw APIError.badRequest("hunk '\(hunk.hunkID)' of '\(path)': encoding must be base64, not '\(encoding)'")
            }
            let choice: RegionResolution
            switch (hunk.take, hunk.content) {
            case ("target"?, nil): choice = .target
            case ("source"?, nil): choice = .source
            case (let other?, nil):
                throw APIError.badRequest("hunk '\(hunk.hunkID)' of '\(path)': take must be \"target\" or \"source\", not '\(other)'")
            case (nil, let content?):
                guard let bytes = RouteSupport.base64(content) else {
                    throw APIError.badRequest("hunk '\(hunk.hunkID)' of '\(path)': content is not valid base64")
                }
                choice = .content(bytes)
            case (nil, nil), (_?, _?):
                throw APIError.badRequest("hunk '\(hunk.hunkID)' of '\(path)' needs exactly one of content or take")
            }
            guard choices.updateValue(choice, forKey: hunk.hunkID) == nil else {
                throw APIError.badRequest("hunk '\(hunk.hunkID)' of '\(path)' is resolved twice")
            }
        }
        do {
            return try ConflictMarkers.resolve(workingCopy, choices)
        } catch {
            let regions = ConflictMarkers.regions(in: workingCopy)
            if regions.isEmpty {
                throw APIError.badRequest(
                    "'\(path)' has no conflict hunks (a binary file, or deleted on one side): resolve it with content or take")
            }
            let entry = ConflictedDiffEntry(
                path: path, hunks: regions.map(conflictHunk), sizeBytes: Int64(workingCopy.count))
            let message =
                error.unknownIDs.isEmpty
                ? "the resolution of '\(path)' leaves \(error.unresolved.count) of its \(regions.count) hunk(s) unresolved"
                : "the resolution of '\(path)' names hunks it does not have: \(error.unknownIDs.joined(separator: ", "))"
            throw mergeConflict(message, [entry], unknownHunkIDs: error.unknownIDs)
        }
    }

    /// Whether a resolution is per hunk; refuses one that mixes hunks with whole-file content or a side.
    static func isPerHunk(_ resolution: Resolution) throws -> Bool {
        guard resolution.hunks != nil else { return false }
        guard resolution.content == nil, resolution.take == nil else {
            throw APIError.badRequest("resolution of '\(resolution.path)': hunks exclude content and take")
        }
        return true
    }
}
