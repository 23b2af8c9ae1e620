import Foundation
import HTTPTypes
import MesaServer
import MesaWire
import Testing

@Suite struct AuthTests {
    @Test func apiKeysAndTokensAuthenticate() async throws {
        let server = try ServerHarness()
        let key = try #require(APIKey(server.adminKey))
        let token = try AccessToken.mint(apiKey: key, scopes: [.read])
        try await server.test { client in
            let viaKey = try await client.send(.get, "/v1/whoami", credential: server.adminKey)
            #expect(viaKey.status == .ok)
            let whoami = try viaKey.decode(WhoAmI.self)
            #expect(whoami.org.slug == "local")
            #expect(whoami.keyID == key.embeddedKeyID)
            #expect(Set(whoami.scopes) == [.admin, .write, .read])
            let viaToken = try await client.send(.get, "/v1/whoami", credential: token)
            #expect(viaToken.status == .ok)
            #expect(try viaToken.decode(WhoAmI.self).scopes == [.read])
        }
    }

    @Test func everyRefusalIsA401Or403WithACode() async throws {
        let server = try ServerHarness()
        let admin = try #require(APIKey(server.adminKey))
        let now = Int64(Date().timeIntervalSince1970)
        let expired = try AccessToken.mint(apiKey: admin, lifetime: 60, now: now - 120)
        let forged = try AccessToken.mint(apiKey: try #require(APIKey("mesa_\(admin.embeddedKeyID ?? "")_forged")))
        let wrongAudience = AccessToken.sign(
            TokenClaims(scopes: [.read], repos: nil, issuer: admin.embeddedKeyID ?? "", audience: "elsewhere",
                issuedAt: now, expiresAt: now + 60, tokenID: "t"),
            keyID: admin.embeddedKeyID ?? "", signingKey: admin.signingKey)
        let unknownKey = try AccessToken.mint(apiKey: try #require(APIKey("mesa_nosuchkey_secret")))

        try await server.test { client in
            let cases: [(String?, String)] = [
                (nil, "UNAUTHORIZED"), ("garbage", "INVALID_API_KEY"), ("mesa_nosuch_key", "INVALID_API_KEY"),
                (expired, "TOKEN_EXPIRED"), (forged, "INVALID_TOKEN"), (wrongAudience, "INVALID_TOKEN"),
                (unknownKey, "UNKNOWN_KEY"), ("a.b.c", "INVALID_TOKEN"),
            ]
            for (credential, code) in cases {
                let reply = try await client.send(.get, "/v1/whoami", credential: credential)
                #expect(reply.status == .unauthorized, "\(code)")
                #expect(reply.errorCode == code, "\(reply.text)")
            }
        }
    }

    @Test func scopesReposAndRevocationAreEnforced() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { client in
            #expect(try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"a"}"#).status == .created)
            #expect(try await client.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"b"}"#).status == .created)

            // A read-only key cannot write.
            let readKey = try await client.send(.post, "/v1/local/api-keys", credential: admin, json: #"{"scopes":["read"]}"#)
            #expect(readKey.status == .created)
            let read = try readKey.decode(CreatedAPIKey.self).key
            let refused = try await client.send(.post, "/v1/local/repos", credential: read, json: #"{"name":"c"}"#)
            #expect(refused.status == .forbidden)
            #expect(refused.errorCode == "INSUFFICIENT_SCOPE")

            // A read token cannot write; a token limited to repo a cannot see b.
            let writeKey = try await client.send(.post, "/v1/local/api-keys", credential: admin, json: "{}")
            let write = try #require(APIKey(try writeKey.decode(CreatedAPIKey.self).key))
            let readToken = try AccessToken.mint(apiKey: write, scopes: [.read])
            #expect(try await client.send(.delete, "/v1/local/a", credential: readToken).errorCode == "INSUFFICIENT_SCOPE")
            let aToken = try AccessToken.mint(apiKey: write, repos: ["local/a"])
            #expect(try await client.send(.get, "/v1/local/a", credential: aToken).status == .ok)
            let outside = try await client.send(.get, "/v1/local/b", credential: aToken)
            #expect(outside.status == .forbidden)
            #expect(outside.errorCode == "REPO_NOT_ALLOWED")
            let listed = try await client.send(.get, "/v1/local/repos", credential: aToken).decode(Page<Repo>.self)
            #expect(listed.items.map(\.name) == ["a"])

            // Tokens are clamped to the key's scopes: an admin-scoped token from a write key is not admin.
            let clamped = try AccessToken.mint(apiKey: write, scopes: [.admin])
            #expect(try await client.send(.get, "/v1/local/api-keys", credential: clamped).errorCode == "INSUFFICIENT_SCOPE")

            // A token cannot mint keys, even from an admin key.
            let adminToken = try AccessToken.mint(apiKey: try #require(APIKey(admin)), scopes: [.admin])
            let minted = try await client.send(.post, "/v1/local/api-keys", credential: adminToken, json: "{}")
            #expect(minted.status == .forbidden)
            #expect(minted.errorCode == "TOKEN_CANNOT_MINT")

            // Revoking the key kills the key and every token signed from it.
            let id = try #require(write.embeddedKeyID)
            #expect(try await client.send(.delete, "/v1/local/api-keys/\(id)", credential: admin).status == .ok)
            #expect(try await client.send(.get, "/v1/whoami", credential: write.rawValue).errorCode == "KEY_REVOKED")
            #expect(try await client.send(.get, "/v1/whoami", credential: aToken).errorCode == "KEY_REVOKED")
            #expect(try await client.send(.delete, "/v1/local/api-keys/\(id)", credential: admin).status == .notFound)
        }
    }

    @Test func anotherOrgsCredentialIsRefused() async throws {
        let server = try ServerHarness()
        try await server.test { client in
            let reply = try await client.send(.get, "/v1/other/repos", credential: server.adminKey)
            #expect(reply.status == .forbidden)
            #expect(reply.text.contains("belongs to org 'local'"))
        }
    }
}
