import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Parallel work over the chunks of one stream, results in stream order.
//
// There is no producer thread. Each worker takes the reader's lock, cuts the next chunk, copies it out (a memcpy is
// far cheaper than what follows) and notes its index, releases the lock, then runs the transform on its copy. Cutting
// (over 2 GB/s) is serialized; the transform (SHA-256, zstd, a store append) runs on every worker at once. With one
// thread everything runs on the caller's thread. Results are put back in order from the indices handed out under the
// lock.
//
// An observer (a streaming hash of the whole content, such as a git blob id) must see chunks in stream order, but
// not under the reader's lock, where it would serialize the workers: after copying its chunk out, a worker waits for
// its turn (every earlier chunk observed), observes, and passes the turn on. A worker only ever waits for chunks
// handed out before its own, whose workers never wait for it, so the turn always advances.

/// Runs a transform over a stream's chunks on several threads.
package enum ParallelChunking {
    private struct Feed<Source: ByteSource>: ~Copyable {
        var reader: ChunkReader<Source>
        var nextIndex = 0
    }

    /// Cuts `source` into FastCDC chunks and applies `transform` to each.
    ///
    /// - Parameters:
    ///   - source: the bytes.
    ///   - threads: workers (at least 1; the caller's thread is one of them).
    ///   - observe: called with each chunk in stream order, one chunk at a time (for a streaming hash of the whole
    ///     content).
    ///   - transform: called with a chunk's stream offset and bytes (valid only during the call), on any worker.
    /// - Returns: the transform's results in stream order.
    /// - Throws: the first error of the reader or of any transform; the other workers stop at their next chunk.
    package static func map<Source: ByteSource & Sendable, Result: Sendable>(
        _ source: Source,
        threads: Int,
        observe: (@Sendable (UnsafeRawBufferPointer) -> Void)? = nil,
        transform: @escaping @Sendable (Int64, UnsafeRawBufferPointer) throws(StoreError) -> Result
    ) throws(StoreError) -> [Result] {
        let feed = Mutex(Feed(reader: ChunkReader(source: source)))
        let results = Mutex<[(index: Int, value: Result)]>([])
        let failure = Mutex<StoreError?>(nil)
        let observedUpTo = Atomic<Int>(0)

        let work: @Sendable (Int) -> Void = { _ in
            var chunk = [UInt8]()
            chunk.reserveCapacity(FastCDC.Sizes.standard.maximum)
            while failure.withLock({ $0 == nil }) {
                do throws(StoreError) {
                    let next = try feed.withLock { (feed) throws(StoreError) -> (index: Int, offset: Int64)? in
                        var chunkOffset: Int64 = 0
                        let more = try feed.reader.next { (offset, bytes) throws(StoreError) in
                            chunk.removeAll(keepingCapacity: true)
                            chunk.append(contentsOf: bytes)
                            chunkOffset = offset
                        }
                        guard more else { return nil }
                        defer { feed.nextIndex += 1 }
                        return (feed.nextIndex, chunkOffset)
                    }
                    guard let next else { return }
                    if let observe {
                        while observedUpTo.load(ordering: .acquiring) != next.index {
                            if failure.withLock({ $0 != nil }) { return }
                            sched_yield()
                        }
                        chunk.withUnsafeBytes { observe($0) }
                        observedUpTo.store(next.index + 1, ordering: .releasing)
                    }
                    let value = try chunk.withBytes { (bytes) throws(StoreError) in try transform(next.offset, bytes) }
                    results.withLock { $0.append((next.index, value)) }
                } catch {
                    failure.withLock { $0 = $0 ?? error }
                    return
                }
            }
        }
        if threads <= 1 {
            work(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: threads, execute: work)
        }
        if let error = failure.withLock({ $0 }) { throw error }
        return results.withLock { $0.sorted { $0.index < $1.index }.map(\.value) }
    }
}
