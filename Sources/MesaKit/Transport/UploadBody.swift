import CCurl
import Synchronization

/// A request body produced while it is sent: a task writes bytes in, libcurl's read callback takes them out on the
/// event-loop thread.
///
/// The buffer is bounded. A writer finding it full waits until libcurl has drained it to half, so memory stays
/// near ``capacity`` (plus the one write that crossed it) however large the body is. When libcurl asks for bytes
/// and none are buffered, the read callback answers `CURL_READFUNC_PAUSE`; the next write sees the pause and asks
/// the loop (through its inbox and `curl_multi_wakeup`) to resume the transfer, which is the write-side
/// back-pressure of ``TransferContext`` mirrored. ``finish()`` ends the body (libcurl then sends the last chunk);
/// ``close(_:)`` abandons an unfinished body, waking a waiting writer with the reason and making the read callback
/// abort the transfer at its next call.
///
/// The same body may serve a second attempt of a request as long as libcurl has taken no byte of it
/// (``bytesTaken`` is 0): nothing left the buffer, so nothing is lost.
package final class UploadBody: Sendable {
    /// The buffer's bound in bytes.
    package let capacity: Int
    private let state = Mutex(State())

    private typealias Writer = CheckedContinuation<Result<Void, KitError>, Never>

    private struct State {
        var chunks: [[UInt8]] = []
        var firstChunk = 0
        var offsetInFirst = 0
        var buffered = 0
        var peakBuffered = 0
        var finished = false
        var closed: KitError?
        var readerPaused = false
        var resumeRequested = false
        var readPauses = 0
        var writerWaits = 0
        var bytesTaken: Int64 = 0
        var writer: Writer?
        var resume: (@Sendable () -> Void)?
    }

    /// What the read callback does next.
    enum ReadResult: Equatable {
        /// Copied this many bytes (0 ends the body).
        case bytes(Int)
        /// Nothing buffered yet: pause the upload until a write resumes it.
        case pause
        /// The body was abandoned: fail the transfer.
        case abort
    }

    /// Creates an empty body whose buffer holds about `capacity` bytes.
    package init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    // MARK: Writer side (one task)

    /// Appends bytes, waiting while the buffer is full.
    /// - Throws: the reason given to ``close(_:)`` once the body is abandoned (the transfer ended or failed), or
    ///   ``KitError/cancelled`` when the writing task is cancelled.
    package func write(_ bytes: [UInt8]) async throws(KitError) {
        guard !bytes.isEmpty else { return }
        while true {
            let outcome: (appended: Bool, resume: (@Sendable () -> Void)?) = try state.withLock {
                (state) throws(KitError) in
                if let reason = state.closed { throw reason }
                guard state.buffered < capacity else { return (false, nil) }
                state.chunks.append(bytes)
                state.buffered += bytes.count
                state.peakBuffered = max(state.peakBuffered, state.buffered)
                guard state.readerPaused, !state.resumeRequested else { return (true, nil) }
                state.resumeRequested = true
                return (true, state.resume)
            }
            if outcome.appended {
                outcome.resume?()
                return
            }
            try await waitForRoom()
        }
    }

    private func waitForRoom() async throws(KitError) {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (writer: Writer) in
                let ready: Result<Void, KitError>? = state.withLock { state in
                    if let reason = state.closed { return .failure(reason) }
                    if state.buffered < capacity { return .success(()) }
                    state.writerWaits += 1
                    state.writer = writer
                    return nil
                }
                if let ready { writer.resume(returning: ready) }
            }
        } onCancel: {
            close(.cancelled)
        }
        try result.get()
    }

    /// Ends the body: once libcurl has taken every buffered byte, the read callback reports the end.
    package func finish() {
        let resume: (@Sendable () -> Void)? = state.withLock { state in
            guard state.closed == nil, !state.finished else { return nil }
            state.finished = true
            guard state.readerPaused, !state.resumeRequested else { return nil }
            state.resumeRequested = true
            return state.resume
        }
        resume?()
    }

    /// Abandons the body: a waiting or later write throws `reason`, and a read callback that still wants bytes
    /// aborts the transfer. Does nothing to a body already closed; a finished body keeps its bytes for libcurl.
    package func close(_ reason: KitError) {
        let (writer, resume): (Writer?, (@Sendable () -> Void)?) = state.withLock { state in
            guard state.closed == nil else { return (nil, nil) }
            state.closed = reason
            let writer = state.writer
            state.writer = nil
            let resume = state.readerPaused && !state.resumeRequested && !state.finished ? state.resume : nil
            if resume != nil { state.resumeRequested = true }
            return (writer, resume)
        }
        writer?.resume(returning: .failure(reason))
        resume?()
    }

    /// Bytes libcurl has taken from the buffer (sent, or about to be).
    package var bytesTaken: Int64 { state.withLock { $0.bytesTaken } }

    /// The most bytes the buffer held at once (a debug counter for back-pressure tests).
    package var peakBufferedBytes: Int { state.withLock { $0.peakBuffered } }

    /// How often the read callback paused the upload because the writer lagged (a debug counter).
    package var readPauses: Int { state.withLock { $0.readPauses } }

    /// How often a write waited because the buffer was full (a debug counter).
    package var writerWaits: Int { state.withLock { $0.writerWaits } }

    // MARK: Loop side (the event-loop thread only)

    /// Sets how a write resumes a paused transfer (asking the loop to unpause it); each attempt sets its own.
    func attach(resume: @escaping @Sendable () -> Void) {
        state.withLock { state in
            state.resume = resume
            state.readerPaused = false
            state.resumeRequested = false
        }
    }

    /// Records that the loop is about to unpause the transfer, before `curl_easy_pause` may call the read callback.
    func willResume() {
        state.withLock { state in
            state.readerPaused = false
            state.resumeRequested = false
        }
    }

    /// The read callback's work: copies buffered bytes into libcurl's buffer.
    func read(into destination: UnsafeMutableRawBufferPointer) -> ReadResult {
        let (result, writer): (ReadResult, Writer?) = state.withLock { state in
            if state.closed != nil, !state.finished { return (.abort, nil) }
            if state.buffered == 0 {
                if state.finished { return (.bytes(0), nil) }
                state.readerPaused = true
                state.resumeRequested = false
                state.readPauses += 1
                return (.pause, nil)
            }
            var copied = 0
            while copied < destination.count, state.firstChunk < state.chunks.count {
                let chunk = state.chunks[state.firstChunk]
                let count = min(destination.count - copied, chunk.count - state.offsetInFirst)
                chunk.withUnsafeBytes { source in
                    // SAFETY: `count` bytes fit both ranges by the `min` above; both buffers outlive this call.
                    let from = UnsafeRawBufferPointer(rebasing: source[state.offsetInFirst..<(state.offsetInFirst + count)])
                    UnsafeMutableRawBufferPointer(rebasing: destination[copied..<(copied + count)]).copyMemory(from: from)
                }
                copied += count
                state.offsetInFirst += count
                if state.offsetInFirst == chunk.count {
                    state.firstChunk += 1
                    state.offsetInFirst = 0
                }
            }
            if state.firstChunk == state.chunks.count {
                state.chunks.removeAll(keepingCapacity: true)
                state.firstChunk = 0
            } else if state.firstChunk > 64 {
                state.chunks.removeFirst(state.firstChunk)
                state.firstChunk = 0
            }
            state.buffered -= copied
            state.bytesTaken += Int64(copied)
            var writer: Writer?
            if state.buffered <= capacity / 2, let waiting = state.writer {
                writer = waiting
                state.writer = nil
            }
            return (.bytes(copied), writer)
        }
        writer?.resume(returning: .success(()))
        return result
    }
}
