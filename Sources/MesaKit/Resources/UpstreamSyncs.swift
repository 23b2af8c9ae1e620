public import MesaWire

extension Mesa {
    /// A repository's upstream syncs: `/{org}/{repo}/upstream/syncs` (the upstream itself is set with
    /// ``Repos/update(_:_:)`` and shown in every ``Repo``).
    public struct UpstreamSyncs: Sendable {
        let client: RESTClient
        let repo: String

        /// Queues a sync (`POST .../upstream/syncs`, 201): `pull` brings the remote's branches into bookmarks, `push`
        /// sends bookmarks to the remote's branches.
        /// - Parameter refGlobs: which branches (and tags) take part; all when `nil`.
        public func start(direction: String, refGlobs: UpstreamRefGlobs? = nil) async throws(KitError) -> UpstreamSync {
            let org = try await client.org()
            let body = StartUpstreamSyncRequest(direction: direction, refGlobs: refGlobs)
            return try await client.json(.post, [org, repo, "upstream", "syncs"], body: body)
        }

        /// One page of syncs, newest first (`GET .../upstream/syncs`).
        public func list(limit: Int? = nil, cursor: String? = nil) async throws(KitError) -> Page<UpstreamSync> {
            let org = try await client.org()
            return try await client.json(
                .get,
                [org, repo, "upstream", "syncs"],
                query: pageQuery(limit: limit, cursor: cursor)
            )
        }

        /// One sync (`GET .../upstream/syncs/{id}`).
        public func get(_ id: String) async throws(KitError) -> UpstreamSync {
            let org = try await client.org()
            return try await client.json(.get, [org, repo, "upstream", "syncs", id])
        }
    }

    /// The upstream syncs of `repo`.
    public func upstreamSyncs(_ repo: String) -> UpstreamSyncs { UpstreamSyncs(client: client, repo: repo) }
}
