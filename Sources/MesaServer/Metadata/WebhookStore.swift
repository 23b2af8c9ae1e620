package import MesaWire

// Webhooks in the metadata store (docs/Protocol.md, "Webhooks"). Three tables:
//
// - `webhook_targets`: where to send what, with the signing secret (kept, since the server signs every delivery).
// - `webhook_events`: the outbox. Every write that causes an event records it in the write's own transaction (the
//   catalog's change and bookmark writes, repo creation, update and deletion), so an acknowledged write never loses
//   its event, even to a crash. Rows are written only while the org has a target.
// - `webhook_deliveries`: one row per event and matching target, made when the dispatcher takes an event from the
//   outbox (rendering its body once); each row is retried until a 2xx answer or the retry horizon, and a pending row
//   holds back the later ones of its target and repository, so a receiver sees each repository's events in order.

/// A webhook target, with its signing secret.
package struct WebhookTargetRow: Sendable, Equatable {
    package var id: String
    package var orgID: String
    package var name: String?
    package var url: String
    package var events: [WebhookEventType]
    /// `nil`: every repo of the org.
    package var repoIDs: [String]?
    package var secret: String
    package var createdAt: Double
    package var updatedAt: Double

    /// Whether an event of `type` about `repoID` (`nil` for org events) goes to this target.
    package func wants(_ type: WebhookEventType, repoID: String?) -> Bool {
        guard events.contains(type) else { return false }
        guard let repoIDs else { return true }
        return repoID.map(repoIDs.contains) ?? false
    }
}

/// An event waiting in the outbox for its deliveries to be made.
package struct OutboxEvent: Sendable, Equatable {
    /// The outbox order.
    package var sequence: Int64
    package var id: String
    package var orgID: String
    package var repoID: String?
    /// The repo's name when the event happened.
    package var repoName: String?
    package var type: WebhookEventType
    package var occurredAt: Double
    /// The event's data as recorded in the cause's transaction; a change's message, author and committer are added
    /// from its commit when the body is rendered.
    package var data: JSONValue
}

/// A delivery of one event to one target.
package struct WebhookDeliveryRow: Sendable, Equatable {
    package enum Status: String, Sendable {
        case pending, delivered, failed
    }

    package var sequence: Int64
    package var targetID: String
    package var eventID: String
    package var type: WebhookEventType
    /// The repository the event concerns (empty for org events): the unit of ordering.
    package var repoKey: String
    /// The envelope as sent.
    package var body: [UInt8]
    package var status: Status
    package var attempts: Int
    package var createdAt: Double
    package var nextAttemptAt: Double
    package var lastAttemptAt: Double?
    package var lastStatusCode: Int?
    package var lastError: String?
    package var completedAt: Double?
}

/// A delivery due for an attempt, with where to send it and the secret to sign it with.
package struct DueWebhookDelivery: Sendable, Equatable {
    package var delivery: WebhookDeliveryRow
    package var url: String
    package var secret: String
}

/// How an attempt went.
package enum WebhookAttemptOutcome: Sendable, Equatable {
    /// The receiver answered 2xx.
    case delivered(statusCode: Int)
    /// Another answer or no answer; retry at `nextAttemptAt`, or give up when it is `nil`.
    case failed(statusCode: Int?, error: String, nextAttemptAt: Double?)
}

/// The webhook part of the metadata store.
package protocol WebhookStore: Sendable {
    /// Bumped (key ``webhookSignalKey``) whenever the outbox may have new work: what the dispatcher waits on.
    var webhookSignal: RevisionSignal { get }

    /// Creates a target with a new secret.
    func createWebhookTarget(
        orgID: String, name: String?, url: String, events: [WebhookEventType], repoIDs: [String]?
    ) throws(MetadataError) -> WebhookTargetRow
    /// The org's target with this id.
    func webhookTarget(orgID: String, id: String) throws(MetadataError) -> WebhookTargetRow?
    /// An org's targets by id.
    func webhookTargets(orgID: String, limit: Int, cursor: String?) throws(MetadataError)
        -> MetadataPage<WebhookTargetRow>
    /// Replaces a target's name, url, events and repo filter (and sets its `updated_at`).
    func updateWebhookTarget(_ target: WebhookTargetRow) throws(MetadataError) -> WebhookTargetRow
    /// Deletes a target with its deliveries.
    /// - Returns: whether it existed.
    func deleteWebhookTarget(orgID: String, id: String) throws(MetadataError) -> Bool
    /// A target's deliveries, newest first; `cursor` is the sequence the previous page ended after.
    func webhookDeliveries(targetID: String, limit: Int, cursor: Int64?) throws(MetadataError)
        -> MetadataPage<WebhookDeliveryRow>

    /// The oldest events of the outbox.
    func outboxEvents(limit: Int) throws(MetadataError) -> [OutboxEvent]
    /// Takes events from the outbox and makes their deliveries (one per matching target, as the targets are now,
    /// each sending the event's rendered `body`), in one transaction.
    func fanOut(_ events: [(event: OutboxEvent, body: [UInt8])], at time: Double) throws(MetadataError)
    /// Pending deliveries due at `time` that are the oldest pending one of their target and repository (so each
    /// repository's events reach a target in order), skipping those of `busy` (`targetID + "/" + repoKey`), oldest
    /// first.
    func dueWebhookDeliveries(at time: Double, excluding busy: Set<String>, limit: Int) throws(MetadataError)
        -> [DueWebhookDelivery]
    /// The earliest time the oldest pending delivery of a target and repository is due, skipping those of `busy`.
    func nextWebhookAttempt(excluding busy: Set<String>) throws(MetadataError) -> Double?
    /// Records an attempt of a delivery, keeping the newest `keep` finished deliveries of its target.
    func recordWebhookAttempt(
        _ sequence: Int64, at time: Double, outcome: WebhookAttemptOutcome, keep: Int
    ) throws(MetadataError)
}

/// The key of ``WebhookStore/webhookSignal``.
package let webhookSignalKey = "webhooks"
