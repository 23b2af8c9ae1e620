public import MesaWire

extension Mesa {
    /// The org's repositories: `/{org}/repos` and `/{org}/{repo}`.
    public struct Repos: Sendable {
        let client: RESTClient

        /// One page of repositories (`GET /{org}/repos`).
        /// - Parameters:
        ///   - limit: page size, 1 to 100 (the server's default is 50).
        ///   - cursor: the previous page's ``Page/nextCursor``.
        public func list(limit: Int? = nil, cursor: String? = nil) async throws(KitError) -> Page<Repo> {
            let org = try await client.org()
            return try await client.json(.get, [org, "repos"], query: pageQuery(limit: limit, cursor: cursor))
        }

        /// Every repository, fetching pages as the sequence is read.
        public func all(pageSize: Int? = nil) -> PageSequence<Repo> {
            PageSequence { cursor throws(KitError) in try await list(limit: pageSize, cursor: cursor) }
        }

        /// Creates a repository (`POST /{org}/repos`, 201).
        /// - Parameters:
        ///   - name: 1 to 100 of `A-Z a-z 0-9 . _ -`; the server picks one when `nil`.
        ///   - defaultBookmark: defaults to `main` on the server.
        ///   - tags: free-form labels.
        public func create(
            name: String? = nil,
            defaultBookmark: String? = nil,
            tags: [String: String]? = nil
        ) async throws(KitError) -> Repo {
            let org = try await client.org()
            let body = CreateRepoRequest(name: name, defaultBookmark: defaultBookmark, tags: tags)
            return try await client.json(.post, [org, "repos"], body: body)
        }

        /// One repository (`GET /{org}/{repo}`).
        public func get(_ name: String) async throws(KitError) -> Repo {
            let org = try await client.org()
            return try await client.json(.get, [org, name])
        }

        /// Renames a repository, changes its default bookmark or patches its tags (`PATCH /{org}/{repo}`).
        public func update(_ name: String, _ changes: UpdateRepoRequest) async throws(KitError) -> Repo {
            let org = try await client.org()
            return try await client.json(.patch, [org, name], body: changes)
        }

        /// Deletes a repository (`DELETE /{org}/{repo}`).
        public func delete(_ name: String) async throws(KitError) {
            let org = try await client.org()
            let _: SuccessResponse = try await client.json(.delete, [org, name])
        }
    }
}

/// The `limit` and `cursor` query items of a list call.
func pageQuery(limit: Int?, cursor: String?) -> [(name: String, value: String?)] {
    [("limit", limit.map(String.init)), ("cursor", cursor)]
}
