import Foundation
import GRDB
package import MesaWire

// Upstream remotes and sync jobs in SQLite (UpstreamStore.swift).

extension SQLiteMetadataStore {
    package func upstream(repoID: String) throws(MetadataError) -> UpstreamRow? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM repo_upstreams WHERE repo_id = ?", arguments: [repoID]).map {
                row in
                UpstreamRow(
                    repoID: row["repo_id"],
                    url: row["url"],
                    authKind: row["auth_kind"],
                    sealedAuth: (row["auth_sealed"] as Data?).map { [UInt8]($0) },
                    updatedAt: row["updated_at"]
                )
            }
        }
    }

    package func setUpstream(_ row: UpstreamRow?, repoID: String) throws(MetadataError) {
        try write { db in
            guard let row else {
                try db.execute(sql: "DELETE FROM repo_upstreams WHERE repo_id = ?", arguments: [repoID])
                return
            }
            try db.execute(
                sql: """
                    INSERT INTO repo_upstreams (repo_id, url, auth_kind, auth_sealed, updated_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(repo_id) DO UPDATE SET
                        url = excluded.url, auth_kind = excluded.auth_kind, auth_sealed = excluded.auth_sealed,
                        updated_at = excluded.updated_at
                    """,
                arguments: [repoID, row.url, row.authKind, row.sealedAuth.map { Data($0) }, row.updatedAt]
            )
        }
    }

    package func createUpstreamSync(
        repoID: String,
        direction: UpstreamDirection,
        globs: UpstreamRefGlobs,
        at time: Double
    ) throws(MetadataError) -> UpstreamSyncRow {
        let id = "sync_" + Self.randomToken(length: 16, alphabet: "abcdefghijklmnopqrstuvwxyz0123456789")
        let sequence = try write { db -> Int64 in
            try db.execute(
                sql: """
                    INSERT INTO upstream_syncs (id, repo_id, direction, status, attempt, branch_glob, tag_glob,
                        created_at, next_attempt_at)
                    VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?)
                    """,
                arguments: [id, repoID, direction.rawValue, globs.branches, globs.tags, time, time]
            )
            return db.lastInsertedRowID
        }
        upstreamSignal.bump(upstreamSignalKey)
        return UpstreamSyncRow(
            sequence: sequence,
            id: id,
            repoID: repoID,
            direction: direction,
            status: .queued,
            attempt: 0,
            globs: globs,
            refs: nil,
            error: nil,
            createdAt: time,
            startedAt: nil,
            finishedAt: nil,
            nextAttemptAt: time
        )
    }

    package func upstreamSync(repoID: String, id: String) throws(MetadataError) -> UpstreamSyncRow? {
        try read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT * FROM upstream_syncs WHERE repo_id = ? AND id = ?",
                arguments: [repoID, id]
            ).flatMap(Self.upstreamSync)
        }
    }

    package func latestUpstreamSync(repoID: String) throws(MetadataError) -> UpstreamSyncRow? {
        try read { db in
            try Row.fetchOne(
                db,
                sql: "SELECT * FROM upstream_syncs WHERE repo_id = ? ORDER BY seq DESC LIMIT 1",
                arguments: [repoID]
            ).flatMap(Self.upstreamSync)
        }
    }

    package func upstreamSyncs(
        repoID: String,
        limit: Int,
        cursor: Int64?
    ) throws(MetadataError) -> MetadataPage<UpstreamSyncRow> {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT * FROM upstream_syncs WHERE repo_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
                arguments: [repoID, cursor ?? Int64.max, limit + 1]
            ).compactMap(Self.upstreamSync)
            let page = Array(rows.prefix(limit))
            return MetadataPage(
                rows: page,
                nextCursor: rows.count > limit ? page.last.map { String($0.sequence) } : nil
            )
        }
    }

    package func claimDueUpstreamSyncs(at time: Double, limit: Int) throws(MetadataError) -> [UpstreamSyncRow] {
        let claimed = try write { db -> [UpstreamSyncRow] in
            // The head of each repo's queue, when the repo has no job in progress and the head is due.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT s.* FROM upstream_syncs s
                    WHERE s.status = 'queued' AND s.next_attempt_at <= ?
                      AND NOT EXISTS (
                        SELECT 1 FROM upstream_syncs e WHERE e.repo_id = s.repo_id
                          AND (e.status = 'in_progress' OR (e.status = 'queued' AND e.seq < s.seq)))
                    ORDER BY s.seq LIMIT ?
                    """,
                arguments: [time, limit]
            ).compactMap(Self.upstreamSync)
            return try rows.map { row in
                var row = row
                row.status = .inProgress
                row.attempt += 1
                row.startedAt = time
                try db.execute(
                    sql: "UPDATE upstream_syncs SET status = 'in_progress', attempt = ?, started_at = ? WHERE seq = ?",
                    arguments: [row.attempt, time, row.sequence]
                )
                return row
            }
        }
        return claimed
    }

    package func nextUpstreamSyncAttempt() throws(MetadataError) -> Double? {
        try read { db in
            try Double.fetchOne(
                db,
                sql: """
                    SELECT MIN(s.next_attempt_at) FROM upstream_syncs s
                    WHERE s.status = 'queued'
                      AND NOT EXISTS (
                        SELECT 1 FROM upstream_syncs e WHERE e.repo_id = s.repo_id
                          AND (e.status = 'in_progress' OR (e.status = 'queued' AND e.seq < s.seq)))
                    """
            )
        }
    }

    package func finishUpstreamSync(
        id: String,
        outcome: UpstreamSyncAttemptOutcome,
        at time: Double
    ) throws(MetadataError) {
        try write { db in
            switch outcome {
            case .completed(let refs):
                try db.execute(
                    sql: """
                        UPDATE upstream_syncs SET status = 'completed', refs = ?, error = NULL, finished_at = ?
                        WHERE id = ?
                        """,
                    arguments: [Self.json(refs), time, id]
                )
            case .failed(let error, let retryAt?):
                try db.execute(
                    sql: "UPDATE upstream_syncs SET status = 'queued', error = ?, next_attempt_at = ? WHERE id = ?",
                    arguments: [error, retryAt, id]
                )
            case .failed(let error, nil):
                try db.execute(
                    sql: "UPDATE upstream_syncs SET status = 'failed', error = ?, finished_at = ? WHERE id = ?",
                    arguments: [error, time, id]
                )
            }
        }
        upstreamSignal.bump(upstreamSignalKey)
    }

    @discardableResult
    package func requeueInterruptedUpstreamSyncs() throws(MetadataError) -> Int {
        let count = try write { db -> Int in
            try db.execute(sql: "UPDATE upstream_syncs SET status = 'queued' WHERE status = 'in_progress'")
            return db.changesCount
        }
        if count > 0 { upstreamSignal.bump(upstreamSignalKey) }
        return count
    }

    static func upstreamSync(_ row: Row) -> UpstreamSyncRow? {
        guard
            let direction = UpstreamDirection(rawValue: row["direction"]),
            let status = UpstreamSyncStatus(rawValue: row["status"])
        else { return nil }
        return UpstreamSyncRow(
            sequence: row["seq"],
            id: row["id"],
            repoID: row["repo_id"],
            direction: direction,
            status: status,
            attempt: row["attempt"],
            globs: UpstreamRefGlobs(branches: row["branch_glob"], tags: row["tag_glob"]),
            refs: decode(row["refs"]),
            error: row["error"],
            createdAt: row["created_at"],
            startedAt: row["started_at"],
            finishedAt: row["finished_at"],
            nextAttemptAt: row["next_attempt_at"]
        )
    }
}
