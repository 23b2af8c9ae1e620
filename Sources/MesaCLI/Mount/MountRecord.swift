import Foundation
import MesaCore
import Logging
import MesaFS
import MesaSync
import Synchronization

// What a mount needs to start again without the server (issue 11, offline): the org, whether the credential could
// write, and for each repository its name, default bookmark and the last resolution the mount showed. Written to
// `MESA_STATE_DIR/mount.json` (atomically: a temporary file renamed over it) once a mount is ready and whenever a
// shown revision moves; read only when the server cannot be reached at start. Repositories with local edits start at
// their journal's base anyway; the others show the recorded commit, whose trees and content come from the cache.

/// The durable description of the last mount of a state directory.
struct MountRecord: Codable, Equatable {
    /// One repository of the mount.
    struct Repository: Codable, Equatable {
        var name: String
        var defaultBookmark: String
        /// The revision shown, in the protocol's text form.
        var revision: String
        var change: String
        var commit: String?
        var rootTree: String
        var commitTime: Int64

        /// The resolution it records, or `nil` when a field does not parse.
        var resolution: Resolution? {
            guard let revision = Revision(parsing: revision), let change = ChangeID(parsing: change),
                let rootTree = ObjectID(hex: rootTree)
            else { return nil }
            let commitID = commit.flatMap { ObjectID(hex: $0) }
            if commit != nil, commitID == nil { return nil }
            return Resolution(revision: revision, change: change, commit: commitID, rootTree: rootTree, commitTime: commitTime)
        }
    }

    /// The server it was made against (`MESA_SERVICE_DOMAIN` as used).
    var server: String
    var org: String
    /// Whether the credential could push (a read-only one mounts refusing writes).
    var canWrite: Bool
    var repositories: [Repository]

    /// The record's file in a state directory.
    static func path(in stateDirectory: String) -> String { stateDirectory + "/mount.json" }

    /// Reads the record of a state directory, or `nil` when there is none.
    /// - Throws: ``MountFailure`` when the file exists but does not parse.
    static func load(from stateDirectory: String) throws(MountFailure) -> MountRecord? {
        guard let data = FileManager.default.contents(atPath: path(in: stateDirectory)) else { return nil }
        do {
            return try JSONDecoder().decode(MountRecord.self, from: data)
        } catch {
            throw MountFailure(description: "\(path(in: stateDirectory)) cannot be read (\(error)); remove it to start online")
        }
    }

    /// Writes the record atomically.
    func save(to stateDirectory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: Self.path(in: stateDirectory)), options: .atomic)
    }
}

/// Keeps a state directory's ``MountRecord`` current: saves it when what the mount shows has changed.
final class MountRecorder: Sendable {
    private let stateDirectory: String
    private let server: String
    private let org: String
    private let canWrite: Bool
    private let defaultBookmarks: [String: String]
    private let logger: Logger
    private let saved = Mutex<MountRecord?>(nil)

    init(
        stateDirectory: String, server: String, org: String, canWrite: Bool, defaultBookmarks: [String: String],
        logger: Logger
    ) {
        self.stateDirectory = stateDirectory
        self.server = server
        self.org = org
        self.canWrite = canWrite
        self.defaultBookmarks = defaultBookmarks
        self.logger = logger
    }

    /// Saves the record of what `fs` shows now, unless it is the one saved last. A repository not resolved yet keeps
    /// what the previous record said of it, if anything.
    func save(_ fs: MesaFS) {
        let previous = saved.withLock { $0 }
        var repositories: [MountRecord.Repository] = []
        for repository in fs.layout.repositories {
            let name = repository.path.name
            guard let resolution = fs.currentResolution(of: repository.path) else {
                if let old = previous?.repositories.first(where: { $0.name == name }) { repositories.append(old) }
                continue
            }
            repositories.append(
                MountRecord.Repository(
                    name: name, defaultBookmark: defaultBookmarks[name] ?? "main",
                    revision: resolution.revision.description, change: resolution.change.description,
                    commit: resolution.commit?.hex, rootTree: resolution.rootTree.hex, commitTime: resolution.commitTime))
        }
        let record = MountRecord(server: server, org: org, canWrite: canWrite, repositories: repositories)
        guard record != previous else { return }
        do {
            try record.save(to: stateDirectory)
            saved.withLock { $0 = record }
        } catch {
            logger.warning(
                "cannot save the mount record (an offline start would lack it)",
                metadata: ["path": "\(MountRecord.path(in: stateDirectory))", "error": "\(error)"])
        }
    }
}

/// Whether the server answers: what `mesa status` shows as `server_state`.
final class Connectivity: Sendable {
    private let state = Mutex<(since: Date, reason: String)?>(nil)

    /// A request reached the server.
    func succeeded() { state.withLock { $0 = nil } }

    /// A request could not reach the server.
    func failed(_ reason: String) {
        state.withLock { current in if current == nil { current = (Date(), reason) } }
    }

    /// Whether the last request could not reach the server.
    var isOffline: Bool { state.withLock { $0 != nil } }

    /// `online`, or `offline since <time>: <reason>`.
    var description: String {
        guard let (since, reason) = state.withLock({ $0 }) else { return "online" }
        return "offline since \(ISO8601DateFormatter().string(from: since)): \(reason)"
    }
}
