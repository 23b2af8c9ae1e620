import Foundation
import Logging
import MesaCore
import MesaTree
import MesaWire
import Synchronization

// Webhook delivery (docs/Protocol.md, "Webhooks"). Writes only append to the outbox in their own transaction
// (WebhookOutbox.swift); this task does the rest, on its own, so a slow or dead receiver never slows a write:
//
// 1. Fan-out: each outbox event, oldest first, is rendered once (its envelope; a change gets its message, author and
//    committer from the commit) and becomes one delivery row per matching target, in one transaction that also
//    takes it from the outbox.
// 2. Attempts: the oldest pending delivery of each (target, repository) pair is due when its time comes; at most
//    `concurrency` attempts run at once, each with a timeout, and a pair never has two in flight. A failed attempt is
//    retried with exponential back-off (`retryBase`, doubling up to `retryMax`) until `retryHorizon` after the
//    delivery was made, then given up (`failed`); meanwhile the pair's later deliveries wait, so each repository's
//    events reach a receiver in order.
// 3. The loop sleeps until the outbox signal moves (a write recorded events, an attempt finished) or the next
//    attempt is due. Everything is in SQLite, so a restart resumes where the last run stopped: at least once, never
//    lost. An attempt cut short by a shutdown is made again.

/// Sends one webhook request; ``WebhookDispatcher`` owns retries, order and signatures.
package protocol WebhookSender: Sendable {
    /// POSTs `body` to `url` with `headers`, giving up after `timeout`.
    /// - Returns: the receiver's status code.
    func post(url: String, headers: [(name: String, value: String)], body: [UInt8], timeout: Duration) async throws
        -> Int
}

/// How webhooks are delivered.
package struct WebhookConfiguration: Sendable, Equatable {
    /// Seconds before the first retry of a failed attempt; each further retry waits twice as long.
    package var retryBase: Double
    /// The longest wait between two attempts, in seconds.
    package var retryMax: Double
    /// Seconds after a delivery is made when it is given up if still not delivered.
    package var retryHorizon: Double
    /// Seconds an attempt may take (connecting, sending, the receiver's answer).
    package var timeout: Double
    /// Attempts in flight at once (each to a different target and repository).
    package var concurrency: Int
    /// Finished deliveries kept per target, for `GET .../deliveries`.
    package var keptDeliveries: Int

    /// 10 s doubling to one hour, for 24 hours; 10 s per attempt; 16 at once; 100 kept.
    package static let `default` = WebhookConfiguration(
        retryBase: 10, retryMax: 3600, retryHorizon: 86_400, timeout: 10, concurrency: 16, keptDeliveries: 100)

    /// The wait before attempt number `attempt + 1`, after `attempt` failed ones.
    package func delay(afterFailedAttempts attempt: Int) -> Double {
        RetryBackoff(base: retryBase, max: retryMax).delay(afterFailedAttempts: attempt)
    }
}

/// Renders outbox events and delivers them, with retries, in order per target and repository.
package final class WebhookDispatcher: Sendable {
    private let services: ServerServices
    private let sender: any WebhookSender
    private let configuration: WebhookConfiguration
    private let logger: Logger
    /// The server's own URL, for each event's `repository.url`.
    private let baseURL: Mutex<String>
    /// `targetID/repoKey` pairs with an attempt in flight.
    private let busy = Mutex(Set<String>())

    /// Creates a dispatcher; ``run()`` delivers.
    /// - Parameter baseURL: the server's URL (``setBaseURL(_:)`` replaces it once the real port is known).
    package init(
        services: ServerServices, sender: any WebhookSender, configuration: WebhookConfiguration, baseURL: String
    ) {
        self.services = services
        self.sender = sender
        self.configuration = configuration
        self.baseURL = Mutex(baseURL)
        var logger = services.logger
        logger[metadataKey: "component"] = "webhooks"
        self.logger = logger
    }

    /// Sets the URL events name their repository under (`<url>/v1/<org>/<repo>`).
    package func setBaseURL(_ url: String) { baseURL.withLock { $0 = url } }

    /// Delivers until cancelled.
    package func run() async {
        let signal = services.metadata.webhookSignal
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let version = signal.version(of: webhookSignalKey)
                var wait = 60.0
                do {
                    try await fanOut()
                    let busyNow = busy.withLock { $0 }
                    let room = configuration.concurrency - busyNow.count
                    let now = Date().timeIntervalSince1970
                    let due = room <= 0 ? [] : try await services.blocking { [services] in
                        try services.metadata.dueWebhookDeliveries(at: now, excluding: busyNow, limit: room)
                    }
                    for item in due {
                        let pair = item.delivery.targetID + "/" + item.delivery.repoKey
                        busy.withLock { _ = $0.insert(pair) }
                        group.addTask {
                            await self.attempt(item)
                            self.busy.withLock { _ = $0.remove(pair) }
                            signal.bump(webhookSignalKey)
                        }
                    }
                    // With every slot taken, the next finished attempt wakes the loop; otherwise the next due one.
                    let waiting = busy.withLock { $0 }
                    if waiting.count < configuration.concurrency {
                        let next = try await services.blocking { [services] in
                            try services.metadata.nextWebhookAttempt(excluding: waiting)
                        }
                        if let next { wait = min(wait, max(next - Date().timeIntervalSince1970, 0.01)) }
                    }
                } catch {
                    logger.error("webhook dispatch failed", metadata: ["error": "\(error)"])
                    wait = 1
                }
                await signal.wait(for: webhookSignalKey, after: version, timeout: .milliseconds(Int64(wait * 1000)))
            }
        }
    }

    /// Moves every outbox event into deliveries, oldest first, a batch per transaction.
    private func fanOut() async throws {
        while true {
            let events = try await services.blocking { [services] in try services.metadata.outboxEvents(limit: 100) }
            guard !events.isEmpty else { return }
            try await services.blocking { [self] in
                let rendered = try events.map { event in (event: event, body: try render(event)) }
                try services.metadata.fanOut(rendered, at: Date().timeIntervalSince1970)
            }
        }
    }

    /// The envelope of an event (blocking: reads a change's commit).
    private func render(_ event: OutboxEvent) throws -> [UInt8] {
        let org = try services.metadata.org(id: event.orgID)
        let organization = WhoAmI.OrgRef(
            id: event.orgID, slug: org?.slug ?? "", name: org?.name ?? "")
        let base = baseURL.withLock { $0 }
        let repository = event.repoID.map { id in
            let name = event.repoName ?? ""
            return WebhookEvent.Repository(id: id, name: name, url: "\(base)/v1/\(organization.slug)/\(name)")
        }
        var data = event.data
        if case .object(var fields) = data, case .object(let change)? = fields["change"], let repoID = event.repoID {
            fields["change"] = .object(completed(change, repoID: repoID, eventID: event.id))
            data = .object(fields)
        }
        let envelope = WebhookEvent(
            id: event.id, type: event.type, occurredAt: Timestamp.format(event.occurredAt),
            organization: organization, repository: repository, data: data)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(envelope))
    }

    /// A change's event shape with `message`, `author` and `committer` read from its commit.
    private func completed(_ change: [String: JSONValue], repoID: String, eventID: String) -> [String: JSONValue] {
        guard case .string(let hex)? = change["current_commit_oid"], let oid = ObjectID(hex: hex) else { return change }
        do {
            let commit = try services.repositories.repository(for: repoID).commit(oid)
            var change = change
            change["message"] = .string(commit.message)
            change["author"] = try Self.json(RepoOperations.signature(commit.author))
            change["committer"] = try Self.json(RepoOperations.signature(commit.committer))
            return change
        } catch {
            // Only a commit reclaimed before its event was rendered (a repo deleted long before a restart) is missing.
            logger.warning(
                "webhook event without its commit", metadata: ["event.id": "\(eventID)", "error": "\(error)"])
            return change
        }
    }

    private static func json(_ value: some Encodable) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

    /// Makes one attempt of a delivery and records how it went.
    private func attempt(_ item: DueWebhookDelivery) async {
        let delivery = item.delivery
        let started = Date().timeIntervalSince1970
        let timestamp = Int64(started)
        let headers: [(name: String, value: String)] = [
            ("Content-Type", "application/json"),
            (
                WebhookSignature.headerName,
                WebhookSignature.header(secret: item.secret, timestamp: timestamp, body: delivery.body)
            ),
            ("x-mesa-event", delivery.type.rawValue),
            ("x-mesa-delivery", String(delivery.sequence)),
            ("x-mesa-event-id", delivery.eventID),
        ]
        let outcome: WebhookAttemptOutcome
        do {
            let status = try await sender.post(
                url: item.url, headers: headers, body: delivery.body,
                timeout: .milliseconds(Int64(configuration.timeout * 1000)))
            outcome =
                (200..<300).contains(status)
                ? .delivered(statusCode: status)
                : failure(delivery, status: status, error: "the receiver answered \(status)")
        } catch {
            outcome = failure(delivery, status: nil, error: "\(error)")
        }
        if case .failed(_, let error, let next) = outcome {
            let level: Logger.Level = next == nil ? .warning : .debug
            logger.log(
                level: level, next == nil ? "webhook delivery given up" : "webhook delivery failed",
                metadata: [
                    "webhook.target": "\(delivery.targetID)", "webhook.delivery": "\(delivery.sequence)",
                    "error": "\(error)",
                ])
        }
        do {
            try await services.blocking { [services, configuration] in
                try services.metadata.recordWebhookAttempt(
                    delivery.sequence, at: Date().timeIntervalSince1970, outcome: outcome,
                    keep: configuration.keptDeliveries)
            }
        } catch {
            logger.error("cannot record a webhook attempt", metadata: ["error": "\(error)"])
        }
    }

    /// A failed attempt: retried after the back-off, unless that passes the retry horizon.
    private func failure(_ delivery: WebhookDeliveryRow, status: Int?, error: String) -> WebhookAttemptOutcome {
        let next = Date().timeIntervalSince1970 + configuration.delay(afterFailedAttempts: delivery.attempts + 1)
        let giveUp = next > delivery.createdAt + configuration.retryHorizon
        return .failed(statusCode: status, error: error, nextAttemptAt: giveUp ? nil : next)
    }
}
