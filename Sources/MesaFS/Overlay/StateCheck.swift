import Foundation
import MesaCore
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

// The check behind `mesa debug fsck --state-dir` for one org's journal directory (`<state>/journal/<org>`): the
// SQLite file's integrity and rows, then the node graph against the overlay files. A crash cannot damage a sound
// journal (every operation is one transaction, and overlay files are renamed into place), but a disk, a power cut
// without barriers, or a person deleting files can; a mount never serves such a state (MesaFS refuses to start) and
// this check says what is wrong and what a repair does. A repair keeps every edit it can:
// - a file whose overlay file is gone reverts to the version its last upload acknowledged (that blob is on the
//   server), or, never uploaded, is removed from its directory (its bytes are gone: the finding names its path);
// - entries naming nodes that are gone, listed twice or of the wrong kind, and wrong parent links are corrected;
// - nodes no repository reaches are removed with their overlay files;
// - a journal SQLite cannot read is set aside whole (moved, never deleted), so the next mount starts from the
//   server and the old files stay for a person to look at.

/// One thing a state check found.
package struct StateFinding: Sendable, Hashable {
    /// Damage makes a mount refuse the state; a note is leftover a mount tidies by itself.
    package enum Severity: String, Sendable, Hashable {
        case damage
        case note
    }

    /// How serious it is.
    package var severity: Severity
    /// A short, stable name: `unreadable-journal`, `missing-overlay`, `dangling-entry`, `listed-twice`,
    /// `wrong-kind`, `wrong-parent`, `missing-root`, `unreachable-nodes`, `stray-overlay-files`.
    package var kind: String
    /// Where: a path in the mount (`org/repo/dir/file`), or a file of the state directory.
    package var location: String
    /// What is wrong.
    package var detail: String
    /// What a repair does about it.
    package var repair: String
    let fix: Fix

    /// A finding a caller makes about state of its own (the mount record, the cache), repaired by the caller.
    package init(severity: Severity, kind: String, location: String, detail: String, repair: String) {
        self.init(severity: severity, kind: kind, location: location, detail: detail, repair: repair, fix: StateFinding.Fix())
    }

    init(severity: Severity, kind: String, location: String, detail: String, repair: String, fix: Fix) {
        self.severity = severity
        self.kind = kind
        self.location = location
        self.detail = detail
        self.repair = repair
        self.fix = fix
    }

    /// What a repair does: journal changes (one transaction for all findings), repositories to forget, files to
    /// remove, or the whole directory set aside.
    struct Fix: Sendable, Hashable {
        var changes: [JournalChange] = []
        var forget: RepositoryPath?
        var unlink: [String] = []
        var setAside = false
    }
}

/// Checks and repairs one org's journal directory.
package enum JournalDirectoryCheck {
    /// What is wrong with the journal directory `directory`. Reads only (SQLite may replay its WAL); creates nothing.
    package static func inspect(directory: String) -> [StateFinding] {
        let overlayDirectory = directory + "/overlay"
        let journalPath = directory + "/journal.sqlite"
        guard FileManager.default.fileExists(atPath: journalPath) else {
            return strays(in: overlayDirectory, live: [])
        }
        let snapshot: JournalSnapshot
        do throws(FSError) {
            let journal = try Journal(path: journalPath)
            let problems = try journal.integrityProblems()
            guard problems.isEmpty else {
                return [unreadable(journalPath, "SQLite integrity_check: " + problems.prefix(3).joined(separator: "; "))]
            }
            snapshot = try journal.load()
        } catch {
            return [unreadable(journalPath, "\(error)")]
        }
        var walk = Walk(snapshot: snapshot, overlayDirectory: overlayDirectory)
        for (repository, entry) in snapshot.repositories.sorted(by: { $0.key.description < $1.key.description }) {
            walk.visit(repository: repository, root: entry.root)
        }
        walk.collectUnreachable()
        return walk.findings + strays(in: overlayDirectory, live: walk.liveFiles.union(walk.removedFiles))
    }

    /// Repairs what `findings` (from ``inspect(directory:)``) name; a journal set aside moves to `setAsideTo`.
    /// - Returns: one line per repair made.
    /// - Throws: ``FSError/journal(_:)`` or ``FSError/overlay(_:_:)`` when a repair cannot be written; the
    ///   journal is then as it was (its changes are one transaction).
    package static func repair(
        directory: String, findings: [StateFinding], setAsideTo: String
    ) throws(FSError) -> [String] {
        if findings.contains(where: \.fix.setAside) {
            let parent = (setAsideTo as NSString).deletingLastPathComponent
            try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            guard rename(directory, setAsideTo) == 0 else {
                let code = Errno(rawValue: Glibc.errno)
                throw .overlay(code, "cannot move \(directory) to \(setAsideTo): \(code)")
            }
            return ["set aside \(directory) as \(setAsideTo)"]
        }
        var changes: [JournalChange] = []
        var forgotten: [RepositoryPath] = []
        var files: [String] = []
        for finding in findings {
            changes += finding.fix.changes
            if let repository = finding.fix.forget { forgotten.append(repository) }
            files += finding.fix.unlink
        }
        if !changes.isEmpty || !forgotten.isEmpty {
            let journal = try Journal(path: directory + "/journal.sqlite")
            try journal.write(changes)
            for repository in forgotten { try journal.forget(repository: repository) }
            try journal.sync()
        }
        for path in files where unlink(path) != 0 && Glibc.errno != ENOENT {
            let code = Errno(rawValue: Glibc.errno)
            throw .overlay(code, "cannot remove \(path): \(code)")
        }
        return findings.map { "\($0.kind) \($0.location): \($0.repair)" }
    }

    private static func unreadable(_ path: String, _ detail: String) -> StateFinding {
        StateFinding(
            severity: .damage, kind: "unreadable-journal", location: path, detail: detail,
            repair: "set the journal directory aside (kept for inspection); the next mount starts from the server",
            fix: StateFinding.Fix(setAside: true))
    }

    private static func strays(in overlayDirectory: String, live: Set<String>) -> [StateFinding] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: overlayDirectory)) ?? []
        let stray = names.filter { !live.contains($0) }.sorted()
        guard !stray.isEmpty else { return [] }
        return [
            StateFinding(
                severity: .note, kind: "stray-overlay-files", location: overlayDirectory,
                detail: "\(stray.count) file(s) no node owns (interrupted copies, files removed while open)",
                repair: "remove them (a mount does this itself when it starts)",
                fix: StateFinding.Fix(unlink: stray.map { overlayDirectory + "/" + $0 }))
        ]
    }

    /// The walk from every repository root through local entries.
    private struct Walk {
        let snapshot: JournalSnapshot
        let overlayDirectory: String
        var findings: [StateFinding] = []
        var visited: Set<LocalID> = []
        /// Names in the overlay directory that reachable nodes own.
        var liveFiles: Set<String> = []
        /// Names in the overlay directory of nodes a repair removes (reported with them, not as strays).
        var removedFiles: Set<String> = []

        /// The directories listing each node, among the nodes some repository root reaches.
        let listedBy: [LocalID: Set<LocalID>]

        init(snapshot: JournalSnapshot, overlayDirectory: String) {
            self.snapshot = snapshot
            self.overlayDirectory = overlayDirectory
            var listedBy: [LocalID: Set<LocalID>] = [:]
            var queue = snapshot.repositories.values.map(\.root)
            var seen = Set(queue)
            while let id = queue.popLast() {
                for case .local(let child, _) in (snapshot.nodes[id]?.entries ?? [:]).values {
                    listedBy[child, default: []].insert(id)
                    if seen.insert(child).inserted { queue.append(child) }
                }
            }
            self.listedBy = listedBy
        }

        mutating func visit(repository: RepositoryPath, root: LocalID) {
            guard var rootNode = snapshot.nodes[root], rootNode.kind == .directory else {
                findings.append(
                    StateFinding(
                        severity: .damage, kind: "missing-root", location: repository.description,
                        detail: "the repository's local root (\(root)) is not a directory of the journal",
                        repair: "forget the repository's local state; its nodes go as unreachable",
                        fix: StateFinding.Fix(forget: repository)))
                return
            }
            visited.insert(root)
            if rootNode.parent != nil {
                rootNode.parent = nil
                finding(
                    "wrong-parent", repository.description, "the root directory names a parent",
                    "clear the parent link", [.node(rootNode)])
            }
            var queue: [(LocalID, String)] = [(root, repository.description)]
            while let (id, path) = queue.popLast() {
                guard let directory = snapshot.nodes[id] else { continue }
                for (name, item) in directory.entries.sorted(by: { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }) {
                    guard case .local(let child, let kind) = item else { continue }
                    let childPath = path + "/" + name.description
                    if visit(child, kind: kind, in: id, name: name, path: childPath) {
                        queue.append((child, childPath))
                    }
                }
            }
        }

        /// Checks one local entry; returns whether it is a directory to walk into.
        private mutating func visit(_ id: LocalID, kind: LocalKind, in directory: LocalID, name: FileName, path: String) -> Bool {
            let dropEntry = JournalChange.entry(directory: directory, name: name, item: nil)
            guard var node = snapshot.nodes[id] else {
                finding(
                    "dangling-entry", path, "the entry names \(id), which the journal does not hold",
                    "remove the entry", [dropEntry])
                return false
            }
            // Listed twice: the entry in the directory the node names as its parent is the one that stays.
            if let parent = node.parent, parent != directory, listedBy[id]?.contains(parent) == true {
                finding(
                    "listed-twice", path, "\(id) is also listed by its own parent directory",
                    "remove this entry (the node stays where its parent lists it)", [dropEntry])
                return false
            }
            guard visited.insert(id).inserted else {
                finding(
                    "listed-twice", path, "\(id) is already listed at another path",
                    "remove this entry (the node stays at its first path)", [dropEntry])
                return false
            }
            var fixed: [JournalChange] = []
            if node.parent != directory {
                node.parent = directory
                fixed.append(.node(node))
                finding("wrong-parent", path, "\(id) names another parent", "link it to the directory that lists it", fixed)
            }
            if node.kind != kind {
                finding(
                    "wrong-kind", path, "the entry says \(kind), the node is a \(node.kind)",
                    "make the entry say \(node.kind)", [.entry(directory: directory, name: name, item: .local(id, node.kind))])
            }
            guard node.kind == .file, node.content == .overlay else { return node.kind == .directory }
            let file = String(id.rawValue)
            guard access(overlayDirectory + "/" + file, F_OK) != 0 else {
                liveFiles.insert(file)
                return false
            }
            if let uploaded = node.uploaded, let blob = uploaded.id {
                node.content = .blob(blob)
                let lost = node.isDirty ? "edits made after its last upload are lost" : "nothing is lost"
                finding(
                    "missing-overlay", path, "the overlay file of \(id) is gone",
                    "revert to the last uploaded version (blob \(blob), on the server): \(lost)", fixed + [.node(node)])
            } else {
                finding(
                    "missing-overlay", path, "the overlay file of \(id) is gone and it was never uploaded",
                    "remove the file from its directory: its bytes are lost", [dropEntry, .removeNode(id)])
            }
            return false
        }

        mutating func collectUnreachable() {
            let unreachable = snapshot.nodes.keys.filter { !visited.contains($0) }.sorted()
            guard !unreachable.isEmpty else { return }
            let files = unreachable.filter { snapshot.nodes[$0]?.kind == .file }.map { String($0.rawValue) }
            removedFiles.formUnion(files)
            let shown = unreachable.prefix(10).map { String($0.rawValue) }.joined(separator: ", ")
            findings.append(
                StateFinding(
                    severity: .damage, kind: "unreachable-nodes", location: overlayDirectory,
                    detail: "\(unreachable.count) node(s) no repository reaches: \(shown)"
                        + (unreachable.count > 10 ? ", ..." : ""),
                    repair: "remove them and their \(files.count) overlay file(s)",
                    fix: StateFinding.Fix(
                        changes: unreachable.map { .removeNode($0) }, unlink: files.map { overlayDirectory + "/" + $0 })))
        }

        private mutating func finding(
            _ kind: String, _ location: String, _ detail: String, _ repair: String, _ changes: [JournalChange]
        ) {
            findings.append(
                StateFinding(
                    severity: .damage, kind: kind, location: location, detail: detail, repair: repair,
                    fix: StateFinding.Fix(changes: changes)))
        }
    }
}
