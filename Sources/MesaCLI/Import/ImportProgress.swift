#if canImport(Glibc)
import Glibc
#endif
import MesaCore
import MesaKit
import Synchronization

/// What `mesa import` shows while it works: stage lines and a pushing line rewritten in place, on standard error,
/// only when standard error is a terminal (quiet in scripts and tests).
final class ImportProgress: Sendable {
    /// Whether anything is shown.
    let enabled: Bool
    private let state = Mutex(State())

    private struct State {
        var lastDraw: ContinuousClock.Instant?
        var lineOpen = false
    }

    /// Shows progress when standard error is a terminal, unless `quiet`.
    init(quiet: Bool = false) {
        enabled = !quiet && isatty(STDERR_FILENO) == 1
    }

    /// A line naming what starts now.
    func stage(_ text: String) {
        guard enabled else { return }
        let open = state.withLock { state in
            defer { state.lineOpen = false }
            return state.lineOpen
        }
        Self.write((open ? "\n" : "") + text + "\n")
    }

    /// The pushing line, redrawn at most ten times a second and for the last record.
    func pushed(_ progress: PushProgress, of total: Int) {
        guard enabled else { return }
        let now = ContinuousClock.now
        let draw = state.withLock { state in
            if progress.records < total, let last = state.lastDraw, now - last < .milliseconds(100) { return false }
            state.lastDraw = now
            state.lineOpen = true
            return true
        }
        guard draw else { return }
        Self.write("\r  \(progress.records)/\(total) records, \(ByteCount(progress.bytesSent)) sent\u{1B}[K")
    }

    /// Ends a pushing line.
    func finishLine() {
        guard enabled else { return }
        let open = state.withLock { state in
            defer { state.lineOpen = false }
            return state.lineOpen
        }
        if open { Self.write("\n") }
    }

    private static func write(_ text: String) {
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { raw in
                // SAFETY: `offset < raw.count` here, so the base address is non-nil and the range is in bounds.
                Glibc.write(STDERR_FILENO, raw.baseAddress.map { $0 + offset }, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += written
        }
        bytes.removeAll()
    }
}
