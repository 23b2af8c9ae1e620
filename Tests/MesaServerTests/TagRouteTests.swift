import Foundation
import HTTPTypes
import HummingbirdTesting
import MesaServer
import MesaWire
import Testing

/// Tags of API keys (`PATCH /{org}/api-keys/{id}`) and of many repos at once (`PATCH /{org}/repos/tags`), as Mesa's
/// published SDK sends them.
@Suite struct TagRouteTests {
    /// A key's tags are a patch: a string sets, null removes, an absent key is kept; the answer is the key as listed,
    /// without its secret.
    @Test func apiKeyTagsArePatched() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            let created = try await client.send(
                .post, "/v1/local/api-keys", credential: admin, json: #"{"name":"ci","tags":{"a":"1","b":"2","keep":"k"}}"#
            ).decode(CreatedAPIKey.self)
            let reply = try await client.send(
                .patch, "/v1/local/api-keys/\(created.id)", credential: admin,
                json: #"{"tags":{"a":null,"b":"3","c":"4"}}"#)
            #expect(reply.status == .ok, "\(reply.text)")
            let key = try reply.decode(APIKeyInfo.self)
            #expect(key.id == created.id && key.name == "ci" && key.scopes == [.read, .write])
            #expect(key.tags == ["b": "3", "c": "4", "keep": "k"])
            #expect(!reply.text.contains(created.key))
            #expect(reply.text.contains(#""revoked_at":null"#) && reply.text.contains(#""repo_ids":null"#))
            let listed = try await client.send(.get, "/v1/local/api-keys", credential: admin).decode(Page<APIKeyInfo>.self)
            #expect(listed.items.first { $0.id == created.id }?.tags == ["b": "3", "c": "4", "keep": "k"])

            // The key still works, with its rights unchanged.
            #expect(try await client.send(.get, "/v1/local/repos", credential: created.key).status == .ok)
        }
    }

    @Test func badAPIKeyTagPatchesAreRefusedAndChangeNothing() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            let created = try await client.send(
                .post, "/v1/local/api-keys", credential: admin, json: #"{"tags":{"a":"1"}}"#
            ).decode(CreatedAPIKey.self)
            let unknown = try await client.send(
                .patch, "/v1/local/api-keys/nosuchkey", credential: admin, json: #"{"tags":{"a":"2"}}"#)
            #expect(unknown.status == .notFound && unknown.errorCode == "NOT_FOUND")
            #expect(unknown.text.contains("nosuchkey"))
            for body in [#"{}"#, #"{"tags":{"a":5}}"#, #"{"tags":{"$in":"x"}}"#, #"{"tags":{"":"x"}}"#, #"{"tags":"a"}"#] {
                let reply = try await client.send(.patch, "/v1/local/api-keys/\(created.id)", credential: admin, json: body)
                #expect(reply.status == .badRequest, "\(body): \(reply.text)")
                #expect(reply.errorCode != nil)
            }
            // Only admin scope may change keys.
            let writer = try await client.send(
                .post, "/v1/local/api-keys", credential: admin, json: #"{"scopes":["read","write"]}"#
            ).decode(CreatedAPIKey.self)
            let refused = try await client.send(
                .patch, "/v1/local/api-keys/\(created.id)", credential: writer.key, json: #"{"tags":{"a":"2"}}"#)
            #expect(refused.status == .forbidden)
            let listed = try await client.send(.get, "/v1/local/api-keys", credential: admin).decode(Page<APIKeyInfo>.self)
            #expect(listed.items.first { $0.id == created.id }?.tags == ["a": "1"])
        }
    }

    /// A repo-restricted admin key changes only keys restricted to its repos.
    @Test func repoRestrictedAdminKeysChangeOnlyTheirReposKeys() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            _ = try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"x"}"#)
            let x = try server.repoID("x")
            let restricted = try await client.send(
                .post, "/v1/local/api-keys", credential: admin, json: #"{"scopes":["admin"],"repo_ids":["\#(x)"]}"#
            ).decode(CreatedAPIKey.self)
            let orgWide = try await client.send(.post, "/v1/local/api-keys", credential: admin, json: "{}")
                .decode(CreatedAPIKey.self)
            let other = try await client.send(
                .patch, "/v1/local/api-keys/\(orgWide.id)", credential: restricted.key, json: #"{"tags":{"t":"1"}}"#)
            #expect(other.status == .forbidden, "\(other.text)")
            let own = try await client.send(
                .patch, "/v1/local/api-keys/\(restricted.id)", credential: restricted.key, json: #"{"tags":{"t":"1"}}"#)
            #expect(own.status == .ok, "\(own.text)")
            #expect(try own.decode(APIKeyInfo.self).tags == ["t": "1"])

            // A token restricted by repo name, signed from an org-wide admin key, is restricted too.
            let adminKey = try await client.send(
                .post, "/v1/local/api-keys", credential: admin, json: #"{"scopes":["read","write","admin"]}"#
            ).decode(CreatedAPIKey.self)
            let token = try AccessToken.mint(
                apiKey: try #require(APIKey(adminKey.key)), scopes: [.read, .write, .admin], repos: ["local/x"])
            let byToken = try await client.send(
                .patch, "/v1/local/api-keys/\(orgWide.id)", credential: token, json: #"{"tags":{"t":"2"}}"#)
            #expect(byToken.status == .forbidden, "\(byToken.text)")
            let tokenOwn = try await client.send(
                .patch, "/v1/local/api-keys/\(restricted.id)", credential: token, json: #"{"tags":{"t":"2"}}"#)
            #expect(tokenOwn.status == .ok, "\(tokenOwn.text)")
        }
    }

    /// `{repo_ids, action: set|remove, key, value?}` changes one tag on every named repo and answers how many.
    @Test func repoTagsAreSetAndRemovedInBulk() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            for name in ["a", "b", "c"] {
                _ = try await client.send(
                    .post, "/v1/local/repos", credential: admin, json: #"{"name":"\#(name)","tags":{"env":"\#(name)"}}"#)
            }
            let (a, b) = (try server.repoID("a"), try server.repoID("b"))
            let set = try await client.send(
                .patch, "/v1/local/repos/tags", credential: admin,
                json: #"{"repo_ids":["\#(a)","\#(b)","\#(a)"],"action":"set","key":"team","value":"infra"}"#)
            #expect(set.status == .ok, "\(set.text)")
            #expect(try set.decode(BulkRepoTagsResult.self).updated == 2)
            #expect(try await tags(client, "a", admin) == ["env": "a", "team": "infra"])
            #expect(try await tags(client, "b", admin) == ["env": "b", "team": "infra"])
            #expect(try await tags(client, "c", admin) == ["env": "c"])
            let filtered = try await client.send(.get, "/v1/local/repos?tags=team:infra", credential: admin)
                .decode(Page<Repo>.self)
            #expect(filtered.items.map(\.name) == ["a", "b"])

            let removed = try await client.send(
                .patch, "/v1/local/repos/tags", credential: admin,
                json: #"{"repo_ids":["\#(a)"],"action":"remove","key":"team"}"#)
            #expect(removed.status == .ok, "\(removed.text)")
            #expect(try removed.decode(BulkRepoTagsResult.self).updated == 1)
            #expect(try await tags(client, "a", admin) == ["env": "a"])
            #expect(try await tags(client, "b", admin) == ["env": "b", "team": "infra"])
        }
    }

    /// A request naming a repo that does not exist is a 404 naming it, and changes no repo; malformed requests are
    /// 400s that change nothing either.
    @Test func bulkRepoTagsAreAllOrNothing() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            for name in ["a", "b"] {
                _ = try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"\#(name)"}"#)
            }
            let (a, b) = (try server.repoID("a"), try server.repoID("b"))
            let missing = try await client.send(
                .patch, "/v1/local/repos/tags", credential: admin,
                json: #"{"repo_ids":["\#(a)","ghost-repo","\#(b)"],"action":"set","key":"team","value":"x"}"#)
            #expect(missing.status == .notFound, "\(missing.text)")
            #expect(missing.errorCode == "NOT_FOUND")
            #expect(missing.text.contains("ghost-repo") && !missing.text.contains(a))
            #expect(try await tags(client, "a", admin) == [:])
            #expect(try await tags(client, "b", admin) == [:])

            let bad = [
                #"{"repo_ids":["\#(a)"],"action":"set","key":"team"}"#,
                #"{"repo_ids":["\#(a)"],"action":"remove","key":"team","value":"x"}"#,
                #"{"repo_ids":["\#(a)"],"action":"rename","key":"team","value":"x"}"#,
                #"{"repo_ids":[],"action":"set","key":"team","value":"x"}"#,
                #"{"repo_ids":["\#(a)"],"action":"set","key":"$eq","value":"x"}"#,
                #"{"action":"set","key":"team","value":"x"}"#,
                #"{"repo_ids":["\#(a)"],"action":"set","key":"team","value":5}"#,
            ]
            for body in bad {
                let reply = try await client.send(.patch, "/v1/local/repos/tags", credential: admin, json: body)
                #expect(reply.status == .badRequest, "\(body): \(reply.text)")
                #expect(reply.errorCode != nil)
            }
            #expect(try await tags(client, "a", admin) == [:])
        }
    }

    /// Bulk tagging needs write scope, and a repo-restricted credential may tag only its repos.
    @Test func bulkRepoTagsFollowScopesAndRepoRestrictions() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            for name in ["a", "b"] {
                _ = try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"\#(name)"}"#)
            }
            let (a, b) = (try server.repoID("a"), try server.repoID("b"))
            let reader = try await client.send(
                .post, "/v1/local/api-keys", credential: admin, json: #"{"scopes":["read"]}"#
            ).decode(CreatedAPIKey.self)
            let restricted = try await client.send(
                .post, "/v1/local/api-keys", credential: admin, json: #"{"repo_ids":["\#(a)"]}"#
            ).decode(CreatedAPIKey.self)
            let body = #"{"repo_ids":["\#(a)","\#(b)"],"action":"set","key":"k","value":"v"}"#
            #expect(try await client.send(.patch, "/v1/local/repos/tags", credential: reader.key, json: body).status == .forbidden)
            #expect(
                try await client.send(.patch, "/v1/local/repos/tags", credential: restricted.key, json: body).status
                    == .forbidden)
            #expect(try await tags(client, "a", admin) == [:])
            let own = try await client.send(
                .patch, "/v1/local/repos/tags", credential: restricted.key,
                json: #"{"repo_ids":["\#(a)"],"action":"set","key":"k","value":"v"}"#)
            #expect(own.status == .ok, "\(own.text)")
            #expect(try await tags(client, "a", admin) == ["k": "v"])
        }
    }

    /// Each repo whose tags a bulk request changes records `repo.updated` (before and after), as its own PATCH would;
    /// a repo that already had the value records nothing, and a refused request records nothing.
    @Test func bulkRepoTagsRecordRepoUpdatedForWebhooks() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        let metadata = server.services.metadata
        try await server.test { client in
            _ = try await client.send(
                .post, "/v1/local/webhook-targets", credential: admin,
                json: #"{"url":"http://127.0.0.1:9/hook","events":["repo.updated"]}"#)
            _ = try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"a"}"#)
            _ = try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"b","tags":{"k":"v"}}"#)
            let (a, b) = (try server.repoID("a"), try server.repoID("b"))
            let before = try metadata.outboxEvents(limit: 100).count
            let missing = try await client.send(
                .patch, "/v1/local/repos/tags", credential: admin,
                json: #"{"repo_ids":["\#(a)","ghost"],"action":"set","key":"k","value":"v"}"#)
            #expect(missing.status == .notFound)
            #expect(try metadata.outboxEvents(limit: 100).count == before)
            let reply = try await client.send(
                .patch, "/v1/local/repos/tags", credential: admin,
                json: #"{"repo_ids":["\#(a)","\#(b)"],"action":"set","key":"k","value":"v"}"#)
            #expect(reply.status == .ok, "\(reply.text)")
            let events = try metadata.outboxEvents(limit: 100).dropFirst(before)
            #expect(events.map(\.type) == [.repoUpdated])
            #expect(events.first?.repoID == a)
            guard case .object(let data)? = events.first?.data, case .object(let after)? = data["after"],
                case .object(let previous)? = data["before"]
            else {
                Issue.record("repo.updated has no before and after")
                return
            }
            #expect(after["tags"] == .object(["k": .string("v")]) && previous["tags"] == .object([:]))
        }
    }

    /// Tag keys starting with `$` (Mesa's filter operators) or empty are refused on repos as on keys.
    @Test func reservedTagKeysAreRefusedOnRepos() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            let create = try await client.send(
                .post, "/v1/local/repos", credential: admin, json: #"{"name":"a","tags":{"$or":"x"}}"#)
            #expect(create.status == .badRequest, "\(create.text)")
            #expect(try await client.send(.get, "/v1/local/a", credential: admin).status == .notFound)
            _ = try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"a"}"#)
            let patch = try await client.send(
                .patch, "/v1/local/a", credential: admin, json: #"{"tags":{"ok":"1","$in":"x"}}"#)
            #expect(patch.status == .badRequest, "\(patch.text)")
            #expect(try await tags(client, "a", admin) == [:])
            let key = try await client.send(.post, "/v1/local/api-keys", credential: admin, json: #"{"tags":{"":"x"}}"#)
            #expect(key.status == .badRequest, "\(key.text)")
        }
    }

}

/// A repo's tags, read back.
private func tags(_ client: any TestClientProtocol, _ repo: String, _ key: String) async throws -> [String: String] {
    try await client.send(.get, "/v1/local/\(repo)", credential: key).decode(Repo.self).tags
}
