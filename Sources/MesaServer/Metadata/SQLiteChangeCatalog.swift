import Foundation
import GRDB
package import MesaCore
package import MesaTree

// One repo's change and bookmark tables in the server's SQLite database. Updates are compare-and-swap inside one
// write transaction, so two pushes racing on a change or bookmark cannot both win; every new commit of a change is
// appended to `change_log` (the evolution log). Called on the server's blocking pool.

/// The SQLite implementation of MesaTree's ``ChangeCatalog`` for one repo.
package final class SQLiteChangeCatalog: RepoCatalog {
    private let database: DatabasePool
    private let revisions: RevisionSignal
    private let webhookSignal: RevisionSignal
    /// The repo whose tables these are.
    package let repoID: String

    /// A catalog over `store`'s database for `repoID`; each write bumps `revisions`.
    package init(store: SQLiteMetadataStore, repoID: String, revisions: RevisionSignal) {
        database = store.database
        self.repoID = repoID
        self.revisions = revisions
        webhookSignal = store.webhookSignal
    }

    private func read<T>(_ body: (Database) throws -> T) throws(TreeError) -> T {
        do {
            return try database.read(body)
        } catch {
            throw .catalog("\(error)")
        }
    }

    private func write<T>(_ body: (Database) throws -> T) throws(TreeError) -> T {
        do {
            defer {
                revisions.bump(repoID)
                webhookSignal.bump(webhookSignalKey)
            }
            return try database.write(body)
        } catch let error as TreeError {
            throw error
        } catch {
            throw .catalog("\(error)")
        }
    }

    package func change(_ id: ChangeID) throws(TreeError) -> ChangeRecord? {
        try read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM changes WHERE repo_id = ? AND change_id = ?", arguments: [repoID, id.description]
            ).flatMap(Self.record)
        }
    }

    package func putChange(_ record: ChangeRecord, expected: Expectation<ObjectID>) throws(TreeError) {
        try write { db in
            let current = try currentCommit(db, record.id)
            guard expected.isMet(by: current) else {
                throw TreeError.staleChange(record.id, expected: expected.value, current: current)
            }
            let context = try WebhookOutbox.context(db, repoID: repoID)
            let before = try WebhookOutbox.before(db, repoID: repoID, changes: [record.id.description], bookmarks: [])
            try insert(db, record)
            if let context { try WebhookOutbox.recordCatalogWrite(db, context, before: before, cause: .write) }
        }
    }

    package func apply(
        changes: [(record: ChangeRecord, expected: Expectation<ObjectID>)],
        bookmarks: [(bookmark: MesaTree.Bookmark, expected: Expectation<ChangeID>)],
        references: [RecordKey],
        conflicts changeConflicts: [ChangeID: [String]],
        cause: CatalogWriteCause
    ) throws(TreeError) -> [CatalogConflict] {
        try write { db in
            var conflicts: [CatalogConflict] = []
            for (record, expected) in changes {
                let current = try currentCommit(db, record.id)
                if !expected.isMet(by: current) {
                    conflicts.append(.change(record.id, expected: expected.value, current: current))
                }
            }
            for (bookmark, expected) in bookmarks {
                let current = try currentBookmark(db, bookmark.name)
                if !expected.isMet(by: current) {
                    conflicts.append(.bookmark(bookmark.name, expected: expected.value, current: current))
                }
            }
            guard conflicts.isEmpty else { return conflicts }
            let context = try WebhookOutbox.context(db, repoID: repoID)
            let before = try context.map { _ in
                try WebhookOutbox.before(
                    db, repoID: repoID, changes: changes.map(\.record.id.description),
                    bookmarks: bookmarks.map(\.bookmark.name))
            }
            for (record, _) in changes { try insert(db, record) }
            for (id, paths) in changeConflicts { try Self.setConflicts(db, paths, of: id, repoID: repoID) }
            for (bookmark, _) in bookmarks {
                try db.execute(
                    sql: """
                        INSERT INTO bookmarks (repo_id, name, change_id) VALUES (?, ?, ?)
                        ON CONFLICT(repo_id, name) DO UPDATE SET change_id = excluded.change_id
                        """,
                    arguments: [repoID, bookmark.name, bookmark.change.description])
            }
            try SQLiteMetadataStore.insertReferences(db, repoID: repoID, keys: references, stagedAt: nil)
            if let context, let before {
                try WebhookOutbox.recordCatalogWrite(db, context, before: before, cause: cause)
            }
            return []
        }
    }

    private func currentCommit(_ db: Database, _ id: ChangeID) throws -> ObjectID? {
        try String.fetchOne(
            db, sql: "SELECT commit_oid FROM changes WHERE repo_id = ? AND change_id = ?",
            arguments: [repoID, id.description]
        ).flatMap { ObjectID(hex: $0) }
    }

    private func insert(_ db: Database, _ record: ChangeRecord) throws {
        let now = Date().timeIntervalSince1970
        let parents = record.parents.map(\.description).joined(separator: ",")
        try db.execute(
            sql: """
                INSERT INTO changes (repo_id, change_id, commit_oid, parents, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(repo_id, change_id) DO UPDATE SET commit_oid = excluded.commit_oid,
                    parents = excluded.parents, updated_at = excluded.updated_at
                """,
            arguments: [repoID, record.id.description, record.commit.hex, parents, now, now])
        try db.execute(
            sql: "INSERT INTO change_log (repo_id, change_id, commit_oid, recorded_at) VALUES (?, ?, ?, ?)",
            arguments: [repoID, record.id.description, record.commit.hex, now])
    }

    package func changes() throws(TreeError) -> [ChangeRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM changes WHERE repo_id = ?", arguments: [repoID]).compactMap(Self.record)
        }
    }

    package func bookmark(named name: String) throws(TreeError) -> Bookmark? {
        try read { db in
            try String.fetchOne(
                db, sql: "SELECT change_id FROM bookmarks WHERE repo_id = ? AND name = ?", arguments: [repoID, name]
            ).flatMap { ChangeID(parsing: $0) }.map { Bookmark(name: name, change: $0) }
        }
    }

    package func putBookmark(_ bookmark: Bookmark, expected: Expectation<ChangeID>) throws(TreeError) {
        try write { db in
            let current = try currentBookmark(db, bookmark.name)
            guard expected.isMet(by: current) else {
                throw TreeError.staleBookmark(bookmark.name, expected: expected.value, current: current)
            }
            let context = try WebhookOutbox.context(db, repoID: repoID)
            let before = try WebhookOutbox.before(db, repoID: repoID, changes: [], bookmarks: [bookmark.name])
            try db.execute(
                sql: """
                    INSERT INTO bookmarks (repo_id, name, change_id) VALUES (?, ?, ?)
                    ON CONFLICT(repo_id, name) DO UPDATE SET change_id = excluded.change_id
                    """,
                arguments: [repoID, bookmark.name, bookmark.change.description])
            if let context { try WebhookOutbox.recordCatalogWrite(db, context, before: before, cause: .write) }
        }
    }

    package func deleteBookmark(named name: String, expected: Expectation<ChangeID>) throws(TreeError) {
        try write { db in
            let current = try currentBookmark(db, name)
            guard current != nil else { throw TreeError.bookmarkNotFound(name) }
            guard expected.isMet(by: current) else {
                throw TreeError.staleBookmark(name, expected: expected.value, current: current)
            }
            if let context = try WebhookOutbox.context(db, repoID: repoID) {
                try WebhookOutbox.recordBookmarkDeletion(db, context, name: name)
            }
            try db.execute(sql: "DELETE FROM bookmarks WHERE repo_id = ? AND name = ?", arguments: [repoID, name])
        }
    }

    package func bookmarks() throws(TreeError) -> [Bookmark] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT name, change_id FROM bookmarks WHERE repo_id = ? ORDER BY name", arguments: [repoID]
            ).compactMap { row in
                ChangeID(parsing: row["change_id"] as String).map { Bookmark(name: row["name"], change: $0) }
            }
        }
    }

    /// When a change was created and last evolved (seconds since the epoch), and its recorded conflict paths.
    package func details(of id: ChangeID) throws(TreeError) -> (created: Double, updated: Double, conflicts: [String])? {
        try read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT created_at, updated_at, conflicts FROM changes WHERE repo_id = ? AND change_id = ?",
                    arguments: [repoID, id.description])
            else { return nil }
            let conflicts: String? = row["conflicts"]
            let paths = try conflicts.map { try JSONDecoder().decode([String].self, from: Data($0.utf8)) } ?? []
            return (row["created_at"], row["updated_at"], paths)
        }
    }

    package func changeIDsByRecency() throws(TreeError) -> [ChangeID] {
        try read { db in
            try String.fetchAll(
                db, sql: "SELECT change_id FROM changes WHERE repo_id = ? ORDER BY updated_at DESC, change_id DESC",
                arguments: [repoID]
            ).compactMap { ChangeID(parsing: $0) }
        }
    }

    /// Records the conflicted paths of a change's current commit (empty when clean).
    package func setConflicts(_ paths: [String], of id: ChangeID) throws(TreeError) {
        try write { db in try Self.setConflicts(db, paths, of: id, repoID: repoID) }
    }

    private static func setConflicts(_ db: Database, _ paths: [String], of id: ChangeID, repoID: String) throws {
        let text = paths.isEmpty ? nil : String(decoding: try JSONEncoder().encode(paths), as: UTF8.self)
        try db.execute(
            sql: "UPDATE changes SET conflicts = ? WHERE repo_id = ? AND change_id = ?",
            arguments: [text, repoID, id.description])
    }

    private func currentBookmark(_ db: Database, _ name: String) throws -> ChangeID? {
        try String.fetchOne(
            db, sql: "SELECT change_id FROM bookmarks WHERE repo_id = ? AND name = ?", arguments: [repoID, name]
        ).flatMap { ChangeID(parsing: $0) }
    }

    private static func record(_ row: Row) -> ChangeRecord? {
        guard let id = ChangeID(parsing: row["change_id"] as String), let commit = ObjectID(hex: row["commit_oid"] as String)
        else { return nil }
        let parents = (row["parents"] as String).split(separator: ",").compactMap { ChangeID(parsing: String($0)) }
        return ChangeRecord(id: id, commit: commit, parents: parents)
    }
}
