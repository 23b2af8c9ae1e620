import Foundation
import MesaWire
import Synchronization

// Authentication (DESIGN.md section 6). A bearer credential is an API key (`mesa_...`, authenticated by recomputing
// its signing key) or a token (a JWS whose `kid` names the key that signed it). For a token the server checks the
// signature with that key's signing key, the audience and the expiry, that the key still exists and is neither revoked
// nor expired, and clamps the token's scopes and repos to the key's current ones, on every request.

/// Turns an `Authorization` header into a ``Principal`` or a 401.
package final class Authenticator: Sendable {
    private let metadata: any MetadataStore
    /// When each key's `last_used_at` was last written, so a busy key is written at most once a minute.
    private let lastTouched = Mutex<[String: Double]>([:])

    /// Creates an authenticator over the metadata store.
    package init(metadata: any MetadataStore) { self.metadata = metadata }

    /// Authenticates a request's `Authorization` header value.
    /// - Throws: ``APIError`` 401 with a specific code: `UNAUTHORIZED` (missing), `INVALID_API_KEY`, `INVALID_TOKEN`,
    ///   `TOKEN_EXPIRED`, `UNKNOWN_KEY`, `KEY_REVOKED`, `KEY_EXPIRED`.
    package func authenticate(authorization: String?, now: Double = Date().timeIntervalSince1970) throws(APIError)
        -> Principal
    {
        guard let authorization, authorization.lowercased().hasPrefix("bearer ") else {
            throw .unauthorized("UNAUTHORIZED", "send a credential as 'Authorization: Bearer <API key or token>'")
        }
        let credential = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        let principal: Principal
        if AccessToken.looksLikeToken(credential) {
            principal = try authenticateToken(credential, now: now)
        } else {
            principal = try authenticateKey(credential, now: now)
        }
        touch(principal.key.id, now: now)
        return principal
    }

    private func authenticateKey(_ credential: String, now: Double) throws(APIError) -> Principal {
        guard let key = APIKey(credential) else {
            throw .unauthorized("INVALID_API_KEY", "the credential is neither an API key (mesa_...) nor a token")
        }
        guard let row = try lookup({ () throws(MetadataError) in try metadata.apiKey(signingKey: key.signingKey) }) else {
            throw .unauthorized("INVALID_API_KEY", "the API key is not valid")
        }
        try checkUsable(row, now: now)
        let org = try organization(of: row)
        return Principal(
            org: org, key: row, scopes: row.scopes, repoIDs: row.repoIDs.map(Set.init), repoNames: nil, viaToken: false)
    }

    private func authenticateToken(_ token: String, now: Double) throws(APIError) -> Principal {
        let keyID: String
        do {
            keyID = try AccessToken.inspect(token).keyID
        } catch {
            throw .unauthorized("INVALID_TOKEN", "\(error)")
        }
        guard let row = try lookup({ () throws(MetadataError) in try metadata.apiKey(id: keyID) }) else {
            throw .unauthorized("UNKNOWN_KEY", "the token was signed by an unknown key '\(keyID)'")
        }
        try checkUsable(row, now: now)
        let claims: TokenClaims
        do {
            claims = try AccessToken.verify(token, signingKey: row.signingKey, now: Int64(now))
        } catch .expired {
            throw .unauthorized("TOKEN_EXPIRED", "the token has expired; mint a new one")
        } catch {
            throw .unauthorized("INVALID_TOKEN", "\(error)")
        }
        guard claims.issuer == keyID else {
            throw .unauthorized("INVALID_TOKEN", "the token's issuer '\(claims.issuer)' is not the key that signed it")
        }
        let org = try organization(of: row)
        // Clamp: a token never has more than its key has now.
        let scopes = claims.scopes.filter { row.scopes.allow($0) }
        var repoIDs = row.repoIDs.map(Set.init)
        if let tokenIDs = claims.repoIDs { repoIDs = repoIDs.map { $0.intersection(tokenIDs) } ?? Set(tokenIDs) }
        return Principal(
            org: org, key: row, scopes: scopes, repoIDs: repoIDs, repoNames: claims.repos.map(Set.init),
            viaToken: true)
    }

    private func checkUsable(_ row: APIKeyRow, now: Double) throws(APIError) {
        if row.revokedAt != nil { throw .unauthorized("KEY_REVOKED", "the API key '\(row.id)' was revoked") }
        if let expiry = row.expiresAt, expiry <= now {
            throw .unauthorized("KEY_EXPIRED", "the API key '\(row.id)' has expired")
        }
    }

    private func organization(of row: APIKeyRow) throws(APIError) -> OrgRow {
        guard let org = try lookup({ () throws(MetadataError) in try metadata.org(id: row.orgID) }) else {
            throw .unauthorized("INVALID_API_KEY", "the API key's org no longer exists")
        }
        return org
    }

    private func lookup<T>(_ body: () throws(MetadataError) -> T) throws(APIError) -> T {
        do {
            return try body()
        } catch {
            throw .internalError("the metadata store failed: \(error)")
        }
    }

    private func touch(_ keyID: String, now: Double) {
        let due = lastTouched.withLock { times -> Bool in
            guard now - (times[keyID] ?? 0) >= 60 else { return false }
            times[keyID] = now
            return true
        }
        if due { try? metadata.touchAPIKey(id: keyID, at: now) }
    }
}
