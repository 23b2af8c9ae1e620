import Foundation
import HTTPTypes
import HummingbirdTesting
import MesaServer
import MesaWire
import Testing

/// Webhook targets through the router, the names of org-level routes refused as repo names, and the outbox rows that
/// writes record in their own transaction. Delivery itself runs against a real `mesa serve` (WebhookEndToEndTests).
@Suite struct WebhookRouteTests {
    static let root = String(repeating: "z", count: 32)

    private static func object(_ reply: Reply) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: reply.body) as? [String: Any], "\(reply.text)")
    }

    @Test(arguments: ["repos", "api-keys", "tokens", "webhook-targets"])
    func aRepoCannotTakeTheNameOfAnOrgRoute(name: String) async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            let created = try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"\#(name)"}"#)
            #expect(created.status == .badRequest, "\(created.text)")
            let details = try #require(try Self.object(created)["error"] as? [String: Any])["details"] as? [String: Any]
            #expect(details?["rule"] as? String == "reserved_route_name")
            #expect((try Self.object(created)["error"] as? [String: Any])?["message"] as? String ?? "" != "")

            #expect(try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"app"}"#).status == .created)
            let renamed = try await client.send(.patch, "/v1/local/app", credential: admin, json: #"{"name":"\#(name)"}"#)
            #expect(renamed.status == .badRequest, "\(renamed.text)")
            #expect(renamed.errorCode == "BAD_REQUEST")
            // The repo kept its name.
            #expect(try await client.send(.get, "/v1/local/app", credential: admin).status == .ok)
        }
    }

    @Test func webhookTargetsIsARouteNotARepo() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            let listed = try await client.send(.get, "/v1/local/webhook-targets", credential: admin)
            #expect(listed.status == .ok, "\(listed.text)")
            let body = try Self.object(listed)
            #expect((body["webhook_targets"] as? [Any])?.isEmpty == true)
            #expect(body["has_more"] as? Bool == false)
            #expect(body.keys.contains("next_cursor"))
        }
    }

    @Test func theSecretIsShownOnlyOnCreateAndPatchReplacesWhatItGives() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            #expect(try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"app"}"#).status == .created)
            let repoID = try server.repoID("app")
            let created = try await client.send(
                .post, "/v1/local/webhook-targets", credential: admin,
                json: #"{"url":"http://127.0.0.1:9/hook","name":"ci","repo_ids":["\#(repoID)"]}"#)
            #expect(created.status == .created, "\(created.text)")
            let target = try Self.object(created)
            let id = try #require(target["id"] as? String)
            let secret = try #require(target["secret"] as? String)
            #expect(secret.count >= 32)
            #expect(target["events"] as? [String] == ["push"])
            #expect(target["repo_ids"] as? [String] == [repoID])
            for key in ["id", "name", "url", "events", "repo_ids", "created_at", "updated_at", "secret"] {
                #expect(target.keys.contains(key), "\(key)")
            }

            let one = try await client.send(.get, "/v1/local/webhook-targets/\(id)", credential: admin)
            let list = try await client.send(.get, "/v1/local/webhook-targets", credential: admin)
            let patched = try await client.send(
                .patch, "/v1/local/webhook-targets/\(id)", credential: admin,
                json: #"{"events":["push","change.created"],"repo_ids":null}"#)
            for reply in [one, list, patched] {
                #expect(reply.status == .ok, "\(reply.text)")
                #expect(!reply.text.contains(secret))
                #expect(!reply.text.contains("\"secret\""))
            }
            let after = try Self.object(patched)
            #expect(after["events"] as? [String] == ["push", "change.created"])
            #expect(after["repo_ids"] is NSNull)
            #expect(after["name"] as? String == "ci")
            #expect(after["url"] as? String == "http://127.0.0.1:9/hook")
            let unnamed = try await client.send(
                .patch, "/v1/local/webhook-targets/\(id)", credential: admin, json: #"{"name":null}"#)
            #expect(try Self.object(unnamed)["name"] is NSNull)
            #expect(try Self.object(unnamed)["events"] as? [String] == ["push", "change.created"])

            let unknownEvent = try await client.send(
                .post, "/v1/local/webhook-targets", credential: admin, json: #"{"url":"http://x/","events":["nope"]}"#)
            #expect(unknownEvent.status == .badRequest)
            let badURL = try await client.send(
                .post, "/v1/local/webhook-targets", credential: admin, json: #"{"url":"ftp://x/"}"#)
            #expect(badURL.status == .badRequest)
            let unknownRepo = try await client.send(
                .post, "/v1/local/webhook-targets", credential: admin, json: #"{"url":"http://x/","repo_ids":["nope"]}"#)
            #expect(unknownRepo.status == .badRequest)

            #expect(try await client.send(.delete, "/v1/local/webhook-targets/\(id)", credential: admin).status == .ok)
            #expect(try await client.send(.get, "/v1/local/webhook-targets/\(id)", credential: admin).status == .notFound)
            #expect(try await client.send(.delete, "/v1/local/webhook-targets/\(id)", credential: admin).status == .notFound)
        }
    }

    @Test func callersWithoutTheAdminScopeAreRefused() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            let created = try await client.send(
                .post, "/v1/local/webhook-targets", credential: admin, json: #"{"url":"http://127.0.0.1:9/hook"}"#)
            let id = try #require(try Self.object(created)["id"] as? String)
            let keyReply = try await client.send(
                .post, "/v1/local/api-keys", credential: admin, json: #"{"scopes":["read","write"]}"#)
            let writeKey = try #require(try Self.object(keyReply)["key"] as? String)
            let token = try AccessToken.mint(apiKey: try #require(APIKey(admin)), scopes: [.read, .write])
            for credential in [writeKey, token] {
                let requests: [(HTTPRequest.Method, String, String?)] = [
                    (.get, "/v1/local/webhook-targets", nil),
                    (.post, "/v1/local/webhook-targets", #"{"url":"http://127.0.0.1:9/x"}"#),
                    (.get, "/v1/local/webhook-targets/\(id)", nil),
                    (.patch, "/v1/local/webhook-targets/\(id)", #"{"name":"taken"}"#),
                    (.delete, "/v1/local/webhook-targets/\(id)", nil),
                    (.get, "/v1/local/webhook-targets/\(id)/deliveries", nil),
                ]
                for (method, path, json) in requests {
                    let reply = try await client.send(method, path, credential: credential, json: json)
                    #expect(reply.status == .forbidden, "\(method) \(path): \(reply.text)")
                    #expect(reply.errorCode == "INSUFFICIENT_SCOPE")
                }
            }
            #expect(try await client.send(.get, "/v1/local/webhook-targets/\(id)", credential: nil).status == .unauthorized)
            // Nothing was changed by the refused calls.
            let after = try Self.object(try await client.send(.get, "/v1/local/webhook-targets/\(id)", credential: admin))
            #expect(after["name"] is NSNull)
        }
    }

    @Test func aRepoScopedAdminManagesOnlyTargetsWithinItsRepos() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            for name in ["mine", "other"] {
                #expect(try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"\#(name)"}"#).status == .created)
            }
            let mine = try server.repoID("mine")
            let other = try server.repoID("other")
            let keyReply = try await client.send(
                .post, "/v1/local/api-keys", credential: admin,
                json: #"{"scopes":["read","write","admin"],"repo_ids":["\#(mine)"]}"#)
            let scoped = try #require(try Self.object(keyReply)["key"] as? String)
            let orgWide = try await client.send(
                .post, "/v1/local/webhook-targets", credential: admin, json: #"{"url":"http://127.0.0.1:9/all"}"#)
            let orgWideID = try #require(try Self.object(orgWide)["id"] as? String)

            for body in [#"{"url":"http://127.0.0.1:9/x"}"#, #"{"url":"http://127.0.0.1:9/x","repo_ids":["\#(other)"]}"#] {
                let refused = try await client.send(.post, "/v1/local/webhook-targets", credential: scoped, json: body)
                #expect(refused.status == .forbidden, "\(refused.text)")
            }
            let own = try await client.send(
                .post, "/v1/local/webhook-targets", credential: scoped,
                json: #"{"url":"http://127.0.0.1:9/mine","repo_ids":["\#(mine)"]}"#)
            #expect(own.status == .created, "\(own.text)")
            let ownID = try #require(try Self.object(own)["id"] as? String)

            let listed = try Self.object(try await client.send(.get, "/v1/local/webhook-targets", credential: scoped))
            let ids = (listed["webhook_targets"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            #expect(ids == [ownID])
            #expect(try await client.send(.get, "/v1/local/webhook-targets/\(orgWideID)", credential: scoped).status == .notFound)
            let widen = try await client.send(
                .patch, "/v1/local/webhook-targets/\(ownID)", credential: scoped, json: #"{"repo_ids":null}"#)
            #expect(widen.status == .forbidden)
        }
    }

    @Test func writesRecordTheirEventsInTheOutboxOnlyWhileTheOrgHasATarget() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        let metadata = server.services.metadata
        try await server.test { client in
            #expect(try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"quiet"}"#).status == .created)
            #expect(try metadata.outboxEvents(limit: 100).isEmpty)

            let target = try await client.send(
                .post, "/v1/local/webhook-targets", credential: admin, json: #"{"url":"http://127.0.0.1:9/hook"}"#)
            #expect(target.status == .created)
            #expect(try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"app"}"#).status == .created)
            let change = try await client.send(
                .post, "/v1/local/app/changes", credential: admin,
                json: #"{"base_change_id":"\#(Self.root)","message":"first","files":[{"path":"a.txt","content":"YQ=="}]}"#)
            #expect(change.status == .created, "\(change.text)")
            let changeID = try #require(try Self.object(change)["id"] as? String)
            // A refused write (a bookmark that exists) records nothing.
            let clash = try await client.send(
                .post, "/v1/local/app/bookmarks", credential: admin, json: #"{"name":"main","change_id":"\#(changeID)"}"#)
            #expect(clash.status == .conflict)

            let events = try metadata.outboxEvents(limit: 100)
            #expect(events.map(\.type) == [.repoCreated, .bookmarkCreated, .changeCreated, .bookmarkMoved])
            let appID = try server.repoID("app")
            #expect(events.allSatisfy { $0.repoID == appID && $0.repoName == "app" })
            guard case .object(let data) = events[2].data, case .object(let recorded)? = data["change"] else {
                Issue.record("change.created has no change")
                return
            }
            #expect(recorded["id"] == .string(changeID))
            guard case .object(let moved) = events[3].data, case .object(let from)? = moved["from"] else {
                Issue.record("bookmark.moved has no from")
                return
            }
            #expect(from["change_id"] == .string(Self.root))
        }
    }
}

@Suite struct WebhookConfigurationTests {
    @Test func retriesBackOffExponentiallyUpToTheLongestWait() {
        let configuration = WebhookConfiguration.default
        let waits = (1...12).map { configuration.delay(afterFailedAttempts: $0) }
        #expect(Array(waits.prefix(4)) == [10, 20, 40, 80])
        #expect(waits.last == 3600)
        #expect(zip(waits, waits.dropFirst()).allSatisfy { $0 <= $1 })
        // Attempts spread over the 24 h horizon: after the first hour, one an hour.
        #expect(configuration.retryHorizon == 86_400)
    }
}
