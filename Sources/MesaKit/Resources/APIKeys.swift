public import MesaWire

extension Mesa {
    /// The org's API keys: `/{org}/api-keys` (admin scope; a token can never create keys).
    public struct APIKeys: Sendable {
        let client: RESTClient

        /// Creates a key (`POST /{org}/api-keys`, 201). The answer's ``CreatedAPIKey/key`` is the only time the
        /// secret is shown.
        /// - Parameters:
        ///   - scopes: the server's default is read and write.
        ///   - repoIDs: restrict the key to these repositories.
        ///   - expiresInSeconds: 100 to 31,536,000.
        public func create(
            name: String? = nil,
            scopes: [Scope]? = nil,
            repoIDs: [String]? = nil,
            expiresInSeconds: Int? = nil,
            tags: [String: String]? = nil
        ) async throws(KitError) -> CreatedAPIKey {
            let org = try await client.org()
            let body = CreateAPIKeyRequest(
                name: name,
                scopes: scopes,
                repoIDs: repoIDs,
                expiresInSeconds: expiresInSeconds,
                tags: tags
            )
            return try await client.json(.post, [org, "api-keys"], body: body)
        }

        /// One page of keys, never with secrets (`GET /{org}/api-keys`).
        public func list(limit: Int? = nil, cursor: String? = nil) async throws(KitError) -> Page<APIKeyInfo> {
            let org = try await client.org()
            return try await client.json(.get, [org, "api-keys"], query: pageQuery(limit: limit, cursor: cursor))
        }

        /// Every key, fetching pages as the sequence is read.
        public func all(pageSize: Int? = nil) -> PageSequence<APIKeyInfo> {
            PageSequence { cursor throws(KitError) in try await list(limit: pageSize, cursor: cursor) }
        }

        /// Revokes a key and every token signed from it (`DELETE /{org}/api-keys/{id}`).
        public func revoke(_ id: String) async throws(KitError) {
            let org = try await client.org()
            let _: SuccessResponse = try await client.json(.delete, [org, "api-keys", id])
        }
    }
}
