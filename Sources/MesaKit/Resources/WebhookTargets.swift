public import MesaWire

extension Mesa {
    /// The org's webhook targets: `/{org}/webhook-targets` (admin scope; MESA-API.md, "Webhooks").
    public struct WebhookTargets: Sendable {
        let client: RESTClient

        /// Creates a target (`POST /{org}/webhook-targets`, 201). The answer's ``WebhookTarget/secret`` is the only
        /// time the signing secret is shown.
        /// - Parameters:
        ///   - events: the server's default is `[.push]`.
        ///   - repoIDs: only events of these repositories; `nil` for every repository of the org.
        public func create(
            url: String, name: String? = nil, events: [WebhookEventType]? = nil, repoIDs: [String]? = nil
        ) async throws(KitError) -> WebhookTarget {
            let org = try await client.org()
            let body = CreateWebhookTargetRequest(url: url, name: name, events: events, repoIDs: repoIDs)
            return try await client.json(.post, [org, "webhook-targets"], body: body)
        }

        /// One target, without its secret (`GET /{org}/webhook-targets/{id}`).
        public func get(_ id: String) async throws(KitError) -> WebhookTarget {
            let org = try await client.org()
            return try await client.json(.get, [org, "webhook-targets", id])
        }

        /// One page of targets, never with secrets (`GET /{org}/webhook-targets`).
        public func list(limit: Int? = nil, cursor: String? = nil) async throws(KitError) -> Page<WebhookTarget> {
            let org = try await client.org()
            return try await client.json(.get, [org, "webhook-targets"], query: pageQuery(limit: limit, cursor: cursor))
        }

        /// Every target, fetching pages as the sequence is read.
        public func all(pageSize: Int? = nil) -> PageSequence<WebhookTarget> {
            PageSequence { cursor throws(KitError) in try await list(limit: pageSize, cursor: cursor) }
        }

        /// Replaces the fields given (`PATCH /{org}/webhook-targets/{id}`); `repoIDs: .some(nil)` clears the filter.
        public func update(_ id: String, _ changes: UpdateWebhookTargetRequest) async throws(KitError) -> WebhookTarget {
            let org = try await client.org()
            return try await client.json(.patch, [org, "webhook-targets", id], body: changes)
        }

        /// Deletes a target with its pending deliveries (`DELETE /{org}/webhook-targets/{id}`).
        public func delete(_ id: String) async throws(KitError) {
            let org = try await client.org()
            let _: SuccessResponse = try await client.json(.delete, [org, "webhook-targets", id])
        }

        /// A target's recent deliveries, newest first (`GET /{org}/webhook-targets/{id}/deliveries`, ours).
        public func deliveries(_ id: String, limit: Int? = nil, cursor: String? = nil) async throws(KitError)
            -> Page<WebhookDelivery>
        {
            let org = try await client.org()
            return try await client.json(
                .get, [org, "webhook-targets", id, "deliveries"], query: pageQuery(limit: limit, cursor: cursor))
        }
    }
}
