import Foundation
import GRDB
package import MesaCore
package import MesaTree
package import MesaWire

// The embedded metadata store: SQLite through GRDB, in WAL mode (a `DatabasePool`: concurrent readers, one writer),
// with versioned migrations. Every method runs its statements in one GRDB transaction.

/// The SQLite implementation of ``MetadataStore``.
package final class SQLiteMetadataStore: MetadataStore {
    let database: DatabasePool
    package let revisions = RevisionSignal()
    package let webhookSignal = RevisionSignal()
    package let upstreamSignal = RevisionSignal()

    /// Opens (creating and migrating) the database at `path`; with `readOnly`, opens it without changing it (tools
    /// that inspect a data directory), refusing a database whose migrations are not all applied.
    package init(path: String, readOnly: Bool = false) throws(MetadataError) {
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            configuration.readonly = readOnly
            // A committed transaction is on disk before the server answers (WAL's NORMAL could lose the last ones
            // to a power cut): acknowledged changes and bookmarks must survive one.
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            database = try DatabasePool(path: path, configuration: configuration)
            if !readOnly { try Self.migrator.migrate(database) }
        } catch {
            throw .database("cannot open the metadata database \(path): \(error)")
        }
        if readOnly {
            let current = try read { db in try Self.migrator.hasCompletedMigrations(db) }
            guard current else {
                throw .database(
                    "the metadata database \(path) is from an older mesa: start `mesa serve` on it once to migrate it")
            }
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE orgs (
                        id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL, created_at REAL NOT NULL);
                    CREATE TABLE api_keys (
                        id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), name TEXT,
                        signing_key TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL, repo_ids TEXT, tags TEXT NOT NULL,
                        created_at REAL NOT NULL, expires_at REAL, last_used_at REAL, revoked_at REAL);
                    CREATE INDEX api_keys_org ON api_keys(org_id, created_at);
                    CREATE TABLE repos (
                        id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), name TEXT NOT NULL,
                        default_bookmark TEXT NOT NULL, tags TEXT NOT NULL, created_at REAL NOT NULL,
                        UNIQUE(org_id, name));
                    CREATE TABLE changes (
                        repo_id TEXT NOT NULL REFERENCES repos(id) ON DELETE CASCADE, change_id TEXT NOT NULL,
                        commit_oid TEXT NOT NULL, parents TEXT NOT NULL, created_at REAL NOT NULL,
                        updated_at REAL NOT NULL, PRIMARY KEY(repo_id, change_id)) WITHOUT ROWID;
                    CREATE TABLE change_log (
                        repo_id TEXT NOT NULL REFERENCES repos(id) ON DELETE CASCADE, change_id TEXT NOT NULL,
                        commit_oid TEXT NOT NULL, recorded_at REAL NOT NULL);
                    CREATE INDEX change_log_change ON change_log(repo_id, change_id, recorded_at);
                    CREATE TABLE bookmarks (
                        repo_id TEXT NOT NULL REFERENCES repos(id) ON DELETE CASCADE, name TEXT NOT NULL,
                        change_id TEXT NOT NULL, PRIMARY KEY(repo_id, name)) WITHOUT ROWID;
                    CREATE TABLE org_objects (
                        org_id TEXT NOT NULL, kind INTEGER NOT NULL, id BLOB NOT NULL, staged_at REAL,
                        PRIMARY KEY(org_id, kind, id)) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v2: change conflicts") { db in
            try db.execute(sql: "ALTER TABLE changes ADD COLUMN conflicts TEXT")
        }
        // References move from orgs to repos (a repo-restricted credential must reach nothing of another repo). The
        // old org rows cannot say which repo reaches a record, so every existing repo is marked for a rebuild from
        // its history, which `MesaServerApplication.open` runs before serving.
        migrator.registerMigration("v3: repo references") { db in
            try db.execute(
                sql: """
                    CREATE TABLE repo_objects (
                        repo_id TEXT NOT NULL, kind INTEGER NOT NULL, id BLOB NOT NULL, staged_at REAL,
                        PRIMARY KEY(repo_id, kind, id)) WITHOUT ROWID;
                    CREATE TABLE reference_rebuilds (repo_id TEXT PRIMARY KEY) WITHOUT ROWID;
                    INSERT INTO reference_rebuilds SELECT id FROM repos;
                    DROP TABLE org_objects;
                    CREATE TABLE tree_shapes (
                        id BLOB PRIMARY KEY, height INTEGER NOT NULL, longest INTEGER NOT NULL) WITHOUT ROWID;
                    """)
        }
        // Webhooks (WebhookStore.swift): targets, the outbox written with each event's cause, and deliveries.
        migrator.registerMigration("v4: webhooks") { db in
            try db.execute(
                sql: """
                    CREATE TABLE webhook_targets (
                        id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id), name TEXT, url TEXT NOT NULL,
                        events TEXT NOT NULL, repo_ids TEXT, secret TEXT NOT NULL, created_at REAL NOT NULL,
                        updated_at REAL NOT NULL);
                    CREATE INDEX webhook_targets_org ON webhook_targets(org_id, id);
                    CREATE TABLE webhook_events (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, org_id TEXT NOT NULL, repo_id TEXT,
                        repo_name TEXT, type TEXT NOT NULL, occurred_at REAL NOT NULL, data TEXT NOT NULL);
                    CREATE TABLE webhook_deliveries (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, target_id TEXT NOT NULL, event_id TEXT NOT NULL,
                        type TEXT NOT NULL, repo_key TEXT NOT NULL, body BLOB NOT NULL, status TEXT NOT NULL,
                        attempts INTEGER NOT NULL, created_at REAL NOT NULL, next_attempt_at REAL NOT NULL,
                        last_attempt_at REAL, last_status_code INTEGER, last_error TEXT, completed_at REAL);
                    CREATE INDEX webhook_deliveries_queue ON webhook_deliveries(target_id, repo_key, status, seq);
                    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
                    """)
        }
        // Upstream remotes (UpstreamStore.swift): a repo's remote with its sealed credential, and the sync jobs.
        migrator.registerMigration("v5: upstream remotes") { db in
            try db.execute(
                sql: """
                    CREATE TABLE repo_upstreams (
                        repo_id TEXT PRIMARY KEY REFERENCES repos(id) ON DELETE CASCADE, url TEXT NOT NULL,
                        auth_kind TEXT, auth_sealed BLOB, updated_at REAL NOT NULL) WITHOUT ROWID;
                    CREATE TABLE upstream_syncs (
                        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                        repo_id TEXT NOT NULL REFERENCES repos(id) ON DELETE CASCADE, direction TEXT NOT NULL,
                        status TEXT NOT NULL, attempt INTEGER NOT NULL, branch_glob TEXT NOT NULL,
                        tag_glob TEXT NOT NULL, refs TEXT, error TEXT, created_at REAL NOT NULL, started_at REAL,
                        finished_at REAL, next_attempt_at REAL NOT NULL);
                    CREATE INDEX upstream_syncs_repo ON upstream_syncs(repo_id, status, seq);
                    """)
        }
        return migrator
    }

    /// Runs a write transaction, mapping database errors.
    func write<T>(_ body: (Database) throws -> T) throws(MetadataError) -> T {
        do {
            return try database.write(body)
        } catch let error as MetadataError {
            throw error
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
            || error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
        {
            throw .conflict(error.message ?? "already exists")
        } catch {
            throw .database("\(error)")
        }
    }

    /// Runs a read transaction, mapping database errors.
    func read<T>(_ body: (Database) throws -> T) throws(MetadataError) -> T {
        do {
            return try database.read(body)
        } catch let error as MetadataError {
            throw error
        } catch {
            throw .database("\(error)")
        }
    }

    package func catalog(repoID: String) -> any RepoCatalog {
        SQLiteChangeCatalog(store: self, repoID: repoID, revisions: revisions)
    }

    // MARK: Orgs

    package func createOrg(slug: String, name: String) throws(MetadataError) -> OrgRow {
        let row = OrgRow(id: UUID().uuidString.lowercased(), slug: slug, name: name, createdAt: Date().timeIntervalSince1970)
        try write { db in
            try db.execute(
                sql: "INSERT INTO orgs (id, slug, name, created_at) VALUES (?, ?, ?, ?)",
                arguments: [row.id, row.slug, row.name, row.createdAt])
        }
        return row
    }

    package func org(slug: String) throws(MetadataError) -> OrgRow? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM orgs WHERE slug = ?", arguments: [slug]).map(Self.org) }
    }

    package func org(id: String) throws(MetadataError) -> OrgRow? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM orgs WHERE id = ?", arguments: [id]).map(Self.org) }
    }

    static func org(_ row: Row) -> OrgRow {
        OrgRow(id: row["id"], slug: row["slug"], name: row["name"], createdAt: row["created_at"])
    }

    // MARK: API keys

    package func createAPIKey(
        orgID: String, name: String?, scopes: [Scope], repoIDs: [String]?, expiresAt: Double?, tags: [String: String]
    ) throws(MetadataError) -> (row: APIKeyRow, key: String) {
        let id = Self.randomToken(length: 16, alphabet: "abcdefghijklmnopqrstuvwxyz0123456789")
        let secret = Self.randomToken(
            length: 43, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        let key = "mesa_\(id)_\(secret)"
        // The key is valid by construction: it starts with `mesa_`, has a secret and no dot.
        let signingKey = APIKey(key)!.signingKey
        let row = APIKeyRow(
            id: id, orgID: orgID, name: name, signingKey: signingKey, scopes: scopes, repoIDs: repoIDs, tags: tags,
            createdAt: Date().timeIntervalSince1970, expiresAt: expiresAt, lastUsedAt: nil, revokedAt: nil)
        try write { db in
            try db.execute(
                sql: """
                    INSERT INTO api_keys (id, org_id, name, signing_key, scopes, repo_ids, tags, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    row.id, row.orgID, row.name, row.signingKey, Self.json(scopes.map(\.rawValue)),
                    repoIDs.map(Self.json), Self.json(tags), row.createdAt, row.expiresAt,
                ])
        }
        return (row, key)
    }

    package func apiKey(id: String) throws(MetadataError) -> APIKeyRow? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id]).map(Self.apiKey)
        }
    }

    package func apiKey(signingKey: String) throws(MetadataError) -> APIKeyRow? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE signing_key = ?", arguments: [signingKey])
                .map(Self.apiKey)
        }
    }

    package func apiKeys(orgID: String, limit: Int, cursor: String?) throws(MetadataError) -> MetadataPage<APIKeyRow> {
        try page(table: "api_keys", orderedBy: "id", orgID: orgID, limit: limit, cursor: cursor, row: Self.apiKey, key: \.id)
    }

    /// One page of an org's rows of `table` ordered by the unique `column`, after `cursor` (that column's value).
    private func page<T>(
        table: String, orderedBy column: String, orgID: String, limit: Int, cursor: String?,
        row: @escaping (Row) -> T, key: KeyPath<T, String>
    ) throws(MetadataError) -> MetadataPage<T> {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: "SELECT * FROM \(table) WHERE org_id = ? AND \(column) > ? ORDER BY \(column) LIMIT ?",
                arguments: [orgID, cursor ?? "", limit + 1]
            ).map(row)
            return MetadataPage(rows: Array(rows.prefix(limit)), nextCursor: rows.count > limit ? rows[limit - 1][keyPath: key] : nil)
        }
    }

    package func revokeAPIKey(orgID: String, id: String) throws(MetadataError) -> Bool {
        try write { db in
            try db.execute(
                sql: "UPDATE api_keys SET revoked_at = ? WHERE org_id = ? AND id = ? AND revoked_at IS NULL",
                arguments: [Date().timeIntervalSince1970, orgID, id])
            return db.changesCount > 0
        }
    }

    package func updateAPIKeyTags(orgID: String, id: String, patch: [String: String?]) throws(MetadataError) -> APIKeyRow? {
        try write { db in
            guard var row = try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id])
                .map(Self.apiKey), row.id == id, row.orgID == orgID
            else { return nil }
            for (key, value) in patch { row.tags[key] = value }
            try db.execute(sql: "UPDATE api_keys SET tags = ? WHERE id = ?", arguments: [Self.json(row.tags), id])
            return row
        }
    }

    package func touchAPIKey(id: String, at time: Double) throws(MetadataError) {
        try write { db in
            try db.execute(sql: "UPDATE api_keys SET last_used_at = ? WHERE id = ?", arguments: [time, id])
        }
    }

    static func apiKey(_ row: Row) -> APIKeyRow {
        let scopeNames: [String] = decode(row["scopes"]) ?? []
        let repoIDs: String? = row["repo_ids"]
        return APIKeyRow(
            id: row["id"], orgID: row["org_id"], name: row["name"], signingKey: row["signing_key"],
            scopes: scopeNames.compactMap(Scope.init(rawValue:)), repoIDs: repoIDs.flatMap { decode($0) },
            tags: decode(row["tags"]) ?? [:], createdAt: row["created_at"], expiresAt: row["expires_at"],
            lastUsedAt: row["last_used_at"], revokedAt: row["revoked_at"])
    }

    // MARK: Repos

    package func createRepo(
        orgID: String, name: String, defaultBookmark: String, tags: [String: String]
    ) throws(MetadataError) -> RepoRow {
        let row = RepoRow(
            id: UUID().uuidString.lowercased(), orgID: orgID, name: name, defaultBookmark: defaultBookmark, tags: tags,
            createdAt: Date().timeIntervalSince1970)
        do {
            try write { db in
                try db.execute(
                    sql: "INSERT INTO repos (id, org_id, name, default_bookmark, tags, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [row.id, orgID, name, defaultBookmark, Self.json(tags), row.createdAt])
                guard let context = try WebhookOutbox.context(db, repoID: row.id) else { return }
                try WebhookOutbox.record(
                    db, orgID: orgID, repoID: row.id, repoName: name, type: .repoCreated,
                    data: ["repo": try WebhookOutbox.repo(db, row)])
                // The default bookmark exists for webhooks from the start, at the virtual root (as in Mesa).
                try WebhookOutbox.record(
                    db, orgID: orgID, repoID: row.id, repoName: name, type: .bookmarkCreated,
                    data: [
                        "bookmark": try WebhookOutbox.bookmark(
                            db, context, name: defaultBookmark, change: String(repeating: "z", count: 32))
                    ])
            }
            webhookSignal.bump(webhookSignalKey)
        } catch .conflict {
            throw .conflict("a repo named '\(name)' already exists")
        }
        return row
    }

    package func repo(orgID: String, name: String) throws(MetadataError) -> RepoRow? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM repos WHERE org_id = ? AND name = ?", arguments: [orgID, name])
                .map(Self.repo)
        }
    }

    package func repo(id: String) throws(MetadataError) -> RepoRow? {
        try read { db in try Row.fetchOne(db, sql: "SELECT * FROM repos WHERE id = ?", arguments: [id]).map(Self.repo) }
    }

    package func repos(orgID: String, limit: Int, cursor: String?) throws(MetadataError) -> MetadataPage<RepoRow> {
        try page(table: "repos", orderedBy: "name", orgID: orgID, limit: limit, cursor: cursor, row: Self.repo, key: \.name)
    }

    package func repoCount(orgID: String) throws(MetadataError) -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM repos WHERE org_id = ?", arguments: [orgID]) ?? 0 }
    }

    /// Every repo's id, of every org, in id order.
    package func allRepoIDs() throws(MetadataError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT id FROM repos ORDER BY id") }
    }

    package func updateRepo(_ repo: RepoRow) throws(MetadataError) {
        do {
            try write { db in try Self.updateRepo(db, repo) }
            revisions.bump(repo.id)  // the default bookmark may have moved
            webhookSignal.bump(webhookSignalKey)
        } catch .conflict {
            throw .conflict("a repo named '\(repo.name)' already exists")
        }
    }

    /// Writes a repo's row and records `repo.updated` when it changed and the org has webhook targets.
    private static func updateRepo(_ db: Database, _ repo: RepoRow) throws {
        let before = try Row.fetchOne(db, sql: "SELECT * FROM repos WHERE id = ?", arguments: [repo.id]).map(Self.repo)
        let context = try WebhookOutbox.context(db, repoID: repo.id)
        let beforeJSON = try context.flatMap { _ in try before.map { try WebhookOutbox.repo(db, $0) } }
        try db.execute(
            sql: "UPDATE repos SET name = ?, default_bookmark = ?, tags = ? WHERE id = ?",
            arguments: [repo.name, repo.defaultBookmark, Self.json(repo.tags), repo.id])
        if let context, let beforeJSON, let before, before != repo {
            let after = try WebhookOutbox.repo(db, repo)
            try WebhookOutbox.record(
                db, orgID: context.orgID, repoID: repo.id, repoName: repo.name, type: .repoUpdated,
                data: ["repo": after, "before": beforeJSON, "after": after])
        }
    }

    package func setRepoTag(orgID: String, repoIDs: [String], key: String, value: String?) throws(MetadataError) {
        try write { db in
            var rows: [RepoRow] = []
            var unknown: [String] = []
            for id in repoIDs {
                // The row must match exactly: SQLite compares text only up to a NUL byte.
                let row = try Row.fetchOne(db, sql: "SELECT * FROM repos WHERE id = ?", arguments: [id]).map(Self.repo)
                if let row, row.id == id, row.orgID == orgID { rows.append(row) } else { unknown.append(id) }
            }
            guard unknown.isEmpty else {
                let names = unknown.map { "'\($0)'" }.joined(separator: ", ")
                throw MetadataError.notFound(
                    "repo_ids: \(names) \(unknown.count == 1 ? "is not a repo" : "are not repos") of this org; no repo was changed")
            }
            for var row in rows {
                row.tags[key] = value
                try Self.updateRepo(db, row)
            }
        }
        webhookSignal.bump(webhookSignalKey)
    }

    package func deleteRepo(id: String) throws(MetadataError) {
        try write { db in
            if try WebhookOutbox.context(db, repoID: id) != nil,
                let row = try Row.fetchOne(db, sql: "SELECT * FROM repos WHERE id = ?", arguments: [id]).map(Self.repo)
            {
                try WebhookOutbox.record(
                    db, orgID: row.orgID, repoID: id, repoName: row.name, type: .repoDeleted,
                    data: ["repo": try WebhookOutbox.repo(db, row)])
            }
            try db.execute(sql: "DELETE FROM bookmarks WHERE repo_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM changes WHERE repo_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM change_log WHERE repo_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM repo_objects WHERE repo_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM reference_rebuilds WHERE repo_id = ?", arguments: [id])
            try db.execute(sql: "DELETE FROM repos WHERE id = ?", arguments: [id])
        }
        revisions.bump(id)
        webhookSignal.bump(webhookSignalKey)
    }

    package func bookmarkTarget(repoID: String, name: String) throws(MetadataError) -> String? {
        try read { db in
            try String.fetchOne(
                db, sql: "SELECT change_id FROM bookmarks WHERE repo_id = ? AND name = ?", arguments: [repoID, name])
        }
    }

    static func repo(_ row: Row) -> RepoRow {
        RepoRow(
            id: row["id"], orgID: row["org_id"], name: row["name"], defaultBookmark: row["default_bookmark"],
            tags: decode(row["tags"]) ?? [:], createdAt: row["created_at"])
    }

    package func recordedCommits(repoID: String) throws(MetadataError) -> [String] {
        try read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT commit_oid FROM changes WHERE repo_id = ?
                    UNION SELECT commit_oid FROM change_log WHERE repo_id = ?
                    """,
                arguments: [repoID, repoID])
        }
    }

    // MARK: Object references

    package func addReferences(repoID: String, keys: [RecordKey], staged: Bool) throws(MetadataError) {
        guard !keys.isEmpty else { return }
        let now = Date().timeIntervalSince1970
        try write { db in try Self.insertReferences(db, repoID: repoID, keys: keys, stagedAt: staged ? now : nil) }
    }

    /// Inserts reference rows (staged when `stagedAt` is given; a referenced row is never downgraded to staged).
    static func insertReferences(_ db: Database, repoID: String, keys: [RecordKey], stagedAt: Double?) throws {
        let insert = try db.makeStatement(
            sql: stagedAt != nil
                ? "INSERT OR IGNORE INTO repo_objects (repo_id, kind, id, staged_at) VALUES (?, ?, ?, ?)"
                : """
                INSERT INTO repo_objects (repo_id, kind, id, staged_at) VALUES (?, ?, ?, NULL)
                ON CONFLICT(repo_id, kind, id) DO UPDATE SET staged_at = NULL
                """)
        for key in keys {
            var arguments: StatementArguments = [repoID, Int(key.kind.rawValue), Data(key.idBytes)]
            if let stagedAt { arguments += [stagedAt] }
            try insert.execute(arguments: arguments)
        }
    }

    package func referenced(repoID: String, keys: [RecordKey]) throws(MetadataError) -> Set<RecordKey> {
        try select(repoID: repoID, keys: keys, condition: "")
    }

    package func staged(repoID: String, keys: [RecordKey]) throws(MetadataError) -> Set<RecordKey> {
        try select(repoID: repoID, keys: keys, condition: " AND staged_at IS NOT NULL")
    }

    /// The keys a repo holds only as staged, in key order.
    package func stagedKeys(repoID: String) throws(MetadataError) -> [RecordKey] {
        try read { db in
            let rows = try Row.fetchCursor(
                db, sql: "SELECT kind, id FROM repo_objects WHERE repo_id = ? AND staged_at IS NOT NULL",
                arguments: [repoID])
            var keys: [RecordKey] = []
            while let row = try rows.next() {
                if let key = Self.recordKey(row) { keys.append(key) }
            }
            return keys.sorted()
        }
    }

    package func dropStaged(repoID: String, keys: [RecordKey]) throws(MetadataError) {
        guard !keys.isEmpty else { return }
        try write { db in
            let delete = try db.makeStatement(
                sql: "DELETE FROM repo_objects WHERE repo_id = ? AND kind = ? AND id = ? AND staged_at IS NOT NULL")
            for key in keys { try delete.execute(arguments: [repoID, Int(key.kind.rawValue), Data(key.idBytes)]) }
        }
    }

    package func expireStaged(before cutoff: Double) throws(MetadataError) -> Int {
        try write { db in
            try db.execute(sql: "DELETE FROM repo_objects WHERE staged_at IS NOT NULL AND staged_at < ?", arguments: [cutoff])
            return db.changesCount
        }
    }

    package func allReferencedKeys() throws(MetadataError) -> Set<RecordKey> {
        try read { db in
            var keys = Set<RecordKey>()
            let rows = try Row.fetchCursor(db, sql: "SELECT DISTINCT kind, id FROM repo_objects")
            while let row = try rows.next() {
                if let key = Self.recordKey(row) { keys.insert(key) }
            }
            return keys
        }
    }

    /// The record key of a `repo_objects` row's `kind` and `id`; `nil` for a kind or id length no store has.
    private static func recordKey(_ row: Row) -> RecordKey? {
        let kind: Int = row["kind"]
        let id: Data = row["id"]
        guard let recordKind = RecordKind(rawValue: UInt8(truncatingIfNeeded: kind)) else { return nil }
        return RecordKey(kind: recordKind, idBytes: Array(id))
    }

    package func reposAwaitingReferenceRebuild() throws(MetadataError) -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT repo_id FROM reference_rebuilds ORDER BY repo_id") }
    }

    package func markForReferenceRebuild(repoID: String) throws(MetadataError) {
        try write { db in
            try db.execute(sql: "DELETE FROM repo_objects WHERE repo_id = ?", arguments: [repoID])
            try db.execute(sql: "INSERT OR IGNORE INTO reference_rebuilds (repo_id) VALUES (?)", arguments: [repoID])
        }
    }

    package func finishReferenceRebuild(repoID: String, keys: [RecordKey]) throws(MetadataError) {
        try write { db in
            try Self.insertReferences(db, repoID: repoID, keys: keys, stagedAt: nil)
            try db.execute(sql: "DELETE FROM reference_rebuilds WHERE repo_id = ?", arguments: [repoID])
        }
    }

    /// The subset of `keys` with a row for the repo that meets `condition`.
    private func select(repoID: String, keys: [RecordKey], condition: String) throws(MetadataError) -> Set<RecordKey> {
        guard !keys.isEmpty else { return [] }
        return try read { db in
            let select = try db.makeStatement(
                sql: "SELECT 1 FROM repo_objects WHERE repo_id = ? AND kind = ? AND id = ?" + condition)
            var found = Set<RecordKey>()
            for key in keys
            where try Int.fetchOne(select, arguments: [repoID, Int(key.kind.rawValue), Data(key.idBytes)]) != nil {
                found.insert(key)
            }
            return found
        }
    }

    // MARK: Tree shapes

    package func treeShapes(_ ids: [ObjectID]) throws(MetadataError) -> [ObjectID: TreeShape] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            let select = try db.makeStatement(sql: "SELECT height, longest FROM tree_shapes WHERE id = ?")
            var shapes: [ObjectID: TreeShape] = [:]
            for id in ids {
                if let row = try Row.fetchOne(select, arguments: [Data(id.bytes)]) {
                    shapes[id] = TreeShape(height: row["height"], longest: row["longest"])
                }
            }
            return shapes
        }
    }

    package func recordTreeShapes(_ shapes: [ObjectID: TreeShape]) throws(MetadataError) {
        guard !shapes.isEmpty else { return }
        try write { db in
            let insert = try db.makeStatement(
                sql: "INSERT OR IGNORE INTO tree_shapes (id, height, longest) VALUES (?, ?, ?)")
            for (id, shape) in shapes { try insert.execute(arguments: [Data(id.bytes), shape.height, shape.longest]) }
        }
    }

    // MARK: Helpers

    static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Arrays and dictionaries of strings always encode.
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ text: String?) -> T? {
        guard let text else { return nil }
        return try? JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    static func randomToken(length: Int, alphabet: String) -> String {
        let characters = Array(alphabet)
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in characters[Int(generator.next(upperBound: UInt64(characters.count)))] })
    }
}
