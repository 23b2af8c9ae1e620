import Crypto
import Foundation

// Mesa's short-lived access tokens (MESA-API.md, "API keys and tokens"): compact JWS, HS256.
//
//   header  {"alg":"HS256","typ":"mesa-at+jwt","kid":"<api key id>.v1"}
//   payload {"scopes":[...],"repos":[...]|null,"iss":"<api key id>","aud":"mesa-api","iat":s,"exp":s,"jti":"<uuid>"}
//   key     the ASCII bytes of the API key's signing key, base64url_nopad(SHA-256(key))
//
// Both JSON objects are written by hand, compact and in exactly this key order, so tokens minted here are
// byte-identical to those of Mesa's own SDKs (a golden token in the tests checks it). Signing needs no network.

/// The claims of an access token.
public struct TokenClaims: Sendable, Equatable {
    /// What the token may do; the server clamps them to the key's current scopes.
    public var scopes: [Scope]
    /// `org/repo` names the token is limited to; `nil` means no restriction.
    public var repos: [String]?
    /// Repo ids the token is limited to (an alternative to `repos`); `nil` means no restriction.
    public var repoIDs: [String]?
    /// The API key id that signed it (`iss`).
    public var issuer: String
    /// Always `mesa-api`.
    public var audience: String
    /// Issued-at, seconds since the epoch.
    public var issuedAt: Int64
    /// Expiry, seconds since the epoch.
    public var expiresAt: Int64
    /// A unique token id (`jti`, a UUID).
    public var tokenID: String

    /// Creates claims.
    public init(
        scopes: [Scope], repos: [String]?, repoIDs: [String]? = nil, issuer: String,
        audience: String = AccessToken.audience, issuedAt: Int64, expiresAt: Int64, tokenID: String
    ) {
        self.scopes = scopes
        self.repos = repos
        self.repoIDs = repoIDs
        self.issuer = issuer
        self.audience = audience
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
        self.tokenID = tokenID
    }
}

/// Why a token was refused.
public enum TokenError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not three base64url parts of JSON, or a required claim is missing or mistyped.
    case malformed(String)
    /// The header names another algorithm or type.
    case unsupported(String)
    /// The signature does not match the key.
    case badSignature
    /// `exp` is in the past.
    case expired
    /// `aud` is not `mesa-api`.
    case wrongAudience(String)
    /// A requested lifetime, or a token's `exp - iat`, outside 1 s to 86,400 s.
    case lifetimeOutOfRange(Int)
    /// `iat` is later than now by more than the allowed clock skew.
    case issuedInFuture(Int64)

    public var description: String {
        switch self {
        case .malformed(let reason): "malformed token: \(reason)"
        case .unsupported(let what): "unsupported token: \(what)"
        case .badSignature: "token signature does not verify"
        case .expired: "token has expired; mint a new one"
        case .wrongAudience(let audience): "token audience '\(audience)' is not mesa-api"
        case .lifetimeOutOfRange(let seconds): "token lifetime \(seconds) s is outside 1...86400 s"
        case .issuedInFuture(let seconds):
            "token is issued \(seconds) s in the future; check the clock of the machine that signed it"
        }
    }
}

/// Minting and verifying Mesa access tokens.
public enum AccessToken {
    /// The audience of every token.
    public static let audience = "mesa-api"
    /// The `typ` of every token.
    public static let type = "mesa-at+jwt"
    /// Default lifetime, seconds.
    public static let defaultLifetime = 3600
    /// Longest lifetime, seconds.
    public static let maximumLifetime = 86400

    /// Signs claims with an API key's signing key.
    /// - Parameters:
    ///   - claims: what the token says.
    ///   - keyID: the API key's id (the header's `kid` is `<keyID>.v1`).
    ///   - signingKey: ``APIKey/signingKey``.
    public static func sign(_ claims: TokenClaims, keyID: String, signingKey: String) -> String {
        let header = "{\"alg\":\"HS256\",\"typ\":\(json(type)),\"kid\":\(json(keyID + ".v1"))}"
        var payload = "{\"scopes\":[\(claims.scopes.map { json($0.rawValue) }.joined(separator: ","))]"
        payload += ",\"repos\":" + (claims.repos.map { "[\($0.map(json).joined(separator: ","))]" } ?? "null")
        if let repoIDs = claims.repoIDs { payload += ",\"repo_ids\":[\(repoIDs.map(json).joined(separator: ","))]" }
        payload += ",\"iss\":\(json(claims.issuer)),\"aud\":\(json(claims.audience))"
        payload += ",\"iat\":\(claims.issuedAt),\"exp\":\(claims.expiresAt),\"jti\":\(json(claims.tokenID))}"
        let signingInput = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array(signingInput.utf8), using: SymmetricKey(data: Array(signingKey.utf8)))
        return signingInput + "." + Base64URL.encode(Array(mac))
    }

    /// Mints a token from one of our API keys (`mesa_<keyid>_<secret>`) with no network call. `now` defaults to the
    /// clock, `tokenID` to a fresh UUID.
    /// - Throws: ``TokenError/lifetimeOutOfRange(_:)``, or ``TokenError/malformed(_:)`` when the key does not embed
    ///   its id (pass `keyID` from `whoami` then).
    public static func mint(
        apiKey: APIKey, keyID: String? = nil, scopes: [Scope] = [.read, .write], repos: [String]? = nil,
        lifetime: Int = defaultLifetime, now: Int64? = nil, tokenID: String? = nil
    ) throws(TokenError) -> String {
        let now = now ?? Int64(Date().timeIntervalSince1970)
        let tokenID = tokenID ?? UUID().uuidString.lowercased()
        guard (1...maximumLifetime).contains(lifetime) else { throw .lifetimeOutOfRange(lifetime) }
        guard let keyID = keyID ?? apiKey.embeddedKeyID else {
            throw .malformed("the API key does not embed its key id; pass the id from whoami")
        }
        let claims = TokenClaims(
            scopes: scopes, repos: repos, issuer: keyID, issuedAt: now, expiresAt: now + Int64(lifetime),
            tokenID: tokenID)
        return sign(claims, keyID: keyID, signingKey: apiKey.signingKey)
    }

    /// Whether a credential string looks like a token (three dot-separated parts) rather than an API key.
    public static func looksLikeToken(_ credential: String) -> Bool {
        credential.split(separator: ".", omittingEmptySubsequences: false).count == 3
    }

    /// Reads a token's key id and claims without checking the signature (to find the key to verify with).
    public static func inspect(_ token: String) throws(TokenError) -> (keyID: String, claims: TokenClaims) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .malformed("a token has three dot-separated parts") }
        guard let headerBytes = Base64URL.decode(parts[0]), let payloadBytes = Base64URL.decode(parts[1]) else {
            throw .malformed("a part is not base64url")
        }
        let header: Header
        let payload: Payload
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(headerBytes))
            payload = try JSONDecoder().decode(Payload.self, from: Data(payloadBytes))
        } catch {
            throw .malformed("header or payload is not the expected JSON")
        }
        guard header.alg == "HS256" else { throw .unsupported("algorithm \(header.alg)") }
        guard header.typ == nil || header.typ == type || header.typ == "JWT" else {
            throw .unsupported("type \(header.typ ?? "")")
        }
        // The key id is everything before the last dot of `kid` (MESA-API.md: split on the last dot).
        guard let dot = header.kid.lastIndex(of: "."), header.kid[header.kid.index(after: dot)...] == "v1" else {
            throw .unsupported("key id version in '\(header.kid)'")
        }
        var scopes: [Scope] = []
        for name in payload.scopes {
            guard let scope = Scope(rawValue: name) else { throw .malformed("unknown scope '\(name)'") }
            scopes.append(scope)
        }
        let claims = TokenClaims(
            scopes: scopes, repos: payload.repos, repoIDs: payload.repo_ids, issuer: payload.iss, audience: payload.aud,
            issuedAt: payload.iat, expiresAt: payload.exp, tokenID: payload.jti)
        return (String(header.kid[..<dot]), claims)
    }

    /// Verifies a token's signature, audience and expiry.
    /// - Parameters:
    ///   - token: the compact token.
    ///   - signingKey: the signing key of the key named by ``inspect(_:)``.
    ///   - now: the current time, seconds since the epoch.
    /// - Returns: the claims.
    public static func verify(_ token: String, signingKey: String, now: Int64) throws(TokenError) -> TokenClaims {
        let (_, claims) = try inspect(token)
        guard let lastDot = token.lastIndex(of: "."), let signature = Base64URL.decode(token[token.index(after: lastDot)...])
        else { throw .malformed("signature is not base64url") }
        let valid = HMAC<SHA256>.isValidAuthenticationCode(
            signature, authenticating: Array(token[..<lastDot].utf8), using: SymmetricKey(data: Array(signingKey.utf8)))
        guard valid else { throw .badSignature }
        guard claims.audience == audience else { throw .wrongAudience(claims.audience) }
        guard claims.expiresAt > now else { throw .expired }
        // A token lives at most a day (Mesa's maximum), counted from when it says it was issued, and it cannot say it
        // was issued later than now (beyond a small skew between the signer's clock and ours).
        let lifetime = claims.expiresAt.subtractingReportingOverflow(claims.issuedAt)
        guard !lifetime.overflow, (1...Int64(maximumLifetime)).contains(lifetime.partialValue) else {
            throw .lifetimeOutOfRange(lifetime.overflow ? Int.max : Int(clamping: lifetime.partialValue))
        }
        guard claims.issuedAt <= now + allowedClockSkew else { throw .issuedInFuture(claims.issuedAt - now) }
        return claims
    }

    /// How far in the future a token's `iat` may be (clock skew between signer and server), in seconds.
    public static let allowedClockSkew: Int64 = 60

    private struct Header: Decodable {
        var alg: String
        var typ: String?
        var kid: String
    }

    private struct Payload: Decodable {
        var scopes: [String]
        var repos: [String]?
        var repo_ids: [String]?
        var iss: String
        var aud: String
        var iat: Int64
        var exp: Int64
        var jti: String
    }

    /// A JSON string literal.
    static func json(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let control where control.value < 0x20: out += String(format: "\\u%04x", control.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
