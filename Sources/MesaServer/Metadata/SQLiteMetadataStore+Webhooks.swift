import Foundation
import GRDB
package import MesaWire

// Webhook targets, the outbox and deliveries in SQLite (WebhookStore.swift).

extension SQLiteMetadataStore {
    // MARK: Targets

    package func createWebhookTarget(
        orgID: String, name: String?, url: String, events: [WebhookEventType], repoIDs: [String]?
    ) throws(MetadataError) -> WebhookTargetRow {
        let now = Date().timeIntervalSince1970
        let row = WebhookTargetRow(
            id: "wht_" + Self.randomToken(length: 16, alphabet: "abcdefghijklmnopqrstuvwxyz0123456789"), orgID: orgID,
            name: name, url: url, events: events, repoIDs: repoIDs,
            secret: "whsec_" + Self.randomToken(
                length: 43, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            createdAt: now, updatedAt: now)
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO webhook_targets (id, org_id, name, url, events, repo_ids, secret, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    row.id, orgID, name, url, Self.json(events.map(\.rawValue)), repoIDs.map(Self.json), row.secret,
                    now, now,
                ])
        }
        return row
    }

    package func webhookTarget(orgID: String, id: String) throws(MetadataError) -> WebhookTargetRow? {
        try read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM webhook_targets WHERE org_id = ? AND id = ?", arguments: [orgID, id]
            ).map(Self.webhookTarget)
        }
    }

    package func webhookTargets(
        orgID: String, limit: Int, cursor: String?
    ) throws(MetadataError) -> MetadataPage<WebhookTargetRow> {
        try read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT * FROM webhook_targets WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?",
                arguments: [orgID, cursor ?? "", limit + 1]
            ).map(Self.webhookTarget)
            let next = rows.count > limit ? rows[limit - 1].id : nil
            return MetadataPage(rows: Array(rows.prefix(limit)), nextCursor: next)
        }
    }

    package func updateWebhookTarget(_ target: WebhookTargetRow) throws(MetadataError) -> WebhookTargetRow {
        var updated = target
        updated.updatedAt = Date().timeIntervalSince1970
        let row = updated
        try write { db in
            try db.execute(
                sql: """
                    UPDATE webhook_targets SET name = ?, url = ?, events = ?, repo_ids = ?, updated_at = ?
                    WHERE id = ?
                    """,
                arguments: [
                    row.name, row.url, Self.json(row.events.map(\.rawValue)), row.repoIDs.map(Self.json),
                    row.updatedAt, row.id,
                ])
        }
        return row
    }

    package func deleteWebhookTarget(orgID: String, id: String) throws(MetadataError) -> Bool {
        try write { db in
            try db.execute(sql: "DELETE FROM webhook_targets WHERE org_id = ? AND id = ?", arguments: [orgID, id])
            guard db.changesCount > 0 else { return false }
            try db.execute(sql: "DELETE FROM webhook_deliveries WHERE target_id = ?", arguments: [id])
            return true
        }
    }

    static func webhookTarget(_ row: Row) -> WebhookTargetRow {
        let events: [String] = decode(row["events"]) ?? []
        let repoIDs: String? = row["repo_ids"]
        return WebhookTargetRow(
            id: row["id"], orgID: row["org_id"], name: row["name"], url: row["url"],
            events: events.compactMap(WebhookEventType.init(rawValue:)), repoIDs: repoIDs.flatMap { decode($0) },
            secret: row["secret"], createdAt: row["created_at"], updatedAt: row["updated_at"])
    }

    // MARK: Outbox

    package func outboxEvents(limit: Int) throws(MetadataError) -> [OutboxEvent] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM webhook_events ORDER BY seq LIMIT ?", arguments: [limit])
                .compactMap { row -> OutboxEvent? in
                    guard let type = WebhookEventType(rawValue: row["type"]) else { return nil }
                    let data: JSONValue = Self.decode(row["data"]) ?? .object([:])
                    return OutboxEvent(
                        sequence: row["seq"], id: row["id"], orgID: row["org_id"], repoID: row["repo_id"],
                        repoName: row["repo_name"], type: type, occurredAt: row["occurred_at"], data: data)
                }
        }
    }

    package func fanOut(_ events: [(event: OutboxEvent, body: [UInt8])], at time: Double) throws(MetadataError) {
        guard !events.isEmpty else { return }
        try write { db in
            let insert = try db.makeStatement(
                sql: """
                    INSERT INTO webhook_deliveries
                        (target_id, event_id, type, repo_key, body, status, attempts, created_at, next_attempt_at)
                    VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)
                    """)
            var targets: [String: [WebhookTargetRow]] = [:]
            for (event, body) in events {
                if targets[event.orgID] == nil {
                    targets[event.orgID] = try Row.fetchAll(
                        db, sql: "SELECT * FROM webhook_targets WHERE org_id = ? ORDER BY id", arguments: [event.orgID]
                    ).map(Self.webhookTarget)
                }
                // A target gets the events that happened once it existed.
                for target in targets[event.orgID] ?? []
                where target.createdAt <= event.occurredAt && target.wants(event.type, repoID: event.repoID) {
                    try insert.execute(
                        arguments: [target.id, event.id, event.type.rawValue, event.repoID ?? "", Data(body), time, time])
                }
                try db.execute(sql: "DELETE FROM webhook_events WHERE seq = ?", arguments: [event.sequence])
            }
        }
    }

    // MARK: Deliveries

    package func dueWebhookDeliveries(
        at time: Double, excluding busy: Set<String>, limit: Int
    ) throws(MetadataError) -> [DueWebhookDelivery] {
        try read { db in
            // The head of each target's and repository's queue: no older pending delivery of the same pair.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT d.*, t.url AS target_url, t.secret AS target_secret
                    FROM webhook_deliveries d JOIN webhook_targets t ON t.id = d.target_id
                    WHERE d.status = 'pending' AND d.next_attempt_at <= ?
                      AND NOT EXISTS (
                        SELECT 1 FROM webhook_deliveries e
                        WHERE e.target_id = d.target_id AND e.repo_key = d.repo_key AND e.status = 'pending'
                          AND e.seq < d.seq)
                    ORDER BY d.seq LIMIT ?
                    """,
                arguments: [time, limit + busy.count])
            return rows.compactMap { row -> DueWebhookDelivery? in
                guard let delivery = Self.webhookDelivery(row),
                    !busy.contains(delivery.targetID + "/" + delivery.repoKey)
                else { return nil }
                return DueWebhookDelivery(delivery: delivery, url: row["target_url"], secret: row["target_secret"])
            }.prefix(limit).map { $0 }
        }
    }

    package func nextWebhookAttempt(excluding busy: Set<String>) throws(MetadataError) -> Double? {
        try read { db in
            let heads = try Row.fetchAll(
                db,
                sql: """
                    SELECT target_id, repo_key, MIN(seq), next_attempt_at FROM webhook_deliveries
                    WHERE status = 'pending' GROUP BY target_id, repo_key
                    """)
            return heads.filter { row in
                !busy.contains((row["target_id"] as String) + "/" + (row["repo_key"] as String))
            }.map { $0["next_attempt_at"] as Double }.min()
        }
    }

    package func recordWebhookAttempt(
        _ sequence: Int64, at time: Double, outcome: WebhookAttemptOutcome, keep: Int
    ) throws(MetadataError) {
        try write { db in
            switch outcome {
            case .delivered(let statusCode):
                try db.execute(
                    sql: """
                        UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_attempt_at = ?,
                            last_status_code = ?, last_error = NULL, completed_at = ? WHERE seq = ?
                        """,
                    arguments: [time, statusCode, time, sequence])
            case .failed(let statusCode, let error, let next):
                try db.execute(
                    sql: """
                        UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, last_attempt_at = ?,
                            last_status_code = ?, last_error = ?, next_attempt_at = ?, completed_at = ? WHERE seq = ?
                        """,
                    arguments: [
                        next == nil ? "failed" : "pending", time, statusCode, error, next ?? time,
                        next == nil ? time : nil, sequence,
                    ])
            }
            // Finished deliveries are history: keep the newest `keep` of the target.
            try db.execute(
                sql: """
                    DELETE FROM webhook_deliveries
                    WHERE target_id = (SELECT target_id FROM webhook_deliveries WHERE seq = ?) AND status != 'pending'
                      AND seq < (
                        SELECT seq FROM webhook_deliveries
                        WHERE target_id = (SELECT target_id FROM webhook_deliveries WHERE seq = ?) AND status != 'pending'
                        ORDER BY seq DESC LIMIT 1 OFFSET ?)
                    """,
                arguments: [sequence, sequence, max(keep - 1, 0)])
        }
    }

    package func webhookDeliveries(
        targetID: String, limit: Int, cursor: Int64?
    ) throws(MetadataError) -> MetadataPage<WebhookDeliveryRow> {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT * FROM webhook_deliveries WHERE target_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                arguments: [targetID, cursor ?? Int64.max, limit + 1]
            ).compactMap(Self.webhookDelivery)
            return MetadataPage(
                rows: Array(rows.prefix(limit)), nextCursor: rows.count > limit ? String(rows[limit - 1].sequence) : nil)
        }
    }

    static func webhookDelivery(_ row: Row) -> WebhookDeliveryRow? {
        guard let type = WebhookEventType(rawValue: row["type"]),
            let status = WebhookDeliveryRow.Status(rawValue: row["status"])
        else { return nil }
        let body: Data = row["body"]
        return WebhookDeliveryRow(
            sequence: row["seq"], targetID: row["target_id"], eventID: row["event_id"], type: type,
            repoKey: row["repo_key"], body: Array(body), status: status, attempts: row["attempts"],
            createdAt: row["created_at"], nextAttemptAt: row["next_attempt_at"], lastAttemptAt: row["last_attempt_at"],
            lastStatusCode: row["last_status_code"], lastError: row["last_error"], completedAt: row["completed_at"])
    }
}
