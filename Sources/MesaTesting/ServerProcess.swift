package import Foundation

/// A real `mesa serve` process on 127.0.0.1 with a free port, over a temporary data directory; terminated (SIGTERM,
/// then SIGKILL) on `stop()` or `deinit`.
package final class ServerProcess: @unchecked Sendable {
    // SAFETY: every mutable property is set once in `init` before the object is shared; `stop` is idempotent and
    // only signals the process.

    /// The data directory.
    package let directory: TemporaryDirectory
    /// `http://127.0.0.1:PORT`.
    package let url: String
    /// The admin key printed on first start (read from `admin.key` on a restart).
    package let adminKey: String
    /// The process.
    package let process: Process
    private let output: Pipe

    /// What the server printed before it listened (the admin key lines, the address).
    package let startupOutput: String
    /// The org the server was started with.
    private let org: String
    /// Arguments added to `mesa serve`'s own.
    private let extraArguments: [String]

    /// Starts `mesa serve` again over the data directory of `previous`, which has stopped (or crashed): the same data
    /// and admin key (read from `admin.key`, since a restart prints none), a new port unless `samePort` (clients
    /// configured with the old URL reconnect).
    package convenience init(restarting previous: ServerProcess, samePort: Bool = false, timeout: Double = 30) throws {
        previous.stop()
        try self.init(
            org: previous.org, timeout: timeout, extraArguments: previous.extraArguments, directory: previous.directory,
            port: samePort ? previous.port : 0)
    }

    /// Starts `mesa serve --listen 127.0.0.1:PORT` (0: a free port) and waits (up to `timeout`) for its `listening on` line.
    /// - Parameter directory: the data directory (a new temporary one when `nil`); on a directory a server already
    ///   used for this org, no key is printed and ``adminKey`` is the one saved in `admin.key`.
    package init(
        org: String = "local", timeout: Double = 30, extraArguments: [String] = [], directory: TemporaryDirectory? = nil,
        port: Int = 0
    ) throws {
        self.directory = try directory ?? TemporaryDirectory(prefix: "mesa-serve")
        self.org = org
        self.extraArguments = extraArguments
        process = Process()
        process.executableURL = URL(fileURLWithPath: MesaBinary.path)
        process.arguments = ["serve", "--data-dir", self.directory.path, "--listen", "127.0.0.1:\(port)", "--org", org,
            "--log-level", "warning"] + extraArguments
        output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()

        var text = ""
        var key: String?
        var address: String?
        let deadline = Date().addingTimeInterval(timeout)
        let handle = output.fileHandleForReading
        while address == nil {
            guard Date() < deadline, process.isRunning else {
                process.terminate()
                throw ServerProcessError.didNotStart(text)
            }
            let data = handle.availableData
            if data.isEmpty { continue }
            text += String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n") {
                if line.hasPrefix("admin key: ") { key = String(line.dropFirst("admin key: ".count)) }
                if line.hasPrefix("listening on ") { address = String(line.dropFirst("listening on ".count)) }
            }
        }
        // A data directory that already has its org prints no key: the first start saved it.
        if key == nil, let saved = try? String(contentsOfFile: self.directory.appending("admin.key"), encoding: .utf8) {
            key = saved.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let key, let address else { throw ServerProcessError.didNotStart(text) }
        adminKey = key
        url = address
        startupOutput = text
    }

    /// The port the server listens on.
    package var port: Int { Int(url.split(separator: ":").last ?? "") ?? 0 }

    /// Stops the server: SIGTERM, then SIGKILL after five seconds.
    package func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// Why a server process could not be started.
package enum ServerProcessError: Error, CustomStringConvertible {
    case didNotStart(String)

    package var description: String {
        switch self {
        case .didNotStart(let output): "mesa serve did not print its address; output so far:\n\(output)"
        }
    }
}

/// Runs a shell command (ordinary tools against a mount or a server) and returns its status and output.
package enum Shell {
    /// The result of a command.
    package struct Result: Sendable {
        package var status: Int32
        package var output: String
        package var error: String
    }

    /// Runs `/bin/bash -c command` with extra environment variables.
    @discardableResult
    package static func run(_ command: String, environment: [String: String] = [:]) throws -> Result {
        let result = try ProcessRunner.run("/bin/bash", ["-c", command], environment: environment)
        return Result(status: result.status, output: result.output, error: result.error)
    }
}
