public import MesaWire

extension Mesa {
    /// Short-lived access tokens, signed locally (HS256) from the client's API key.
    public struct Tokens: Sendable {
        let client: RESTClient

        /// Mints a token.
        ///
        /// Our keys embed their id (`mesa_<keyid>_<secret>`), so this makes no network call at all; for a key of
        /// another format the key id is learned from `whoami` once and remembered.
        /// - Parameters:
        ///   - scopes: what the token may do; the server clamps them to the key's current scopes.
        ///   - repos: `org/repo` names the token is limited to; `nil` for no restriction.
        ///   - ttlSeconds: lifetime, 1 to 86,400 seconds.
        /// - Throws: ``KitError/tokenCannotMintTokens`` when the client's credential is itself a token,
        ///   ``KitError/invalidArgument(_:)`` for a credential that is not an API key or a lifetime out of range.
        public func create(
            scopes: [Scope] = [.read, .write],
            repos: [String]? = nil,
            ttlSeconds: Int = AccessToken.defaultLifetime
        ) async throws(KitError) -> String {
            let credential = try await client.currentCredential()
            guard !AccessToken.looksLikeToken(credential) else { throw .tokenCannotMintTokens }
            guard let key = APIKey(credential) else {
                throw .invalidArgument("the credential is not a Mesa API key (mesa_...), so it cannot sign tokens")
            }
            guard (1...AccessToken.maximumLifetime).contains(ttlSeconds) else {
                throw .invalidArgument("ttlSeconds \(ttlSeconds) is outside 1...\(AccessToken.maximumLifetime)")
            }
            guard !scopes.isEmpty else { throw .invalidArgument("a token needs at least one scope") }
            let keyID: String
            if let embedded = key.embeddedKeyID {
                keyID = embedded
            } else {
                keyID = try await client.keyID(of: credential)
            }
            do {
                return try AccessToken.mint(
                    apiKey: key,
                    keyID: keyID,
                    scopes: scopes,
                    repos: repos,
                    lifetime: ttlSeconds
                )
            } catch {
                throw .invalidArgument(error.description)
            }
        }
    }
}
