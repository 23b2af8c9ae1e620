import Foundation
import HTTPTypes
import HummingbirdTesting
import MesaCore
import MesaServer
import MesaTree
import MesaWire
import Testing

@Suite struct ChangeRouteTests {
    /// Creates repo `r` and a first change on the virtual root with `author` (JSON) and one file.
    private static func firstChange(http: any TestClientProtocol, admin: String, author: String) async throws -> Change {
        _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#)
        let content = Data("x".utf8).base64EncodedString()
        let reply = try await http.send(
            .post, "/v1/local/r/changes", credential: admin,
            json: #"{"base_change_id":"\#(ChangeID.root)","author":\#(author),"files":[{"path":"x","content":"\#(content)"}]}"#
        )
        #expect(reply.status == .created, "\(reply.text)")
        return try reply.decode(Change.self)
    }

    /// PATCH `author` evolves the change into a commit with that author; an author without a date keeps the date
    /// the change had (as `git commit --amend --author` does).
    @Test func patchingTheAuthorEvolvesTheChangeWithIt() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            let created = try await Self.firstChange(
                http: http, admin: admin, author: #"{"name":"Ann","email":"ann@example.com","date":"2025-01-01T00:00:00+00:00"}"#)
            let patched = try await http.send(
                .patch, "/v1/local/r/changes/\(created.id)", credential: admin,
                json: #"{"author":{"name":"Bob","email":"bob@example.com","date":"2025-06-01T12:00:00+00:00"}}"#)
            #expect(patched.status == .ok, "\(patched.text)")
            let change = try patched.decode(Change.self)
            #expect(change.id == created.id && change.currentCommitOID != created.currentCommitOID)
            #expect(change.author == Signature(name: "Bob", email: "bob@example.com", date: "2025-06-01T12:00:00+00:00"))
            #expect(change.authors == [AuthorRef(name: "Bob", email: "bob@example.com")])
            #expect(change.authoredAt == "2025-06-01T12:00:00+00:00")
            let read = try await http.send(.get, "/v1/local/r/changes/\(created.id)", credential: admin).decode(Change.self)
            #expect(read.author == change.author && read.currentCommitOID == change.currentCommitOID)

            let undated = try await http.send(
                .patch, "/v1/local/r/changes/\(created.id)", credential: admin,
                json: #"{"author":{"name":"Cy","email":"cy@example.com"}}"#
            ).decode(Change.self)
            #expect(undated.author == Signature(name: "Cy", email: "cy@example.com", date: "2025-06-01T12:00:00+00:00"))
        }
    }

    /// Author and committer dates keep the offset they were given, through the git commit and back out.
    @Test func datesKeepTheirTimeZoneOffset() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#)
            let content = Data("x".utf8).base64EncodedString()
            let reply = try await http.send(
                .post, "/v1/local/r/changes", credential: admin,
                json: #"""
                    {"base_change_id":"\#(ChangeID.root)","files":[{"path":"x","content":"\#(content)"}],
                     "author":{"name":"Ann","email":"ann@example.com","date":"2026-01-01T10:00:00+05:30"},
                     "committer":{"name":"Cy","email":"cy@example.com","date":"2026-01-01T10:00:00.250000-08:00"}}
                    """#)
            #expect(reply.status == .created, "\(reply.text)")
            let created = try reply.decode(Change.self)
            #expect(created.author.date == "2026-01-01T10:00:00+05:30")
            #expect(created.authoredAt == "2026-01-01T10:00:00+05:30")
            // Git keeps whole seconds.
            #expect(created.committer.date == "2026-01-01T10:00:00-08:00")

            let patched = try await http.send(
                .patch, "/v1/local/r/changes/\(created.id)", credential: admin,
                json: #"{"author":{"name":"Ann","email":"ann@example.com","date":"2026-02-01T09:15:00+05:45"}}"#
            ).decode(Change.self)
            #expect(patched.author.date == "2026-02-01T09:15:00+05:45")
            let read = try await http.send(.get, "/v1/local/r/changes/\(created.id)", credential: admin).decode(Change.self)
            #expect(read.author.date == "2026-02-01T09:15:00+05:45")
        }
    }

    /// A commit made elsewhere (as `mesa import` brings git history) shows its signatures in their own zones.
    @Test func pushedCommitsShowTheirSignaturesOffsets() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        let client = try ClientRepo()
        let blob = try client.repository.writeBlob(Array("x".utf8))
        let change = try client.repository.createChange(
            parents: [.root], edits: [.upsert(path: "x", blob: blob, mode: .regular)], message: "imported",
            author: MesaTree.Signature(name: "Ann", email: "ann@example.com", time: 1_767_241_800, offsetMinutes: 330),
            committer: MesaTree.Signature(name: "Cy", email: "cy@example.com", time: 1_767_241_800, offsetMinutes: -480))
        let transaction = PushTransaction(
            changes: [ChangeUpdate(changeID: change.id.description, expectedCommit: nil, commit: change.commit.hex, parents: [])],
            bookmarks: [BookmarkUpdate(name: "main", expectedChange: nil, change: change.id.description)])
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#)
            let pushed = try await http.push(try pushBody(try client.records(of: change.commit), transaction), credential: admin)
            #expect(pushed.status == .ok, "\(pushed.text)")
            let read = try await http.send(.get, "/v1/local/r/changes/\(change.id)", credential: admin).decode(Change.self)
            #expect(read.author.date == "2026-01-01T10:00:00+05:30" && read.authoredAt == "2026-01-01T10:00:00+05:30")
            #expect(read.committer.date == "2025-12-31T20:30:00-08:00")
            let listed = try await http.send(.get, "/v1/local/r/changes?bookmark=main", credential: admin)
                .decode(Page<Change>.self)
            #expect(listed.items.map(\.authoredAt) == ["2026-01-01T10:00:00+05:30"])
        }
    }

    /// The bookmark list pages like the others: `limit` items at most, `next_cursor` until the end, with `glob`.
    @Test(arguments: [("", ["b1", "b2", "b3", "b4", "b5", "main"]), ("&glob=b*", ["b1", "b2", "b3", "b4", "b5"])])
    func bookmarksArePaged(glob: String, expected: [String]) async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            let change = try await Self.firstChange(http: http, admin: admin, author: #"{"name":"Ann"}"#)
            for name in ["b3", "b1", "b5", "b2", "b4"] {
                let reply = try await http.send(
                    .post, "/v1/local/r/bookmarks", credential: admin, json: #"{"name":"\#(name)","change_id":"\#(change.id)"}"#)
                #expect(reply.status == .created)
            }
            var pages: [[String]] = []
            var cursor: String?
            repeat {
                let uri = "/v1/local/r/bookmarks?limit=2\(glob)" + (cursor.map { "&cursor=\($0)" } ?? "")
                let reply = try await http.send(.get, uri, credential: admin)
                #expect(reply.status == .ok, "\(reply.text)")
                let page = try reply.decode(Page<MesaWire.Bookmark>.self)
                #expect(page.hasMore == (page.nextCursor != nil))
                pages.append(page.items.map(\.name))
                cursor = page.nextCursor
            } while cursor != nil && pages.count < 10
            #expect(pages.allSatisfy { $0.count <= 2 })
            #expect(pages.flatMap { $0 } == expected)
        }
    }

    /// A cursor no list gave is a 400 on every list, never a silent restart at the first page.
    @Test(arguments: ["bookmarks", "changes", "repos", "api-keys"])
    func cursorsNoListGaveAre400(list: String) async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            _ = try await Self.firstChange(http: http, admin: admin, author: #"{"name":"Ann"}"#)
            let path = ["repos", "api-keys"].contains(list) ? "/v1/local/\(list)" : "/v1/local/r/\(list)"
            for cursor in ["garbage!", "", "%00", "-1"] {
                let reply = try await http.send(.get, "\(path)?cursor=\(cursor)", credential: admin)
                #expect(reply.status == .badRequest, "\(path)?cursor=\(cursor): \(reply.status.code) \(reply.text)")
                #expect(reply.errorCode == "BAD_REQUEST")
            }
        }
    }

    /// `content` of a path the change records as conflicted carries `is_conflicted: true`; other files carry no key.
    @Test func contentOfAConflictedFileSaysSo() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            func create(base: String, _ files: [String: String]) async throws -> String {
                let items = files.map { #"{"path":"\#($0.key)","content":"\#(Data($0.value.utf8).base64EncodedString())"}"# }
                let reply = try await http.send(
                    .post, "/v1/local/r/changes", credential: admin,
                    json: #"{"base_change_id":"\#(base)","files":[\#(items.joined(separator: ","))]}"#)
                #expect(reply.status == .created, "\(reply.text)")
                return try reply.decode(Change.self).id
            }
            _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#)
            let base = try await create(base: ChangeID.root.description, ["f.txt": "a\nb\nc\n", "g.txt": "g\n"])
            let ours = try await create(base: base, ["f.txt": "a\nOURS\nc\n"])
            let theirs = try await create(base: base, ["f.txt": "a\nTHEIRS\nc\n"])
            for (name, id) in [("ours", ours), ("theirs", theirs)] {
                _ = try await http.send(
                    .post, "/v1/local/r/bookmarks", credential: admin, json: #"{"name":"\#(name)","change_id":"\#(id)"}"#)
            }
            let merged = try await http.send(
                .post, "/v1/local/r/bookmarks/merge", credential: admin,
                json: #"{"target":"ours","source":"theirs","allow_conflicted":true}"#
            ).decode(MergeResult.self)
            #expect(merged.isConflicted)
            let conflicted = try await http.send(
                .get, "/v1/local/r/content?path=f.txt&change_id=\(try #require(merged.changeID))", credential: admin)
            #expect(conflicted.text.contains(#""is_conflicted":true"#), "\(conflicted.text)")
            #expect(try conflicted.decode(ContentEntry.self).isConflicted == true)
            let clean = try await http.send(
                .get, "/v1/local/r/content?path=g.txt&change_id=\(try #require(merged.changeID))", credential: admin)
            #expect(clean.status == .ok && !clean.text.contains("is_conflicted"))
            // The same path in a change without conflicts.
            let before = try await http.send(.get, "/v1/local/r/content?path=f.txt&change_id=\(ours)", credential: admin)
            #expect(try before.decode(ContentEntry.self).isConflicted == nil)

            // Writing the path in a PATCH resolves it, as a push that changes it does.
            let mergedID = try #require(merged.changeID)
            let fixed = try await http.send(
                .patch, "/v1/local/r/changes/\(mergedID)", credential: admin,
                json: #"{"files":[{"path":"f.txt","content":"\#(Data("a\nBOTH\nc\n".utf8).base64EncodedString())"}]}"#)
            #expect(fixed.status == .ok, "\(fixed.text)")
            let change = try fixed.decode(Change.self)
            #expect(!change.isConflicted && change.conflicts == [])
            let after = try await http.send(.get, "/v1/local/r/content?path=f.txt&change_id=\(mergedID)", credential: admin)
            #expect(!after.text.contains("is_conflicted"), "\(after.text)")
        }
    }

    /// A delete naming a path that is neither in the base nor written earlier in the request is a 404 naming the
    /// path, in create and in PATCH alike, and changes nothing.
    @Test func deletingAMissingPathIsANotFoundNamingIt() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            let created = try await Self.firstChange(http: http, admin: admin, author: #"{"name":"Ann","email":"a@x"}"#)
            let file = #"{"path":"y","content":"eQ=="}"#
            let missing = #"{"path":"nope/gone.txt","action":"delete"}"#
            let create = try await http.send(
                .post, "/v1/local/r/changes", credential: admin,
                json: #"{"base_change_id":"\#(created.id)","files":[\#(file),\#(missing)]}"#)
            let patch = try await http.send(
                .patch, "/v1/local/r/changes/\(created.id)", credential: admin, json: #"{"files":[\#(file),\#(missing)]}"#)
            for reply in [create, patch] {
                #expect(reply.status == .notFound, "\(reply.text)")
                let error = try reply.decode(ErrorBody.self).error
                #expect(error.code == "NOT_FOUND" && error.message.contains("nope/gone.txt"))
                #expect(error.details?["path"] == .string("nope/gone.txt"))
            }
            let after = try await http.send(.get, "/v1/local/r/changes/\(created.id)", credential: admin).decode(Change.self)
            #expect(after.currentCommitOID == created.currentCommitOID)
            // Deleting what an earlier item of the same request wrote is allowed.
            let written = try await http.send(
                .post, "/v1/local/r/changes", credential: admin,
                json: #"{"base_change_id":"\#(created.id)","files":[\#(file),{"path":"y","action":"delete"}]}"#)
            #expect(written.status == .created, "\(written.text)")
        }
    }
}
