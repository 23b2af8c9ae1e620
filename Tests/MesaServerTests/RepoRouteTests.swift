import Foundation
import HTTPTypes
import MesaCore
import MesaServer
import MesaWire
import Testing

@Suite struct RepoRouteTests {
    @Test func reposAreCreatedListedPagedUpdatedAndDeleted() async throws {
        let server = try ServerHarness()
        let key = server.adminKey
        try await server.test { client in
            for name in ["e", "d", "c", "b", "a"] {
                let reply = try await client.send(
                    .post, "/v1/local/repos", credential: key, json: #"{"name":"\#(name)","tags":{"team":"x"}}"#)
                #expect(reply.status == .created)
                let repo = try reply.decode(Repo.self)
                #expect(repo.headChangeID == String(repeating: "z", count: 32))
                #expect(repo.defaultBookmark == "main")
                // Every key is present, upstream as null.
                #expect(reply.text.contains(#""upstream":null"#))
            }
            var names: [String] = []
            var cursor: String?
            repeat {
                let query = cursor.map { "&cursor=\($0)" } ?? ""
                let page = try await client.send(.get, "/v1/local/repos?limit=2\(query)", credential: key).decode(Page<Repo>.self)
                names += page.items.map(\.name)
                #expect(page.hasMore == (page.nextCursor != nil))
                cursor = page.nextCursor
            } while cursor != nil
            #expect(names == ["a", "b", "c", "d", "e"])

            let duplicate = try await client.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"a"}"#)
            #expect(duplicate.status == .conflict)

            let patched = try await client.send(
                .patch, "/v1/local/a", credential: key,
                json: #"{"name":"renamed","default_bookmark":"trunk","tags":{"team":null,"new":"y"}}"#)
            #expect(patched.status == .ok)
            let repo = try patched.decode(Repo.self)
            #expect(repo.name == "renamed" && repo.defaultBookmark == "trunk" && repo.tags == ["new": "y"])

            let info = try await client.send(.get, "/v1/local", credential: key).decode(OrgInfo.self)
            #expect(info.numRepos == 5)

            #expect(try await client.send(.delete, "/v1/local/renamed", credential: key).decode(SuccessResponse.self).success)
            #expect(try await client.send(.get, "/v1/local/renamed", credential: key).status == .notFound)
        }
    }

    @Test(arguments: [#"{"name":".."}"#, #"{"name":"a b"}"#, #"{"name":""}"#, #"{"name":5}"#, "{", #"{"default_bookmark":"x..y"}"#])
    func badBodiesAre400WithTheErrorBody(body: String) async throws {
        let server = try ServerHarness()
        try await server.test { client in
            let reply = try await client.send(.post, "/v1/local/repos", credential: server.adminKey, json: body)
            #expect(reply.status == .badRequest)
            #expect(reply.errorCode == "BAD_REQUEST")
            #expect(!reply.text.contains(#""details":null"#))
        }
    }

    @Test func unknownRoutesAndBadLimitsGetJSONErrors() async throws {
        let server = try ServerHarness()
        try await server.test { client in
            let missing = try await client.send(.get, "/v1/local/repo/x/y/z", credential: server.adminKey)
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "NOT_FOUND")
            let limit = try await client.send(.get, "/v1/local/repos?limit=1000", credential: server.adminKey)
            #expect(limit.status == .badRequest)
            #expect(try await client.send(.get, "/healthz", credential: nil).status == .ok)
        }
    }

    @Test func apiKeyListsNeverShowSecrets() async throws {
        let server = try ServerHarness()
        try await server.test { client in
            let created = try await client.send(
                .post, "/v1/local/api-keys", credential: server.adminKey, json: #"{"name":"ci","expires_in_seconds":3600}"#)
            let secret = try created.decode(CreatedAPIKey.self).key
            let list = try await client.send(.get, "/v1/local/api-keys", credential: server.adminKey)
            #expect(list.status == .ok)
            #expect(!list.text.contains(secret))
            #expect(!list.text.contains(server.adminKey))
            let keys = try list.decode(Page<APIKeyInfo>.self)
            #expect(keys.items.count == 2)
            #expect(keys.items.contains { $0.name == "ci" && $0.expiresAt != nil })
            // Every documented key is present, null where empty.
            #expect(list.text.contains(#""revoked_at":null"#) && list.text.contains(#""metadata":null"#))
            let tooLong = try await client.send(
                .post, "/v1/local/api-keys", credential: server.adminKey, json: #"{"expires_in_seconds":5}"#)
            #expect(tooLong.status == .badRequest)
        }
    }

    /// `?tags=` as a compact JSON object or a `key:value` comma list keeps the repos that carry every pair; a value
    /// that is neither form is not refused but matches no repo; an empty one filters nothing.
    @Test(arguments: [
        (#"{"team":"infra"}"#, ["a", "b"]),
        (#"{"team":"infra","env":"prod"}"#, ["a"]),
        (#"{}"#, ["a", "b", "c", "d"]),
        ("team:infra", ["a", "b"]),
        ("team:infra,env:dev", ["b"]),
        ("team: infra , env:prod", ["a"]),
        ("team:nobody", []),
        ("", ["a", "b", "c", "d"]),
        (#"{"team":"#, []),
        (#"{"team":1}"#, []),
        ("team", []),
        ("team:infra,", ["a", "b"]),
    ])
    func reposAreFilteredByTags(filter: String, expected: [String]) async throws {
        let server = try ServerHarness()
        let key = server.adminKey
        try await server.test { client in
            let repos = [
                ("a", #"{"team":"infra","env":"prod"}"#), ("b", #"{"team":"infra","env":"dev"}"#),
                ("c", #"{"team":"web"}"#), ("d", "{}"),
            ]
            for (name, tags) in repos {
                let reply = try await client.send(
                    .post, "/v1/local/repos", credential: key, json: #"{"name":"\#(name)","tags":\#(tags)}"#)
                #expect(reply.status == .created)
            }
            let query = try #require(filter.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            // Page one repo at a time, so the filter and the cursor work together.
            var names: [String] = []
            var cursor: String?
            repeat {
                let uri = "/v1/local/repos?limit=1&tags=\(query)" + (cursor.map { "&cursor=\($0)" } ?? "")
                let reply = try await client.send(.get, uri, credential: key)
                #expect(reply.status == .ok, "\(reply.text)")
                let page = try reply.decode(Page<Repo>.self)
                names += page.items.map(\.name)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(names == expected, "tags=\(filter)")
        }
    }

    /// A PATCH may make only an existing bookmark the default, unless the repo has none yet (an empty repo names
    /// the bookmark its first write creates); a new repo may name any default.
    @Test func defaultBookmarkMustExistOnceTheRepoHasBookmarks() async throws {
        let server = try ServerHarness()
        let key = server.adminKey
        try await server.test { client in
            let created = try await client.send(
                .post, "/v1/local/repos", credential: key, json: #"{"name":"r","default_bookmark":"trunk"}"#)
            #expect(created.status == .created)
            let empty = try await client.send(.patch, "/v1/local/r", credential: key, json: #"{"default_bookmark":"dev"}"#)
            #expect(empty.status == .ok)
            #expect(try empty.decode(Repo.self).defaultBookmark == "dev")

            let content = Data("x".utf8).base64EncodedString()
            let change = try await client.send(
                .post, "/v1/local/r/changes", credential: key,
                json: #"{"base_change_id":"\#(ChangeID.root)","files":[{"path":"x","content":"\#(content)"}]}"#
            ).decode(Change.self)
            let missing = try await client.send(.patch, "/v1/local/r", credential: key, json: #"{"default_bookmark":"nope"}"#)
            #expect(missing.status == .notFound, "\(missing.text)")
            #expect(missing.errorCode == "NOT_FOUND")
            #expect(try missing.decode(ErrorBody.self).error.message.contains("nope"))
            #expect(try await client.send(.get, "/v1/local/r", credential: key).decode(Repo.self).defaultBookmark == "dev")

            let bookmark = try await client.send(
                .post, "/v1/local/r/bookmarks", credential: key, json: #"{"name":"release","change_id":"\#(change.id)"}"#)
            #expect(bookmark.status == .created)
            let moved = try await client.send(.patch, "/v1/local/r", credential: key, json: #"{"default_bookmark":"release"}"#)
            #expect(moved.status == .ok)
            #expect(try moved.decode(Repo.self).defaultBookmark == "release")
            // Sending the current default back (a client PATCHing the whole repo) is never refused.
            let same = try await client.send(
                .patch, "/v1/local/r", credential: key, json: #"{"default_bookmark":"release","tags":{"k":"v"}}"#)
            #expect(same.status == .ok)
        }
    }

    /// `repo_ids` naming repos that do not exist is a 400 naming each of them, and no key is made.
    @Test func apiKeysNamingUnknownReposAreRefusedNamingEachOne() async throws {
        let server = try ServerHarness()
        let key = server.adminKey
        try await server.test { client in
            _ = try await client.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"x"}"#)
            let known = try server.repoID("x")
            let reply = try await client.send(
                .post, "/v1/local/api-keys", credential: key, json: #"{"repo_ids":["ghost-1","\#(known)","ghost-2"]}"#)
            #expect(reply.status == .badRequest)
            let message = try reply.decode(ErrorBody.self).error.message
            #expect(message.contains("ghost-1") && message.contains("ghost-2") && !message.contains(known), "\(message)")
            let keys = try await client.send(.get, "/v1/local/api-keys", credential: key).decode(Page<APIKeyInfo>.self)
            #expect(keys.items.count == 1)
        }
    }
}
