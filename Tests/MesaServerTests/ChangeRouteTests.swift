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
}
