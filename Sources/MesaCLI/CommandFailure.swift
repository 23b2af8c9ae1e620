/// A command that ran and failed (the server refused, a sync timed out, a daemon did not answer): printed as
/// `Error: <message>` with exit status 1. Wrong arguments stay `ValidationError`, which adds the usage text and exits 64.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ message: String) { description = message }
}
