import NIOPosix

/// Threads for blocking work (store reads, decompression, libgit2): Swift's cooperative pool must never block
/// (STYLE.md section 5.7), and this machine's cooperative pool has only as many threads as cores.
///
/// A thin owner of a `NIOThreadPool` that keeps MesaSync's typed errors. A pool that is created must be shut down
/// with ``shutdown()``; ``shared`` lives for the whole process.
package final class BlockingPool: Sendable {
    private let pool: NIOThreadPool
    /// The number of threads.
    package let threads: Int

    /// Starts a pool of `threads` threads.
    package init(threads: Int) {
        self.threads = max(1, threads)
        pool = NIOThreadPool(numberOfThreads: self.threads)
        pool.start()
    }

    /// A process-wide pool of eight threads (enough to keep two cores busy while some threads wait on disk).
    package static let shared = BlockingPool(threads: 8)

    /// Runs `body` on a pool thread and returns its result.
    /// - Throws: what `body` throws; ``SyncError/cancelled`` when the task was cancelled before the work started;
    ///   ``SyncError/shutDown`` when the pool was shut down.
    package func run<T: Sendable>(_ body: @escaping @Sendable () throws(SyncError) -> T) async throws(SyncError) -> T {
        let result: Result<T, SyncError>
        do {
            result = try await pool.runIfActive { () -> Result<T, SyncError> in
                do throws(SyncError) {
                    return .success(try body())
                } catch {
                    return .failure(error)
                }
            }
        } catch is CancellationError {
            throw .cancelled
        } catch {
            throw .shutDown
        }
        return try result.get()
    }

    /// Stops the threads once queued work is done.
    package func shutdown() async {
        try? await pool.shutdownGracefully()
    }
}
