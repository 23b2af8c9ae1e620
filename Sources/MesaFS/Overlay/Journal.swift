import Foundation
import GRDB
package import MesaCore
package import MesaSync

// The journal: the local nodes of every writable repository of a state directory, in SQLite (WAL) through GRDB.
// MesaFS writes it through, in the same order as it changes its memory (under its lock), one transaction per
// filesystem operation; content lives in overlay files (Overlay.swift), not here. Commits use WAL with
// `synchronous = NORMAL`: a process crash loses nothing that was committed, and `sync()` (fsync, an upload's
// snapshot) checkpoints with a full sync, after which a power loss loses nothing either.

/// One change to the journal.
package enum JournalChange: Sendable, Hashable {
    /// Creates or replaces a node's row (not its entries).
    case node(LocalNode)
    /// Removes a node and its entries.
    case removeNode(LocalID)
    /// Sets (or, with `nil`, removes) one entry of a local directory.
    case entry(directory: LocalID, name: FileName, item: LocalItem?)
    /// Records the local root of a repository and the revision it is based on (the last commit synced); forgets
    /// the repository's sent pushes (they are behind the new base).
    case base(repository: RepositoryPath, root: LocalID, resolution: Resolution)
    /// Records a commit an upload is about to send, before it is sent.
    case sent(repository: RepositoryPath, SentPush)
}

/// A commit an upload sent (or is about to send), kept in the journal until the repository's base moves. When a
/// push's answer is lost (a dropped connection, a killed daemon), a later attempt finds the change already at this
/// commit on the server and knows it as its own: "already there", not a conflict.
package struct SentPush: Sendable, Hashable {
    /// The change the commit belongs to (a change the upload creates has a new id).
    package var change: ChangeID
    /// The commit.
    package var commit: ObjectID
    /// Its root tree.
    package var rootTree: ObjectID
    /// Its commit time, seconds since the epoch.
    package var commitTime: Int64

    /// Creates a record.
    package init(change: ChangeID, commit: ObjectID, rootTree: ObjectID, commitTime: Int64) {
        self.change = change
        self.commit = commit
        self.rootTree = rootTree
        self.commitTime = commitTime
    }
}

/// What the journal holds: every node with its entries, and each repository's root and base.
package struct JournalSnapshot: Sendable {
    /// The nodes, entries filled in.
    package var nodes: [LocalID: LocalNode] = [:]
    /// Each repository's local root and base, by path.
    package var repositories: [RepositoryPath: (root: LocalID, base: Resolution)] = [:]
    /// Each repository's sent pushes not yet behind its base, oldest first.
    package var sent: [RepositoryPath: [SentPush]] = [:]
}

/// The SQLite journal of a state directory.
package final class Journal: Sendable {
    let database: DatabaseQueue
    /// The database file.
    package let path: String

    /// Opens (creating and migrating) the journal at `path`.
    /// - Throws: ``FSError/journal(_:)``.
    package init(path: String) throws(FSError) {
        self.path = path
        do {
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            database = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrator.migrate(database)
        } catch {
            throw .journal("cannot open the journal \(path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE repositories (
                        path TEXT PRIMARY KEY, root INTEGER NOT NULL, revision TEXT NOT NULL, change_id TEXT NOT NULL,
                        commit_id BLOB, root_tree BLOB NOT NULL, commit_time INTEGER NOT NULL);
                    CREATE TABLE nodes (
                        id INTEGER PRIMARY KEY, parent INTEGER, kind INTEGER NOT NULL, permissions INTEGER NOT NULL,
                        blob BLOB, size INTEGER NOT NULL, target BLOB NOT NULL,
                        mtime_s INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, atime_s INTEGER NOT NULL,
                        atime_ns INTEGER NOT NULL, generation INTEGER NOT NULL, uploaded_generation INTEGER,
                        uploaded_id BLOB);
                    CREATE TABLE entries (
                        directory INTEGER NOT NULL, name BLOB NOT NULL, kind INTEGER NOT NULL, object BLOB,
                        node INTEGER, PRIMARY KEY(directory, name)) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v2-sent-pushes") { db in
            try db.execute(
                sql: """
                    CREATE TABLE sent_pushes (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT, repository TEXT NOT NULL, change_id TEXT NOT NULL,
                        commit_id BLOB NOT NULL, root_tree BLOB NOT NULL, commit_time INTEGER NOT NULL);
                    """)
        }
        return migrator
    }

    /// Applies changes in one transaction.
    /// - Throws: ``FSError/journal(_:)``; nothing is applied then.
    package func write(_ changes: [JournalChange]) throws(FSError) {
        guard !changes.isEmpty else { return }
        do {
            try database.write { db in
                for change in changes { try Self.apply(change, db) }
            }
        } catch {
            throw .journal("cannot write the journal \(path): \(error)")
        }
    }

    private static func apply(_ change: JournalChange, _ db: Database) throws {
        switch change {
        case .node(let node):
            var blob: Data?
            if case .blob(let id) = node.content { blob = Data(id.bytes) }
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO nodes (id, parent, kind, permissions, blob, size, target, mtime_s, mtime_ns,
                        atime_s, atime_ns, generation, uploaded_generation, uploaded_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    node.id.rawValue, node.parent?.rawValue, node.kind.rawValue, Int64(node.permissions), blob,
                    node.size, Data(node.target), node.modificationTime.seconds,
                    Int64(node.modificationTime.nanoseconds), node.accessTime.seconds,
                    Int64(node.accessTime.nanoseconds), node.generation, node.uploaded?.generation,
                    node.uploaded?.id.map { Data($0.bytes) },
                ])
        case .removeNode(let id):
            try db.execute(sql: "DELETE FROM nodes WHERE id = ?", arguments: [id.rawValue])
            try db.execute(sql: "DELETE FROM entries WHERE directory = ?", arguments: [id.rawValue])
        case .entry(let directory, let name, let item):
            guard let item else {
                try db.execute(
                    sql: "DELETE FROM entries WHERE directory = ? AND name = ?",
                    arguments: [directory.rawValue, Data(name.bytes)])
                return
            }
            let (kind, object, node): (Int64, Data?, Int64?) =
                switch item {
                case .clean(let kind, let id): (Self.code(of: kind), Data(id.bytes), nil)
                case .local(let id, let kind): (100 + Int64(kind.rawValue), nil, id.rawValue)
                }
            try db.execute(
                sql: "INSERT OR REPLACE INTO entries (directory, name, kind, object, node) VALUES (?, ?, ?, ?, ?)",
                arguments: [directory.rawValue, Data(name.bytes), kind, object, node])
        case .base(let repository, let root, let resolution):
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO repositories (path, root, revision, change_id, commit_id, root_tree,
                        commit_time) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    repository.description, root.rawValue, resolution.revision.description,
                    resolution.change.description, resolution.commit.map { Data($0.bytes) },
                    Data(resolution.rootTree.bytes), resolution.commitTime,
                ])
            try db.execute(sql: "DELETE FROM sent_pushes WHERE repository = ?", arguments: [repository.description])
        case .sent(let repository, let push):
            try db.execute(
                sql: """
                    INSERT INTO sent_pushes (repository, change_id, commit_id, root_tree, commit_time)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [
                    repository.description, push.change.description, Data(push.commit.bytes),
                    Data(push.rootTree.bytes), push.commitTime,
                ])
        }
    }

    /// Reads everything back (a restart).
    /// - Throws: ``FSError/journal(_:)``, also for a row that does not parse (a journal from elsewhere).
    package func load() throws(FSError) -> JournalSnapshot {
        do {
            return try database.read { db in try Self.load(db) }
        } catch let error as FSError {
            throw error
        } catch {
            throw .journal("cannot read the journal \(path): \(error)")
        }
    }

    private static func load(_ db: Database) throws -> JournalSnapshot {
        var snapshot = JournalSnapshot()
        for row in try Row.fetchAll(db, sql: "SELECT * FROM nodes") {
            let id = LocalID(row["id"])
            guard let kind = LocalKind(rawValue: row["kind"]) else { throw FSError.journal("node \(id): bad kind") }
            let time = Timestamp(seconds: row["mtime_s"], nanoseconds: UInt32(truncatingIfNeeded: row["mtime_ns"] as Int64))
            var node = LocalNode(
                id: id, parent: (row["parent"] as Int64?).map(LocalID.init), kind: kind,
                permissions: UInt32(truncatingIfNeeded: row["permissions"] as Int64), time: time,
                generation: row["generation"])
            node.accessTime = Timestamp(
                seconds: row["atime_s"], nanoseconds: UInt32(truncatingIfNeeded: row["atime_ns"] as Int64))
            if let blob = row["blob"] as Data? { node.content = .blob(try objectID(blob, id)) }
            node.size = row["size"]
            node.target = [UInt8](row["target"] as Data)
            if let generation = row["uploaded_generation"] as Int64? {
                node.uploaded = LocalNode.Uploaded(
                    generation: generation, id: try (row["uploaded_id"] as Data?).map { try objectID($0, id) })
            }
            snapshot.nodes[id] = node
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM entries") {
            let directory = LocalID(row["directory"])
            let name = FileName(bytes: [UInt8](row["name"] as Data))
            let code: Int64 = row["kind"]
            let item: LocalItem
            if code >= 100 {
                guard let kind = LocalKind(rawValue: Int(code - 100)), let node = row["node"] as Int64? else {
                    throw FSError.journal("entry \(name) of \(directory): bad local entry")
                }
                item = .local(LocalID(node), kind)
            } else {
                guard let kind = Self.kind(of: code), let object = row["object"] as Data? else {
                    throw FSError.journal("entry \(name) of \(directory): bad clean entry")
                }
                item = .clean(kind, try objectID(object, directory))
            }
            guard snapshot.nodes[directory] != nil else { continue }
            snapshot.nodes[directory]?.entries[name] = item
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM repositories") {
            let text: String = row["path"]
            guard let path = RepositoryPath(parsing: text), let revision = Revision(parsing: row["revision"]),
                let change = ChangeID(parsing: row["change_id"] as String)
            else { throw FSError.journal("repository \(text): bad base") }
            let root = LocalID(row["root"])
            let resolution = Resolution(
                revision: revision, change: change,
                commit: try (row["commit_id"] as Data?).map { try objectID($0, root) },
                rootTree: try objectID(row["root_tree"], root), commitTime: row["commit_time"])
            snapshot.repositories[path] = (root, resolution)
        }
        for row in try Row.fetchAll(db, sql: "SELECT * FROM sent_pushes ORDER BY sequence") {
            let text: String = row["repository"]
            guard let path = RepositoryPath(parsing: text), let change = ChangeID(parsing: row["change_id"] as String),
                let commit = ObjectID(bytes: [UInt8](row["commit_id"] as Data)),
                let tree = ObjectID(bytes: [UInt8](row["root_tree"] as Data))
            else { throw FSError.journal("sent push of \(text): bad row") }
            snapshot.sent[path, default: []].append(
                SentPush(change: change, commit: commit, rootTree: tree, commitTime: row["commit_time"]))
        }
        return snapshot
    }

    private static func objectID(_ data: Data, _ node: LocalID) throws -> ObjectID {
        guard let id = ObjectID(bytes: [UInt8](data)) else { throw FSError.journal("\(node): bad object id") }
        return id
    }

    private static func code(of kind: EntryKind) -> Int64 {
        switch kind {
        case .regular: 0
        case .executable: 1
        case .symlink: 2
        case .directory: 3
        case .submodule: 4
        }
    }

    private static func kind(of code: Int64) -> EntryKind? {
        switch code {
        case 0: .regular
        case 1: .executable
        case 2: .symlink
        case 3: .directory
        case 4: .submodule
        default: nil
        }
    }

    /// What SQLite's `integrity_check` finds wrong with the file (empty when it is sound).
    /// - Throws: ``FSError/journal(_:)`` when the check itself cannot run.
    package func integrityProblems() throws(FSError) -> [String] {
        do {
            let lines = try database.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
            return lines == ["ok"] ? [] : lines
        } catch {
            throw .journal("cannot check the journal \(path): \(error)")
        }
    }

    /// Forgets a repository's local root, base and sent pushes (a repair of a journal whose root node is gone).
    /// - Throws: ``FSError/journal(_:)``.
    package func forget(repository: RepositoryPath) throws(FSError) {
        do {
            try database.write { db in
                try db.execute(sql: "DELETE FROM repositories WHERE path = ?", arguments: [repository.description])
                try db.execute(sql: "DELETE FROM sent_pushes WHERE repository = ?", arguments: [repository.description])
            }
        } catch {
            throw .journal("cannot write the journal \(path): \(error)")
        }
    }

    /// Makes every committed transaction durable (a full checkpoint: the WAL and the database are synced).
    /// - Throws: ``FSError/journal(_:)``.
    package func sync() throws(FSError) {
        do {
            try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(FULL)") }
        } catch {
            throw .journal("cannot sync the journal \(path): \(error)")
        }
    }
}
