import Foundation

/// Runs the built `mesa` executable as a real process.
package enum MesaBinary {
    /// The `mesa` binary next to the test bundle (SwiftPM builds every product into one directory), or
    /// `MESA_BINARY` when set.
    package static var path: String {
        if let explicit = ProcessInfo.processInfo.environment["MESA_BINARY"] { return explicit }
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        return bundle.appendingPathComponent("mesa").path
    }

    /// The result of one run.
    package struct Result: Sendable {
        package var status: Int32
        package var standardOutput: String
        package var standardError: String
    }

    /// Runs `mesa` with `arguments` and waits for it.
    package static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Result {
        let result = try ProcessRunner.run(path, arguments, environment: environment)
        return Result(status: result.status, standardOutput: result.output, standardError: result.error)
    }
}
