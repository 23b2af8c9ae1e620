import Crypto

/// A Mesa API key as presented by a client: `mesa_` + secret. Ours embed the key id, `mesa_<keyid>_<secret>`
/// (DESIGN.md section 6), so our SDK can sign tokens with no network call.
public struct APIKey: Sendable, Hashable, CustomStringConvertible {
    /// The whole key, as shown once at creation.
    public let rawValue: String

    /// Wraps a key string.
    /// - Returns: `nil` unless it starts with `mesa_` and has a non-empty secret.
    public init?(_ rawValue: String) {
        guard rawValue.hasPrefix("mesa_"), rawValue.count > 5, !rawValue.contains(".") else { return nil }
        self.rawValue = rawValue
    }

    /// The key id embedded in our keys' format (`mesa_<keyid>_<secret>`: a lower-case alphanumeric id and a secret
    /// without underscores), or `nil` for a key of another format, such as a Mesa-issued `mesa_<secret>` whose
    /// base64url secret may itself contain underscores (its id then comes from `whoami`).
    public var embeddedKeyID: String? {
        let parts = rawValue.dropFirst(5).split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
            parts[0].utf8.allSatisfy({ (48...57).contains($0) || (97...122).contains($0) })
        else { return nil }
        return String(parts[0])
    }

    /// `base64url_nopad(SHA-256(utf8(key)))`: what the server stores, and the HMAC key of tokens signed from it.
    public var signingKey: String { Base64URL.encode(Array(SHA256.hash(data: Array(rawValue.utf8)))) }

    /// Never the secret: the key id and a mask.
    public var description: String { "mesa_\(embeddedKeyID ?? "?")_****" }
}
