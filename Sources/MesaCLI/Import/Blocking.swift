import Dispatch

// Blocking work of `mesa import` (disk reads, libgit2) off Swift's cooperative pool. The records a push sends are
// read by MesaSync's `StoredRecords`.

/// Runs blocking work (disk reads, libgit2) on a dedicated serial queue, never on Swift's cooperative pool (STYLE.md
/// section 5.7).
enum Blocking {
    private static let queue = DispatchQueue(label: "mesa.cli.blocking")

    /// Runs `work` on the blocking queue and returns its result.
    static func run<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}
