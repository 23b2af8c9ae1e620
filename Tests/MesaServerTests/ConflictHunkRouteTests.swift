import Foundation
import HTTPTypes
import HummingbirdTesting
import MesaServer
import MesaWire
import Testing

/// Per-hunk conflict resolution (Mesa's `resolutions: [{path, hunks: [{hunk_id, content | take}]}]`) on merge and
/// PATCH change, and the hunks a 409 MERGE_CONFLICT and a diff report.
@Suite struct ConflictHunkRouteTests {
    private static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
    private static func text(_ side: MesaWire.ConflictSide?) -> String? {
        side.flatMap { Data(base64Encoded: $0.content) }.map { String(decoding: $0, as: UTF8.self) }
    }

    private static let original = (1...8).map { "l\($0)\n" }.joined()
    /// `original` with lines 2 and 8 replaced.
    private static func edited(_ prefix: String) -> String {
        (1...8).map { $0 == 2 || $0 == 8 ? "\(prefix)\($0)\n" : "l\($0)\n" }.joined()
    }

    /// A repo whose first change holds an 8-line `notes.txt`; `target*` bookmarks edit lines 2 and 8 one way and
    /// `source*` bookmarks the other way (two separate conflict regions), for `pairs` independent merges.
    private func prepare(_ http: any TestClientProtocol, _ admin: String, pairs: Int) async throws {
        #expect(try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#).status == .created)
        func change(_ base: String, _ files: String) async throws -> String {
            let reply = try await http.send(
                .post, "/v1/local/r/changes", credential: admin,
                json: #"{"base_change_id":"\#(base)","files":\#(files)}"#)
            #expect(reply.status == .created, "\(reply.text)")
            return try reply.decode(Change.self).id
        }
        let first = try await change(
            String(repeating: "z", count: 32),
            #"[{"path":"notes.txt","content":"\#(Self.base64(Self.original))"},{"path":"other.txt","content":"\#(Self.base64("o\n"))"}]"#)
        let target = try await change(first, #"[{"path":"notes.txt","content":"\#(Self.base64(Self.edited("T")))"}]"#)
        let source = try await change(first, #"[{"path":"notes.txt","content":"\#(Self.base64(Self.edited("S")))"}]"#)
        for pair in 1...pairs {
            for (name, id) in [("target\(pair)", target), ("source\(pair)", source)] {
                let created = try await http.send(
                    .post, "/v1/local/r/bookmarks", credential: admin, json: #"{"name":"\#(name)","change_id":"\#(id)"}"#)
                #expect(created.status == .created, "\(created.text)")
            }
        }
    }

    private func merge(_ http: any TestClientProtocol, _ admin: String, _ pair: Int, _ extra: String = "") async throws -> Reply {
        try await http.send(
            .post, "/v1/local/r/bookmarks/merge", credential: admin,
            json: #"{"target":"target\#(pair)","source":"source\#(pair)"\#(extra)}"#)
    }

    private func content(_ http: any TestClientProtocol, _ admin: String, _ change: String, _ path: String) async throws -> String {
        let reply = try await http.send(
            .get, "/v1/local/r/content?path=\(path)&change_id=\(change)", credential: admin,
            headers: [.accept: "application/octet-stream"])
        #expect(reply.status == .ok, "\(reply.text)")
        return reply.text
    }

    /// The hunks of `notes.txt` a MERGE_CONFLICT answer carries.
    private func conflictHunks(_ reply: Reply) throws -> [ConflictHunk] {
        #expect(reply.status == .conflict, "\(reply.text)")
        #expect(reply.errorCode == "MERGE_CONFLICT")
        let details = try #require(try reply.decode(ErrorBody.self).error.details)
        #expect(details["conflict_paths"] == .array([.string("notes.txt")]))
        let conflicts = try #require(details["conflicts"])
        let entries = try JSONDecoder().decode([ConflictedDiffEntry].self, from: JSONEncoder().encode(conflicts))
        #expect(entries.map(\.path) == ["notes.txt"])
        return try #require(entries.first).hunks
    }

    @Test func aMergeConflictNamesEachHunkWithItsThreeSidesAndPlace() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            try await prepare(http, admin, pairs: 1)
            let hunks = try conflictHunks(try await merge(http, admin, 1))
            try #require(hunks.count == 2)
            #expect(hunks.map { Self.text($0.target) } == ["T2\n", "T8\n"])
            #expect(hunks.map { Self.text($0.base) } == ["l2\n", "l8\n"])
            #expect(hunks.map { Self.text($0.source) } == ["S2\n", "S8\n"])
            // Line 8 of the 8-line file, not shifted by the marker lines of the first hunk.
            #expect(hunks.map(\.oldStart) == [2, 8] && hunks.map(\.newStart) == [2, 8])
            #expect(hunks.map(\.oldLines) == [1, 1] && hunks.map(\.newLines) == [1, 1])
            #expect(Set(hunks.map(\.hunkID)).count == 2)
            // The same merge asked again names the same hunks.
            #expect(try conflictHunks(try await merge(http, admin, 1)).map(\.hunkID) == hunks.map(\.hunkID))
        }
    }

    @Test func perHunkResolutionsMergeWhenTheyCoverEveryHunk() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            try await prepare(http, admin, pairs: 1)
            let hunks = try conflictHunks(try await merge(http, admin, 1))
            try #require(hunks.count == 2)
            let before = try await http.send(.get, "/v1/local/r/bookmarks/target1", credential: admin).decode(Bookmark.self)

            // One hunk of two: still a conflict, naming what is left; nothing moves.
            let half = try await merge(
                http, admin, 1, #","resolutions":[{"path":"notes.txt","hunks":[{"hunk_id":"\#(hunks[0].hunkID)","take":"target"}]}]"#)
            #expect(try conflictHunks(half).map(\.hunkID) == hunks.map(\.hunkID))
            // An id the file does not have (stale or made up) is named back.
            let stale = try await merge(
                http, admin, 1,
                #","resolutions":[{"path":"notes.txt","hunks":[{"hunk_id":"\#(hunks[0].hunkID)","take":"target"},{"hunk_id":"2-000000000000","take":"source"}]}]"#)
            _ = try conflictHunks(stale)
            let unknown = try #require(try stale.decode(ErrorBody.self).error.details?["unknown_hunk_ids"])
            #expect(unknown == .array([.string("2-000000000000")]))
            let after = try await http.send(.get, "/v1/local/r/bookmarks/target1", credential: admin).decode(Bookmark.self)
            #expect(after.changeID == before.changeID)

            // Every hunk: one side taken, one replaced by given bytes.
            let resolved = try await merge(
                http, admin, 1,
                #","resolutions":[{"path":"notes.txt","hunks":[{"hunk_id":"\#(hunks[0].hunkID)","take":"source"},{"hunk_id":"\#(hunks[1].hunkID)","content":"\#(Self.base64("both 8\nand more\n"))","encoding":"base64"}]}]"#)
            #expect(resolved.status == .ok, "\(resolved.text)")
            let result = try resolved.decode(MergeResult.self)
            #expect(result.isConflicted == false)
            let expected = "l1\nS2\nl3\nl4\nl5\nl6\nl7\nboth 8\nand more\n"
            #expect(try await content(http, admin, try #require(result.changeID), "notes.txt") == expected)
        }
    }

    @Test func aConflictedChangeIsResolvedHunkByHunkOrBySideThroughPatch() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            try await prepare(http, admin, pairs: 2)
            let fromMerge = try conflictHunks(try await merge(http, admin, 1)).map(\.hunkID)
            var changes: [String] = []
            for pair in 1...2 {
                let kept = try await merge(http, admin, pair, #","allow_conflicted":true"#).decode(MergeResult.self)
                #expect(kept.isConflicted)
                changes.append(try #require(kept.changeID))
            }
            // The diff of the kept change names the same hunks the 409 did.
            let diff = try await http.send(.get, "/v1/local/r/diff?head_change_id=\(changes[0])", credential: admin).decode(Diff.self)
            let hunks = try #require(diff.conflictedEntries.first).hunks
            #expect(hunks.map(\.hunkID) == fromMerge)
            #expect(hunks.map { Self.text($0.base) } == ["l2\n", "l8\n"])

            let patched = try await http.send(
                .patch, "/v1/local/r/changes/\(changes[0])", credential: admin,
                json: #"{"resolutions":[{"path":"notes.txt","hunks":[{"hunk_id":"\#(hunks[0].hunkID)","take":"source"},{"hunk_id":"\#(hunks[1].hunkID)","take":"target"}]}]}"#)
            #expect(patched.status == .ok, "\(patched.text)")
            let change = try patched.decode(Change.self)
            #expect(change.isConflicted == false && change.conflicts == [])
            #expect(try await content(http, admin, changes[0], "notes.txt") == "l1\nS2\nl3\nl4\nl5\nl6\nl7\nT8\n")

            // A whole file by side: take the target's version.
            let taken = try await http.send(
                .patch, "/v1/local/r/changes/\(changes[1])", credential: admin,
                json: #"{"resolutions":[{"path":"notes.txt","take":"target"}]}"#)
            #expect(taken.status == .ok, "\(taken.text)")
            #expect(try taken.decode(Change.self).isConflicted == false)
            #expect(try await content(http, admin, changes[1], "notes.txt") == Self.edited("T"))
        }
    }

    @Test func malformedHunkResolutionsAre400AndChangeNothing() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            try await prepare(http, admin, pairs: 1)
            let kept = try await merge(http, admin, 1, #","allow_conflicted":true"#).decode(MergeResult.self)
            let id = try #require(kept.changeID)
            let diff = try await http.send(.get, "/v1/local/r/diff?head_change_id=\(id)", credential: admin).decode(Diff.self)
            let hunks = try #require(diff.conflictedEntries.first).hunks
            let first = hunks[0].hunkID
            let bodies = [
                #"[{"path":"notes.txt","hunks":[{"hunk_id":"\#(first)","take":"target","content":"eA=="}]}]"#,
                #"[{"path":"notes.txt","hunks":[{"hunk_id":"\#(first)"}]}]"#,
                #"[{"path":"notes.txt","hunks":[{"hunk_id":"\#(first)","take":"mine"}]}]"#,
                #"[{"path":"notes.txt","hunks":[{"hunk_id":"\#(first)","content":"***"}]}]"#,
                #"[{"path":"notes.txt","hunks":[{"hunk_id":"\#(first)","content":"eA==","encoding":"utf-8"}]}]"#,
                #"[{"path":"notes.txt","hunks":[{"hunk_id":"\#(first)","take":"target"},{"hunk_id":"\#(first)","take":"source"}]}]"#,
                #"[{"path":"notes.txt","take":"target","hunks":[]}]"#,
                // A file without conflict markers has no hunks to name.
                #"[{"path":"other.txt","hunks":[{"hunk_id":"\#(first)","take":"target"}]}]"#,
            ]
            let before = try await http.send(.get, "/v1/local/r/changes/\(id)", credential: admin).decode(Change.self)
            for body in bodies {
                let reply = try await http.send(
                    .patch, "/v1/local/r/changes/\(id)", credential: admin, json: #"{"resolutions":\#(body)}"#)
                #expect(reply.status == .badRequest, "\(body): \(reply.text)")
            }
            let missing = try await http.send(
                .patch, "/v1/local/r/changes/\(id)", credential: admin,
                json: #"{"resolutions":[{"path":"nowhere.txt","hunks":[{"hunk_id":"\#(first)","take":"target"}]}]}"#)
            #expect(missing.status == .notFound, "\(missing.text)")
            let after = try await http.send(.get, "/v1/local/r/changes/\(id)", credential: admin).decode(Change.self)
            #expect(after.currentCommitOID == before.currentCommitOID && after.isConflicted)
        }
    }
}
