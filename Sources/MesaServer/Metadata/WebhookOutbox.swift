import Foundation
import GRDB
import MesaCore
import MesaWire

// Recording webhook events inside the transaction of the write that causes them (WebhookStore.swift). Everything an
// event says is read in that transaction (a bookmark's commit, a change's times, a repo's head), so it describes
// exactly the write that committed; only a change's message, author and committer are added later, from its commit,
// which is immutable and stored before the catalog names it. Nothing is recorded while the org has no target.

/// The SQLite side of the webhook outbox: statements run inside a caller's write transaction.
enum WebhookOutbox {
    /// The virtual root's commit id as the API shows it.
    static let rootCommit = String(repeating: "0", count: 40)

    /// The repo a catalog write concerns, read in its transaction.
    struct RepoContext {
        var orgID: String
        var repoID: String
        var name: String
        var defaultBookmark: String
    }

    /// The repo's context, or `nil` when nothing is to be recorded (no such repo, or its org has no target).
    static func context(_ db: Database, repoID: String) throws -> RepoContext? {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT org_id, name, default_bookmark FROM repos WHERE id = ?", arguments: [repoID])
        else { return nil }
        let context = RepoContext(
            orgID: row["org_id"], repoID: repoID, name: row["name"], defaultBookmark: row["default_bookmark"])
        return try hasTargets(db, orgID: context.orgID) ? context : nil
    }

    /// Whether the org has a webhook target (an indexed probe).
    static func hasTargets(_ db: Database, orgID: String) throws -> Bool {
        try Int.fetchOne(db, sql: "SELECT 1 FROM webhook_targets WHERE org_id = ? LIMIT 1", arguments: [orgID]) != nil
    }

    /// Appends an event to the outbox.
    static func record(
        _ db: Database, orgID: String, repoID: String?, repoName: String?, type: WebhookEventType,
        data: [String: JSONValue]
    ) throws {
        try db.execute(
            sql: """
                INSERT INTO webhook_events (id, org_id, repo_id, repo_name, type, occurred_at, data)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                "evt_" + UUID().uuidString.lowercased(), orgID, repoID, repoName, type.rawValue,
                Date().timeIntervalSince1970, SQLiteMetadataStore.json(JSONValue.object(data)),
            ])
    }

    /// The commit a change is at (the virtual root's zeros for the root or a change the repo lacks).
    static func commitOID(_ db: Database, repoID: String, change: String) throws -> String {
        try String.fetchOne(
            db, sql: "SELECT commit_oid FROM changes WHERE repo_id = ? AND change_id = ?", arguments: [repoID, change]
        ) ?? rootCommit
    }

    /// A bookmark's event shape: `{name, is_default, change_id, commit_oid}`.
    static func bookmark(_ db: Database, _ context: RepoContext, name: String, change: String) throws -> JSONValue {
        .object([
            "name": .string(name), "is_default": .bool(name == context.defaultBookmark), "change_id": .string(change),
            "commit_oid": .string(try commitOID(db, repoID: context.repoID, change: change)),
        ])
    }

    /// A change's event shape as far as the catalog knows it: `{id, current_commit_oid, parents, created_at,
    /// updated_at}` (``WebhookDispatcher`` adds `message`, `author` and `committer` from the commit).
    static func change(_ db: Database, repoID: String, id: String) throws -> JSONValue {
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT commit_oid, parents, created_at, updated_at FROM changes WHERE repo_id = ? AND change_id = ?
                    """,
                arguments: [repoID, id])
        else { return .object(["id": .string(id)]) }
        let parents = (row["parents"] as String).split(separator: ",").map { JSONValue.string(String($0)) }
        return .object([
            "id": .string(id), "current_commit_oid": .string(row["commit_oid"]), "parents": .array(parents),
            "created_at": .string(Timestamp.format(row["created_at"])),
            "updated_at": .string(Timestamp.format(row["updated_at"])),
        ])
    }

    /// A repo's event shape: `{id, name, default_bookmark, head_change_id, created_at, tags}`.
    static func repo(_ db: Database, _ repo: RepoRow) throws -> JSONValue {
        let head = try String.fetchOne(
            db, sql: "SELECT change_id FROM bookmarks WHERE repo_id = ? AND name = ?",
            arguments: [repo.id, repo.defaultBookmark])
        return .object([
            "id": .string(repo.id), "name": .string(repo.name), "default_bookmark": .string(repo.defaultBookmark),
            "head_change_id": .string(head ?? String(repeating: "z", count: 32)),
            "created_at": .string(Timestamp.format(repo.createdAt)),
            "tags": .object(repo.tags.mapValues(JSONValue.string)),
        ])
    }

    /// What a catalog write found before it wrote: each change's commit and each bookmark's change.
    struct Before {
        var changes: [(id: String, commit: String?)] = []
        var bookmarks: [(name: String, change: String?, commit: String?)] = []
    }

    /// Reads what ``recordCatalogWrite(_:_:before:cause:)`` compares against, before the write.
    static func before(
        _ db: Database, repoID: String, changes: [String], bookmarks: [String]
    ) throws -> Before {
        var before = Before()
        for id in changes {
            let commit = try String.fetchOne(
                db, sql: "SELECT commit_oid FROM changes WHERE repo_id = ? AND change_id = ?", arguments: [repoID, id])
            before.changes.append((id, commit))
        }
        for name in bookmarks {
            let change = try String.fetchOne(
                db, sql: "SELECT change_id FROM bookmarks WHERE repo_id = ? AND name = ?", arguments: [repoID, name])
            let commit = try change.map { try commitOID(db, repoID: repoID, change: $0) }
            before.bookmarks.append((name, change, commit))
        }
        return before
    }

    /// Records the events of a committed catalog write (called after its statements, in its transaction):
    /// `change.created` or `change.evolved` per change whose commit changed, `bookmark.created`, `bookmark.moved`
    /// or (for a merge) `bookmark.merged` per bookmark that moved, and for a push one `push` event with the bookmark
    /// updates. A repo's default bookmark exists for webhooks from the repo's creation, at the virtual root (as in
    /// Mesa), so the write that first stores it is a move from the root.
    static func recordCatalogWrite(
        _ db: Database, _ context: RepoContext, before: Before, cause: CatalogWriteCause
    ) throws {
        func record(_ type: WebhookEventType, _ data: [String: JSONValue]) throws {
            try WebhookOutbox.record(
                db, orgID: context.orgID, repoID: context.repoID, repoName: context.name, type: type, data: data)
        }
        var created = 0
        var evolved = 0
        for (id, previous) in before.changes {
            let current = try commitOID(db, repoID: context.repoID, change: id)
            guard current != previous else { continue }
            let change = try change(db, repoID: context.repoID, id: id)
            if let previous {
                evolved += 1
                try record(.changeEvolved, ["change": change, "previous_current_commit_oid": .string(previous)])
            } else {
                created += 1
                try record(.changeCreated, ["change": change])
            }
        }
        var updates: [JSONValue] = []
        for (name, previous, previousCommit) in before.bookmarks {
            guard
                let current = try String.fetchOne(
                    db, sql: "SELECT change_id FROM bookmarks WHERE repo_id = ? AND name = ?",
                    arguments: [context.repoID, name]),
                current != previous
            else { continue }
            let bookmark = try bookmark(db, context, name: name, change: current)
            let isNew = previous == nil && name != context.defaultBookmark
            let from = previous ?? String(repeating: "z", count: 32)
            let fromCommit = previousCommit ?? rootCommit
            if isNew {
                try record(.bookmarkCreated, ["bookmark": bookmark])
            } else if case .merge = cause {
                try record(.bookmarkMerged, ["bookmark": bookmark])
            } else {
                let origin: JSONValue = .object(["change_id": .string(from), "commit_oid": .string(fromCommit)])
                try record(.bookmarkMoved, ["bookmark": bookmark, "from": origin])
            }
            updates.append(
                .object([
                    "ref": .string("refs/heads/" + name), "bookmark": .string(name),
                    "before": isNew ? .null : .string(fromCommit),
                    "after": .string(try commitOID(db, repoID: context.repoID, change: current)),
                    "action": .string(isNew ? "created" : "updated"),
                ]))
        }
        if case .push(let received, let stored) = cause {
            let counts: [String: JSONValue] = [
                "changes_created": .number(Double(created)), "changes_evolved": .number(Double(evolved)),
                "bookmarks_updated": .number(Double(updates.count)), "records_received": .number(Double(received)),
                "records_stored": .number(Double(stored)),
            ]
            try record(.push, ["updates": .array(updates), "reconciliation": .object(counts)])
        }
    }

    /// Records `bookmark.deleted` for a bookmark about to be deleted (called before the delete, in its transaction).
    static func recordBookmarkDeletion(_ db: Database, _ context: RepoContext, name: String) throws {
        guard
            let change = try String.fetchOne(
                db, sql: "SELECT change_id FROM bookmarks WHERE repo_id = ? AND name = ?",
                arguments: [context.repoID, name])
        else { return }
        try record(
            db, orgID: context.orgID, repoID: context.repoID, repoName: context.name, type: .bookmarkDeleted,
            data: ["bookmark": try bookmark(db, context, name: name, change: change)])
    }
}
