import ArgumentParser
import Foundation
import Logging
import MesaFuse

/// `mesa mount`: every repository of the org under `<mount-point>/<org>/<repo>`, over FUSE.
struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount every repository the credential can read under <mount-point>/<org>/<repo> (FUSE)."
    )

    @Flag(name: [.customShort("y"), .customLong("non-interactive")], help: "Never prompt.")
    var nonInteractive = false

    @Flag(name: [.customShort("d"), .customLong("daemonize")], help: "Run detached; return once the mount is ready.")
    var daemonize = false

    @Option(name: [.customShort("c"), .customLong("config-path")], help: "A file of MESA_*=value lines.")
    var configPath: String?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let configuration: MountConfiguration
        do {
            configuration = try MountConfiguration(environment: environment, configFile: configPath)
        } catch {
            throw ValidationError("\(error)")
        }
        if daemonize, environment["MESA_DAEMON_CHILD"] == nil {
            try Daemon.spawn(configuration: configuration, arguments: Array(CommandLine.arguments.dropFirst()))
            return
        }
        let isChild = environment["MESA_DAEMON_CHILD"] != nil
        // Logs go to standard error (a daemon's is its log file), so standard output carries only the ready line:
        // a sandbox script or the daemon's parent can read it without parsing logs.
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        var logger = Logger(label: "mesa.mount")
        logger.logLevel = .info
        let service = MountService(configuration: configuration, logger: logger)
        let signals = SignalWatcher { service.requestStop() }
        defer { signals.cancel() }
        do {
            try MountService.preflight(configuration)
            try await service.run { message in
                if isChild {
                    Daemon.reportReady(message, logFile: configuration.logFile ?? configuration.stateDirectory + "/mesa-daemon.log")
                } else {
                    var output = BufferedOutput()
                    output.write(message + " (Ctrl-C to unmount)\n")
                    output.flush()
                }
            }
        } catch {
            if isChild { Daemon.reportFailure("\(error)") }
            throw CommandFailure("\(error)")
        }
    }
}

/// Turns SIGINT and SIGTERM into a clean unmount (the process keeps default handling of everything else).
final class SignalWatcher {
    private let sources: [any DispatchSourceSignal]

    init(_ handler: @escaping @Sendable () -> Void) {
        sources = [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    func cancel() { for source in sources { source.cancel() } }
}

/// Options of the commands that talk to a running mount.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "The runtime directory of the mount (default: MESA_RUNTIME_DIR, else $XDG_RUNTIME_DIR/mesa, else ~/.local/state/mesa/run).")
    var runtimeDir: String?

    var socketPath: String {
        let environment = ProcessInfo.processInfo.environment
        if let runtimeDir { return runtimeDir + "/control.sock" }
        if let directory = environment["MESA_RUNTIME_DIR"], !directory.isEmpty { return directory + "/control.sock" }
        if let directory = environment["XDG_RUNTIME_DIR"], !directory.isEmpty { return directory + "/mesa/control.sock" }
        let state = environment["MESA_STATE_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? "/root") + "/.local/state/mesa"
        return state + "/run/control.sock"
    }

    func send(_ request: ControlRequest) throws -> ControlResponse {
        let response = try ControlClient.send(request, to: socketPath)
        guard response.ok else { throw CommandFailure(response.message) }
        return response
    }
}

/// `mesa status`.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running mount: per repository its revision and change, pending files and bytes, last upload and error.")
    @OptionGroup var runtime: RuntimeOptions
    @Flag(help: "Print the status as one JSON object.")
    var json = false

    func run() throws {
        let response = try runtime.send(ControlRequest(command: "status"))
        if json {
            var object = response.details ?? [:]
            object["message"] = response.message
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(response.message)
        for (key, value) in (response.details ?? [:]).sorted(by: { $0.key < $1.key }) { print("\(key)\t\(value)") }
    }
}

/// `mesa stats`.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Show cache and fetch statistics of the running mount.")
    @OptionGroup var runtime: RuntimeOptions

    func run() throws {
        let response = try runtime.send(ControlRequest(command: "stats"))
        for (key, value) in (response.details ?? [:]).sorted(by: { $0.key < $1.key }) { print("\(key)\t\(value)") }
    }
}

/// `mesa sync`.
struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Upload the running mount's pending edits now; exits 0 only once every edit made before it is on the server.")
    @OptionGroup var runtime: RuntimeOptions
    @Option(help: "Only this repository (org/repo or repo).")
    var repo: String?
    @Option(help: "Seconds to wait at most (default 300).")
    var timeout: Double = 300

    func run() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be positive") }
        let response = try runtime.send(ControlRequest(command: "sync", repository: repo, timeout: timeout))
        guard response.ok else { throw CommandFailure("sync failed: \(response.message)") }
        print(response.message)
    }
}

/// `mesa new`.
struct NewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Start a new change on top of the shown one (after uploading pending edits); the mount shows it.")
    @OptionGroup var runtime: RuntimeOptions
    @Option(name: .shortAndLong, help: "The new change's message.")
    var message: String?
    @Option(help: "The repository (org/repo or repo); needed when the mount shows several.")
    var repo: String?

    func run() throws {
        let response = try runtime.send(ControlRequest(command: "new", repository: repo, message: message))
        guard response.ok else { throw CommandFailure("new failed: \(response.message)") }
        print(response.message)
    }
}

/// `mesa describe`.
struct DescribeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe", abstract: "Set the message of the shown change (after uploading pending edits).")
    @OptionGroup var runtime: RuntimeOptions
    @Option(name: .shortAndLong, help: "The message.")
    var message: String
    @Option(help: "The repository (org/repo or repo); needed when the mount shows several.")
    var repo: String?

    func run() throws {
        let response = try runtime.send(ControlRequest(command: "describe", repository: repo, message: message))
        guard response.ok else { throw CommandFailure("describe failed: \(response.message)") }
        print(response.message)
    }
}

/// `mesa unmount`.
struct UnmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unmount", abstract: "Unmount the running mount (or clean up after a daemon that died).")
    @OptionGroup var runtime: RuntimeOptions
    @Option(help: "The mount point to clean up when no daemon answers (default: MESA_MOUNT_POINT).")
    var mountPoint: String?

    func run() throws {
        do {
            print(try runtime.send(ControlRequest(command: "unmount")).message)
            return
        } catch let error as ControlError {
            // No daemon: a killed one may have left a dead mount ("Transport endpoint is not connected").
            let environment = ProcessInfo.processInfo.environment
            let path = mountPoint ?? environment["MESA_MOUNT_POINT"] ?? (environment["HOME"] ?? "/root") + "/.local/share/mesa/mnt"
            guard MountTable.mount(at: path) != nil else { throw CommandFailure("\(error)") }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/fusermount3")
            process.arguments = ["-uz", path]
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw CommandFailure("could not unmount \(path) (fusermount3 -uz exited \(process.terminationStatus))")
            }
            print("unmounted \(path) (no daemon was running)")
        }
    }
}

/// `mesa auth set-token`.
struct AuthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth", abstract: "Manage the running mount's credential.", subcommands: [SetToken.self])

    struct SetToken: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-token", abstract: "Give the running mount a fresh token (default: MESA_API_KEY).")
        @OptionGroup var runtime: RuntimeOptions
        @Argument(help: "The token.")
        var token: String?

        func run() throws {
            guard let token = token ?? ProcessInfo.processInfo.environment["MESA_API_KEY"], !token.isEmpty else {
                throw ValidationError("pass a token or set MESA_API_KEY")
            }
            print(try runtime.send(ControlRequest(command: "set-token", token: token)).message)
        }
    }
}
