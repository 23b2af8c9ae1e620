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

    /// The key id embedded in our keys' format (`mesa_<keyid>_<secret>`), or `nil` for a key of another format.
    public var embeddedKeyID: String? {
        let body = rawValue.dropFirst(5)
        guard let separator = body.firstIndex(of: "_") else { return nil }
        let id = body[..<separator]
        guard !id.isEmpty, body.index(after: separator) < body.endIndex else { return nil }
        return String(id)
    }

    /// `base64url_nopad(SHA-256(utf8(key)))`: what the server stores, and the HMAC key of tokens signed from it.
    public var signingKey: String { Base64URL.encode(Array(SHA256.hash(data: Array(rawValue.utf8)))) }

    /// Never the secret: the key id and a mask.
    public var description: String { "mesa_\(embeddedKeyID ?? "?")_****" }
}
