import ArgumentParser
import Foundation
import MesaFS
import MesaStore

#if canImport(Glibc)
import Glibc
#endif

/// `mesa debug fsck`: checks what a mount keeps on disk (the journal and overlay files of every org, `mount.json`,
/// the cache) and, with `--repair`, repairs it or sets it aside. A mount refuses a damaged state directory and points
/// here; nothing damaged is ever served.
struct StateFsckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check a mount's state directory and cache; --repair repairs or sets aside what is damaged.",
        discussion: """
            Prints one severity<TAB>kind<TAB>location<TAB>detail line per finding, each followed by what a repair \
            does, then a summary; exits 1 when damage remains. A repair keeps every edit it can: a file whose \
            overlay file is gone reverts to its last uploaded version, or is removed when it was never uploaded \
            (its path is printed); a journal SQLite cannot read is moved to <state-dir>/damaged/ (never deleted) and \
            the next mount starts from the server; corrupt cache records are dropped (they are fetched again). \
            Unmount first: a running mount owns the state directory.
            """)

    @Option(help: "The state directory (default: $MESA_STATE_DIR, else ~/.local/state/mesa).")
    var stateDir: String?

    @Option(help: "The cache directory (default: $MESA_CACHE_PATH, else ~/.cache/mesa).")
    var cachePath: String?

    @Flag(help: "Do not check the cache.")
    var noCache = false

    @Flag(help: "Repair what is damaged, or set it aside.")
    var repair = false

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let defaults = MountConfiguration.paths { environment[$0].flatMap { $0.isEmpty ? nil : $0 } }
        let state = stateDir ?? defaults.state
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: state, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure("no state directory at \(state)")
        }
        let runtime = stateDir == nil ? defaults.runtime : state + "/run"
        if let pid = Self.runningMount(runtimeDirectory: runtime) {
            guard !repair else {
                throw CommandFailure("a mount (pid \(pid)) is using \(state); unmount it first (mesa unmount)")
            }
            print("note: a mount (pid \(pid)) is using \(state): findings may be moments out of date")
        }
        let stamp = Self.stamp()
        var report = Report(repair: repair)
        let journals = state + "/journal"
        let orgs = ((try? FileManager.default.contentsOfDirectory(atPath: journals)) ?? []).sorted()
        for org in orgs {
            let directory = journals + "/" + org
            let findings = JournalDirectoryCheck.inspect(directory: directory)
            report.add(findings)
            guard repair, !findings.isEmpty else { continue }
            let done = try JournalDirectoryCheck.repair(
                directory: directory, findings: findings, setAsideTo: "\(state)/damaged/journal-\(org)-\(stamp)")
            report.repaired(done)
            if FileManager.default.fileExists(atPath: directory) {
                report.remaining(JournalDirectoryCheck.inspect(directory: directory))
            }
        }
        try checkRecord(state: state, stamp: stamp, report: &report)
        if !noCache, Self.runningMount(runtimeDirectory: runtime) == nil {
            try checkCache(cachePath ?? defaults.cache, report: &report)
        }
        print(
            "checked \(orgs.count) journal(s): \(report.damage) damage finding(s), \(report.notes) note(s)"
                + (repair ? "; repaired, \(report.remainingDamage) damage finding(s) remain" : ""))
        if (repair ? report.remainingDamage : report.damage) > 0 { throw ExitCode(1) }
    }

    /// `mount.json`: the record an offline start reads.
    private func checkRecord(state: String, stamp: String, report: inout Report) throws {
        let path = MountRecord.path(in: state)
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            _ = try MountRecord.load(from: state)
        } catch {
            report.add([
                .init(
                    severity: .damage, kind: "unreadable-record", location: path, detail: "\(error)",
                    repair: "set it aside: the next mount must reach the server to start")
            ])
            guard repair else { return }
            let destination = "\(state)/damaged/mount-\(stamp).json"
            try FileManager.default.createDirectory(atPath: state + "/damaged", withIntermediateDirectories: true)
            try FileManager.default.moveItem(atPath: path, toPath: destination)
            report.repaired(["unreadable-record \(path): set aside as \(destination)"])
        }
    }

    /// The cache: every record's checksum and id. It is disposable: corrupt records are dropped, an unreadable
    /// store removed; the mount fetches again what it needs.
    private func checkCache(_ cache: String, report: inout Report) throws {
        let path = cache + "/store"
        guard FileManager.default.fileExists(atPath: path) else { return }
        let store: ContentStore
        do {
            store = try ContentStore(path: path, configuration: .cache(maxUnpinnedBytes: .max))
        } catch {
            report.add([
                .init(
                    severity: .damage, kind: "unreadable-cache", location: path, detail: "\(error)",
                    repair: "remove the cache store (content is fetched again)")
            ])
            guard repair else { return }
            try FileManager.default.removeItem(atPath: path)
            report.repaired(["unreadable-cache \(path): removed"])
            return
        }
        defer { try? store.close() }
        let corrupt = store.verify().corrupt
        let findings = corrupt.map { record in
            StateFinding(
                severity: .damage, kind: "corrupt-cache-record", location: "\(path) \(record.key)", detail: record.reason,
                repair: "drop the record (it is fetched again)")
        }
        report.add(findings)
        guard repair, !corrupt.isEmpty else { return }
        try store.remove(corrupt.map(\.key))
        try store.sync()
        report.repaired(findings.map { "\($0.kind) \($0.location): dropped" })
        report.remaining(
            store.verify().corrupt.map { record in
                StateFinding(
                    severity: .damage, kind: "corrupt-cache-record", location: "\(path) \(record.key)",
                    detail: record.reason, repair: "")
            })
    }

    /// The pid of a live mount that owns the runtime directory, if any (a stale pid file of a killed mount is not).
    static func runningMount(runtimeDirectory: String) -> Int32? {
        guard let text = try? String(contentsOfFile: runtimeDirectory + "/mesa.pid", encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0, pid != getpid()
        else { return nil }
        guard kill(pid, 0) == 0 || Glibc.errno == EPERM else { return nil }
        // A killed daemon whose parent is gone may stay a zombie where PID 1 does not reap (containers): not a mount.
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let fields = stat.split(separator: ")").last?.split(separator: " ")
        return fields?.first == "Z" ? nil : pid
    }

    private static func stamp() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: Date())
    }

    /// What was found and done, printed as it goes.
    struct Report {
        let repair: Bool
        var damage = 0
        var notes = 0
        var remainingDamage = 0

        mutating func add(_ findings: [StateFinding]) {
            for finding in findings {
                if finding.severity == .damage { damage += 1 } else { notes += 1 }
                print("\(finding.severity.rawValue)\t\(finding.kind)\t\(finding.location)\t\(finding.detail)")
                print("\t\(repair ? "repair" : "--repair would"): \(finding.repair)")
            }
        }

        mutating func repaired(_ lines: [String]) {
            for line in lines { print("repaired\t\(line)") }
        }

        mutating func remaining(_ findings: [StateFinding]) {
            for finding in findings where finding.severity == .damage {
                remainingDamage += 1
                print("remains\t\(finding.kind)\t\(finding.location)\t\(finding.detail)")
            }
        }
    }
}
