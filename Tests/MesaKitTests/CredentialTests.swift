import Foundation
import MesaKit
import MesaTesting
import MesaWire
import Testing

@Suite struct CredentialTests {
    @Test func tokenIsMintedLocallyAndVerifies() async throws {
        let server = try LoopbackHTTPServer { _ in .error(500, code: "UNEXPECTED", message: "no request expected") }
        let mesa = makeClient(server, org: nil)
        let now = Int64(Date().timeIntervalSince1970)
        let token = try await mesa.tokens.create(scopes: [.read], repos: ["acme/demo"], ttlSeconds: 600)
        #expect(server.requestCount == 0)
        let key = try #require(APIKey(Fixture.apiKey))
        let claims = try AccessToken.verify(token, signingKey: key.signingKey, now: now)
        #expect(claims.scopes == [.read])
        #expect(claims.repos == ["acme/demo"])
        #expect(claims.issuer == "k1")
        #expect(claims.expiresAt - claims.issuedAt == 600)
        #expect(abs(claims.issuedAt - now) <= 5)
        #expect(try AccessToken.inspect(token).keyID == "k1")
    }

    @Test func keyWithoutEmbeddedIDLearnsItFromWhoamiOnce() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, Fixture.whoami(keyID: "k9")) }
        let apiKey = "mesa_secretwithoutanid"
        let mesa = makeClient(server, apiKey: apiKey)
        let first = try await mesa.tokens.create()
        let second = try await mesa.tokens.create(scopes: [.read, .write, .admin])
        #expect(server.requests.map(\.rawPath) == ["/v1/whoami"])
        let key = try #require(APIKey(apiKey))
        let now = Int64(Date().timeIntervalSince1970)
        #expect(try AccessToken.verify(first, signingKey: key.signingKey, now: now).issuer == "k9")
        #expect(try AccessToken.verify(second, signingKey: key.signingKey, now: now).scopes == [.read, .write, .admin])
    }

    @Test func tokenCredentialCannotMintTokens() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, Fixture.whoami(keyID: "k1")) }
        let key = try #require(APIKey(Fixture.apiKey))
        let token = try AccessToken.mint(apiKey: key)
        await #expect(throws: KitError.tokenCannotMintTokens) {
            try await makeClient(server, apiKey: token).tokens.create()
        }
        #expect(server.requestCount == 0)
    }

    @Test func invalidLifetimeIsRefusedBeforeSigning() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, "{}") }
        await #expect(throws: KitError.invalidArgument("ttlSeconds 86401 is outside 1...86400")) {
            try await makeClient(server).tokens.create(ttlSeconds: 86401)
        }
    }

    @Test func swappedCredentialIsUsedByTheNextRequest() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, Fixture.repo("demo")) }
        let credential = MutableCredential("token-a")
        let mesa = Mesa(credentials: credential, org: Fixture.org, baseURL: server.baseURL)
        server.setDelay(.milliseconds(300))
        let slow = Task { try await mesa.repos.get("slow") }
        #expect(await eventually { server.requestCount == 1 })
        // The first request is still in flight; the swap applies to requests sent from now on.
        credential.replace(with: "token-b")
        server.setDelay(.zero)
        _ = try await mesa.repos.get("fast")
        _ = try await slow.value
        let authorizations = Dictionary(
            uniqueKeysWithValues: server.requests.map { ($0.pathSegments.last ?? "", $0.header("Authorization")) }
        )
        #expect(authorizations["slow"] == "Bearer token-a")
        #expect(authorizations["fast"] == "Bearer token-b")
    }

    @Test func failingProviderIsATypedError() async throws {
        struct Broken: CredentialProvider {
            struct Failure: Error {}
            func credential() async throws -> String { throw Failure() }
        }
        let server = try LoopbackHTTPServer { _ in .json(200, Fixture.repo("demo")) }
        let mesa = Mesa(credentials: Broken(), org: Fixture.org, baseURL: server.baseURL)
        do {
            _ = try await mesa.repos.get("demo")
            Issue.record("a failing provider must fail the request")
        } catch {
            guard case .credentialUnavailable = error else {
                Issue.record("expected credentialUnavailable, got \(error)")
                return
            }
        }
        #expect(server.requestCount == 0)
    }
}
