package import Foundation

/// A real `mesa debug delay-proxy` process in front of an upstream on 127.0.0.1, listening on a free port; terminated
/// on `stop()` or `deinit`.
package final class ProxyProcess: @unchecked Sendable {
    // SAFETY: every property is set once in `init` before the object is shared; `stop` only signals the process.

    /// The port the proxy listens on.
    package let port: Int
    /// The process.
    package let process: Process

    /// `http://127.0.0.1:PORT`.
    package var url: String { "http://127.0.0.1:\(port)" }

    /// Starts a proxy on `port` (0: a free one) to `127.0.0.1:upstreamPort` with `arguments` added (`--delay-ms`,
    /// `--drop-answers-to`, ...) and waits (up to `timeout`) for its `listening on` line.
    package init(upstreamPort: Int, port: Int = 0, arguments: [String] = [], timeout: Double = 30) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: MesaBinary.path)
        process.arguments =
            ["debug", "delay-proxy", "--listen", "127.0.0.1:\(port)", "--upstream", "127.0.0.1:\(upstreamPort)"] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var line = ""
        let deadline = Date().addingTimeInterval(timeout)
        while !line.contains("\n") {
            guard Date() < deadline, process.isRunning else {
                process.terminate()
                throw ServerProcessError.didNotStart(line)
            }
            line += String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        }
        // "listening on 127.0.0.1:PORT, forwarding to ..."
        guard let port = line.split(separator: ",").first?.split(separator: ":").last.flatMap({ Int($0) }) else {
            process.terminate()
            throw ServerProcessError.didNotStart(line)
        }
        self.port = port
    }

    /// Stops the proxy.
    package func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }
}
