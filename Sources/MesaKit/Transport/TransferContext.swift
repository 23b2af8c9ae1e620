import Synchronization

/// The state one transfer shares between the event-loop thread (libcurl's callbacks) and the task that reads it.
///
/// The loop thread writes the response head and body chunks in; the reading task takes them out. A `Mutex` guards
/// the state and is never held while a continuation runs or a libcurl function is called. The body buffer is bounded
/// by `maxBufferedBytes`: when it is full the write callback answers `CURL_WRITEFUNC_PAUSE` and the transfer stays
/// paused until the reader has drained it to a quarter, when the reader asks the loop to unpause it.
final class TransferContext: Sendable {
    /// Identifies the transfer in the loop's commands.
    let id: UInt64
    /// What to send.
    let request: HTTPRequest
    /// The body buffer's bound; the buffer may exceed it by at most one write-callback chunk.
    let maxBufferedBytes: Int
    private let state = Mutex(State())

    /// What the reading task waits for first.
    typealias HeadWaiter = CheckedContinuation<Result<HTTPResponseHead, KitError>, Never>
    /// What the reading task waits for next: a chunk, `nil` at the end, or the failure.
    typealias BodyWaiter = CheckedContinuation<Result<[UInt8]?, KitError>, Never>

    private struct State {
        /// Header lines of the response block being received (a `1xx` block is dropped at its end).
        var headerLines: [String] = []
        var head: HTTPResponseHead?
        var headWaiter: HeadWaiter?
        var headDelivered = false
        var chunks: [[UInt8]] = []
        var firstChunk = 0
        var bufferedBytes = 0
        var peakBufferedBytes = 0
        var pauseCount = 0
        var paused = false
        var unpauseRequested = false
        var cancelRequested = false
        var completion: Result<Void, KitError>?
        var bodyWaiter: BodyWaiter?
    }

    /// Creates the context of a transfer that has not started.
    init(id: UInt64, request: HTTPRequest, maxBufferedBytes: Int) {
        self.id = id
        self.request = request
        self.maxBufferedBytes = maxBufferedBytes
    }

    // MARK: Reader side (any task)

    /// Registers the waiter for the response head; call it before the loop starts the transfer.
    func waitForHead(_ waiter: HeadWaiter) {
        let ready: Result<HTTPResponseHead, KitError>? = state.withLock { state in
            if let head = state.head {
                state.headDelivered = true
                return .success(head)
            }
            if case .failure(let error) = state.completion { return .failure(error) }
            state.headWaiter = waiter
            return nil
        }
        if let ready { waiter.resume(returning: ready) }
    }

    /// Takes the next chunk, or registers `waiter` to get it when it arrives.
    /// - Returns: whether the loop should now be asked to unpause the transfer.
    func nextChunk(_ waiter: BodyWaiter) -> Bool {
        var unpause = false
        let ready: Result<[UInt8]?, KitError>? = state.withLock { state in
            if state.firstChunk < state.chunks.count {
                let chunk = state.chunks[state.firstChunk]
                state.firstChunk += 1
                if state.firstChunk == state.chunks.count {
                    state.chunks.removeAll(keepingCapacity: true)
                    state.firstChunk = 0
                }
                state.bufferedBytes -= chunk.count
                if state.paused, !state.unpauseRequested, state.bufferedBytes <= maxBufferedBytes / 4 {
                    state.unpauseRequested = true
                    unpause = true
                }
                return .success(chunk)
            }
            if let completion = state.completion {
                switch completion {
                case .success: return .success(nil)
                case .failure(let error): return .failure(error)
                }
            }
            if state.paused, !state.unpauseRequested {
                state.unpauseRequested = true
                unpause = true
            }
            state.bodyWaiter = waiter
            return nil
        }
        if let ready { waiter.resume(returning: ready) }
        return unpause
    }

    /// Marks the transfer as cancelled by its reader.
    /// - Returns: `false` when it had already finished, so there is nothing to cancel.
    func requestCancel() -> Bool {
        state.withLock { state in
            guard state.completion == nil else { return false }
            state.cancelRequested = true
            return true
        }
    }

    /// Whether the transfer has finished, successfully or not.
    var isFinished: Bool { state.withLock { $0.completion != nil } }

    /// The most bytes the body buffer held at once (a debug counter for back-pressure tests).
    var peakBufferedBytes: Int { state.withLock { $0.peakBufferedBytes } }

    /// How often the write callback paused the transfer because the reader lagged.
    var pauseCount: Int { state.withLock { $0.pauseCount } }

    // MARK: Loop side (the event-loop thread only)

    /// Whether the reader cancelled before the loop started the transfer.
    var wasCancelled: Bool { state.withLock { $0.cancelRequested } }

    /// Takes one header line from the header callback; at the blank line ending a final (non-`1xx`) block,
    /// delivers the head.
    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) {
        // Strip CR LF as bytes: as a `String`, "\r\n" is one `Character`, equal to neither "\r" nor "\n".
        var end = bytes.count
        while end > 0, bytes[end - 1] == UInt8(ascii: "\n") || bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let line = String(decoding: bytes[..<end], as: UTF8.self)
        let delivery: (HeadWaiter, HTTPResponseHead)? = state.withLock { state in
            guard state.head == nil else { return nil }  // trailers after a chunked body
            guard line.isEmpty else {
                state.headerLines.append(line)
                return nil
            }
            let lines = state.headerLines
            state.headerLines = []
            guard let head = Self.parseHead(lines), head.status >= 200 else { return nil }
            state.head = head
            guard let waiter = state.headWaiter else { return nil }
            state.headWaiter = nil
            state.headDelivered = true
            return (waiter, head)
        }
        if let (waiter, head) = delivery { waiter.resume(returning: .success(head)) }
    }

    /// Takes body bytes from the write callback.
    /// - Returns: `bytes.count` when taken, or `nil` when the buffer is full and the transfer must pause (the
    ///   callback then answers `CURL_WRITEFUNC_PAUSE` and libcurl delivers the same bytes again after unpausing).
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let delivery: (BodyWaiter, [UInt8])?? = state.withLock { state in
            if let waiter = state.bodyWaiter {
                state.bodyWaiter = nil
                return .some((waiter, Array(bytes)))
            }
            guard state.bufferedBytes < maxBufferedBytes else {
                state.paused = true
                state.unpauseRequested = false
                state.pauseCount += 1
                return .none
            }
            state.chunks.append(Array(bytes))
            state.bufferedBytes += bytes.count
            state.peakBufferedBytes = max(state.peakBufferedBytes, state.bufferedBytes)
            return .some(nil)
        }
        switch delivery {
        case .none: return nil
        case .some(.none): return bytes.count
        case .some(.some((let waiter, let chunk))):
            waiter.resume(returning: .success(chunk))
            return bytes.count
        }
    }

    /// Records that the loop is about to call `curl_easy_pause(CURLPAUSE_CONT)`, which resumes both directions.
    func willUnpause() {
        state.withLock { state in
            state.paused = false
            state.unpauseRequested = false
        }
        request.upload?.willResume()
    }

    /// Fills libcurl's upload buffer from the request's streamed body (the read callback's work).
    func readBody(into destination: UnsafeMutableRawBufferPointer) -> UploadBody.ReadResult {
        guard let upload = request.upload else { return .bytes(0) }
        return upload.read(into: destination)
    }

    /// Ends the transfer: wakes the head waiter (with `fallbackStatus` as the head if no header block was seen, or
    /// with the failure) and the body waiter. Later calls do nothing.
    func complete(_ result: Result<Void, KitError>, fallbackStatus: Int = 0) {
        let wake: (HeadWaiter?, Result<HTTPResponseHead, KitError>, BodyWaiter?, Result<[UInt8]?, KitError>)? =
            state.withLock { state in
                guard state.completion == nil else { return nil }
                state.completion = result
                if case .failure = result {
                    // A failed transfer's buffered bytes are never read: a reader sees the failure next.
                    state.chunks = []
                    state.firstChunk = 0
                    state.bufferedBytes = 0
                }
                var headResult: Result<HTTPResponseHead, KitError>
                switch result {
                case .success:
                    let head = state.head ?? HTTPResponseHead(status: fallbackStatus, headers: [])
                    state.head = head
                    headResult = .success(head)
                case .failure(let error):
                    headResult = .failure(error)
                }
                let headWaiter = state.headDelivered ? nil : state.headWaiter
                if headWaiter != nil { state.headDelivered = true }
                state.headWaiter = nil
                let bodyWaiter = state.bodyWaiter
                state.bodyWaiter = nil
                let bodyResult: Result<[UInt8]?, KitError> = result.map { nil }
                return (headWaiter, headResult, bodyWaiter, bodyResult)
            }
        guard let (headWaiter, headResult, bodyWaiter, bodyResult) = wake else { return }
        headWaiter?.resume(returning: headResult)
        bodyWaiter?.resume(returning: bodyResult)
    }

    /// Parses `HTTP/1.1 200 OK` and the `Name: value` lines after it.
    private static func parseHead(_ lines: [String]) -> HTTPResponseHead? {
        guard let statusLine = lines.first else { return nil }
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else { return nil }
        var fields: [HTTPField] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            let value = line[line.index(after: colon)...].trimmingSpaces()
            fields.append(HTTPField(name, value))
        }
        return HTTPResponseHead(status: status, headers: fields)
    }
}

extension Substring {
    /// The text without leading and trailing spaces and tabs.
    fileprivate func trimmingSpaces() -> String {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return String(text)
    }
}
