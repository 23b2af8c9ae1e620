import Foundation
import MesaCore
import MesaKit

// `mesa mount`'s configuration: Mesa's environment variables (MESA-API.md, CLI) and flags, with the defaults and
// parsing rules of DESIGN.md section 5. A config file (`-c PATH`, unless MESA_NO_CONFIG_FILE is set) holds the same
// variables as `NAME=value` lines; the environment overrides it.

/// Everything `mesa mount` needs to start, validated.
struct MountConfiguration: Equatable {
    /// Which revision of a repo to show.
    enum Revision: Equatable {
        case bookmark(String)
        case change(String)
    }

    var credential: String
    var org: String?
    var baseURL: String
    var mountPoint: String
    var repoRevisions: [String: Revision]
    var cacheEnabled: Bool
    var cachePath: String
    var cacheMaxSize: ByteCount
    var cacheMaxMemorySize: ByteCount
    var stateDirectory: String
    var runtimeDirectory: String
    var logFile: String?
    var logColor: String
    var prefetchEnabled: Bool
    var prefetchMaxDepth: Int?
    var prefetchMaxConcurrency: Int
    var prefetchCachePressureLimit: Double
    var uid: UInt32
    var gid: UInt32
    var mesaignorePath: String?
    var pollInterval: Duration
    /// `MESA_SYNC_QUIET_MS`: edits upload after this long without another (default 1 s).
    var syncQuiet: Duration = .milliseconds(1000)
    /// `MESA_SYNC_MAX_DELAY_MS`: pending edits upload at the latest after this long (default 5 s).
    var syncMaxDelay: Duration = .milliseconds(5000)
    /// `MESA_SHUTDOWN_SYNC_TIMEOUT`: seconds a stopping mount (SIGTERM, SIGINT, `mesa unmount`) spends uploading
    /// pending edits before it unmounts (default 10; 0 uploads nothing). What it could not upload stays in the state
    /// directory for the next mount.
    var shutdownSyncTimeout: Duration = .seconds(10)
    /// `MESA_RECONNECT_PROBE_MS`: while the server cannot be reached (or uploads are backing off), it is asked this
    /// often whether it answers again; when it does, pending edits upload at once instead of after the back-off
    /// (default 500 ms, at least 50).
    var reconnectProbe: Duration = .milliseconds(500)

    /// Why a configuration was refused; the message names the variable and says what is expected.
    struct Invalid: Error, CustomStringConvertible, Equatable {
        var description: String
    }

    /// Builds the configuration from the environment, an optional config file and the current user.
    init(environment: [String: String], configFile: String? = nil, uid: UInt32 = getuid(), gid: UInt32 = getgid()) throws {
        var values: [String: String] = [:]
        if let configFile, environment["MESA_NO_CONFIG_FILE"].map(Self.isTrue) != true {
            guard let text = try? String(contentsOfFile: configFile, encoding: .utf8) else {
                throw Invalid(description: "cannot read the config file \(configFile)")
            }
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                guard let equals = trimmed.firstIndex(of: "=") else {
                    throw Invalid(description: "\(configFile):\(number + 1): expected NAME=value")
                }
                var value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
                values[trimmed[..<equals].trimmingCharacters(in: .whitespaces)] = value
            }
        }
        for (key, value) in environment where key.hasPrefix("MESA_") || key == "HOME" || key == "XDG_RUNTIME_DIR" {
            values[key] = value
        }
        func value(_ name: String) -> String? { values[name].flatMap { $0.isEmpty ? nil : $0 } }
        func bool(_ name: String, default fallback: Bool) throws -> Bool {
            guard let text = value(name) else { return fallback }
            if Self.isTrue(text) { return true }
            if ["0", "false", "no", "off"].contains(text.lowercased()) { return false }
            throw Invalid(description: "\(name)=\(text) is not a boolean (true or false)")
        }
        func size(_ name: String, default fallback: ByteCount) throws -> ByteCount {
            guard let text = value(name) else { return fallback }
            guard let size = ByteCount(parsing: text) else {
                throw Invalid(description: "\(name)=\(text) is not a size such as 10GB or 512MiB")
            }
            return size
        }
        func number<T: LosslessStringConvertible>(_ name: String, _ type: T.Type) throws -> T? {
            guard let text = value(name) else { return nil }
            guard let number = T(text) else { throw Invalid(description: "\(name)=\(text) is not a number") }
            return number
        }

        guard let credential = value("MESA_API_KEY") else {
            throw Invalid(description: "no credential: set MESA_API_KEY to an API key or a token (mesa token create)")
        }
        let home = value("HOME") ?? "/root"
        self.credential = credential
        org = value("MESA_ORG")
        baseURL = Mesa.baseURL(serviceDomain: value("MESA_SERVICE_DOMAIN"))
        mountPoint = value("MESA_MOUNT_POINT") ?? home + "/.local/share/mesa/mnt"
        repoRevisions = try Self.revisions(value("MESA_REPO_REVS"))
        cacheEnabled = try bool("MESA_CACHE_ENABLED", default: true)
        let paths = Self.paths(value)
        cachePath = paths.cache
        cacheMaxSize = try size("MESA_CACHE_MAX_SIZE", default: ByteCount(10_000_000_000))
        cacheMaxMemorySize = try size("MESA_CACHE_MAX_MEMORY_SIZE", default: ByteCount(320_000_000))
        stateDirectory = paths.state
        runtimeDirectory = paths.runtime
        logFile = value("MESA_DAEMON_LOG_FILE")
        logColor = value("MESA_DAEMON_LOG_COLOR") ?? "auto"
        guard ["auto", "always", "never"].contains(logColor) else {
            throw Invalid(description: "MESA_DAEMON_LOG_COLOR=\(logColor) must be auto, always or never")
        }
        prefetchEnabled = try bool("MESA_PREFETCH_ENABLED", default: true)
        prefetchMaxDepth = try number("MESA_PREFETCH_MAX_DEPTH", Int.self)
        prefetchMaxConcurrency = try number("MESA_PREFETCH_MAX_CONCURRENCY", Int.self) ?? 8
        prefetchCachePressureLimit = try number("MESA_PREFETCH_CACHE_PRESSURE_LIMIT", Double.self) ?? 0.80
        guard prefetchMaxConcurrency >= 1, (0...1).contains(prefetchCachePressureLimit), (prefetchMaxDepth ?? 0) >= 0 else {
            throw Invalid(description: "prefetch settings out of range: concurrency >= 1, depth >= 0, pressure limit 0...1")
        }
        self.uid = try number("MESA_UID", UInt32.self) ?? uid
        self.gid = try number("MESA_GID", UInt32.self) ?? gid
        mesaignorePath = value("MESA_MESAIGNORE_PATH")
        let poll = try number("MESA_POLL_INTERVAL_MS", Int.self) ?? 2000
        guard poll >= 100 else { throw Invalid(description: "MESA_POLL_INTERVAL_MS must be at least 100") }
        pollInterval = .milliseconds(poll)
        let quiet = try number("MESA_SYNC_QUIET_MS", Int.self) ?? 1000
        let maxDelay = try number("MESA_SYNC_MAX_DELAY_MS", Int.self) ?? 5000
        guard quiet >= 0, maxDelay >= quiet else {
            throw Invalid(description: "MESA_SYNC_QUIET_MS must be >= 0 and MESA_SYNC_MAX_DELAY_MS >= MESA_SYNC_QUIET_MS")
        }
        syncQuiet = .milliseconds(quiet)
        syncMaxDelay = .milliseconds(maxDelay)
        let shutdownSeconds = try number("MESA_SHUTDOWN_SYNC_TIMEOUT", Double.self) ?? 10
        guard shutdownSeconds >= 0, shutdownSeconds <= 3600 else {
            throw Invalid(description: "MESA_SHUTDOWN_SYNC_TIMEOUT must be between 0 and 3600 seconds")
        }
        shutdownSyncTimeout = .milliseconds(Int64(shutdownSeconds * 1000))
        let probe = try number("MESA_RECONNECT_PROBE_MS", Int.self) ?? 500
        guard probe >= 50 else { throw Invalid(description: "MESA_RECONNECT_PROBE_MS must be at least 50") }
        reconnectProbe = .milliseconds(probe)
        guard stateDirectory != cachePath, !stateDirectory.hasPrefix(cachePath + "/") else {
            throw Invalid(description: "MESA_STATE_DIR must not live inside MESA_CACHE_PATH (the cache is disposable)")
        }
    }

    /// Where a mount keeps its cache, its state and its runtime files (pid, control socket), from the variables
    /// `value` reads (`MESA_CACHE_PATH`, `MESA_STATE_DIR`, `MESA_RUNTIME_DIR`, `XDG_RUNTIME_DIR`, `HOME`).
    static func paths(_ value: (String) -> String?) -> (cache: String, state: String, runtime: String) {
        let home = value("HOME") ?? "/root"
        let state = value("MESA_STATE_DIR") ?? home + "/.local/state/mesa"
        let runtime = value("MESA_RUNTIME_DIR") ?? value("XDG_RUNTIME_DIR").map { $0 + "/mesa" } ?? state + "/run"
        return (value("MESA_CACHE_PATH") ?? home + "/.cache/mesa", state, runtime)
    }

    /// Parses `MESA_REPO_REVS`: `org/repo=bookmark:<name>` or `org/repo=change-id:<id>`, comma-separated.
    static func revisions(_ text: String?) throws -> [String: Revision] {
        guard let text else { return [:] }
        var revisions: [String: Revision] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, parts[0].split(separator: "/").count == 2 else {
                throw Invalid(description: "MESA_REPO_REVS item '\(item)' must be org/repo=bookmark:<name> or org/repo=change-id:<id>")
            }
            if parts[1].hasPrefix("bookmark:"), parts[1].count > 9 {
                revisions[parts[0]] = .bookmark(String(parts[1].dropFirst(9)))
            } else if parts[1].hasPrefix("change-id:"), ChangeID(parsing: String(parts[1].dropFirst(10))) != nil {
                revisions[parts[0]] = .change(String(parts[1].dropFirst(10)))
            } else {
                throw Invalid(description: "MESA_REPO_REVS item '\(item)' must be org/repo=bookmark:<name> or org/repo=change-id:<id>")
            }
        }
        return revisions
    }

    private static func isTrue(_ text: String) -> Bool { ["1", "true", "yes", "on"].contains(text.lowercased()) }
}
