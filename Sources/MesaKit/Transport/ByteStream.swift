/// A response body as it arrives: chunks of bytes in order, read with `for try await`.
///
/// The stream applies back-pressure: when the reader falls behind, the transfer pauses once a bounded buffer is
/// full (``Mesa/Configuration/maxBufferedBytesPerTransfer``) and resumes as the reader catches up, so a large body
/// never sits in memory whole. Cancelling the reading task, or dropping the stream before its end, cancels the
/// transfer.
public struct ByteStream: AsyncSequence, Sendable {
    /// Each element is a chunk of bytes.
    public typealias Element = [UInt8]
    /// Reading fails with a ``KitError``.
    public typealias Failure = KitError

    private let reader: BodyReader

    init(reader: BodyReader) {
        self.reader = reader
    }

    /// Starts reading.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(reader: reader)
    }

    /// Reads the stream to its end.
    /// - Parameter maxBytes: the most bytes to accept.
    /// - Returns: the whole body.
    /// - Throws: ``KitError/invalidArgument(_:)`` when the body is longer than `maxBytes` (the transfer is then
    ///   cancelled), or the transfer's failure.
    public func collect(upTo maxBytes: Int = .max) async throws(KitError) -> [UInt8] {
        var bytes: [UInt8] = []
        while let chunk = try await reader.next() {
            guard chunk.count <= maxBytes - bytes.count else {
                reader.cancel()
                throw .invalidArgument("the response body is longer than \(maxBytes) bytes")
            }
            bytes += chunk
        }
        return bytes
    }

    /// Cancels the transfer; a reader waiting for a chunk gets ``KitError/cancelled``.
    public func cancel() {
        reader.cancel()
    }

    /// The most bytes this stream's buffer held at once (a debug counter: back-pressure keeps it near the bound).
    package var peakBufferedBytes: Int { reader.context.peakBufferedBytes }

    /// How often the transfer paused because the reader lagged.
    package var pauseCount: Int { reader.context.pauseCount }

    /// Iterates a ``ByteStream``.
    public struct AsyncIterator: AsyncIteratorProtocol, Sendable {
        /// Each element is a chunk of bytes.
        public typealias Element = [UInt8]
        /// Reading fails with a ``KitError``.
        public typealias Failure = KitError

        let reader: BodyReader

        /// The next chunk, or `nil` at the end of the body.
        public mutating func next() async throws(KitError) -> [UInt8]? {
            try await reader.next()
        }

        /// The next chunk, or `nil` at the end of the body.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(KitError) -> [UInt8]? {
            try await reader.next()
        }
    }
}

/// The reading end of one transfer. When the last ``ByteStream`` copy lets go of it before the body ended, the
/// transfer is cancelled, so an abandoned response never holds a connection. It keeps the transport (and so the
/// event loop) alive while it exists.
final class BodyReader: Sendable {
    let context: TransferContext
    private let loop: CurlEventLoop
    /// Held only so that the loop outlives every reader (the transport's `deinit` stops it).
    private let transport: CurlTransport

    init(context: TransferContext, loop: CurlEventLoop, transport: CurlTransport) {
        self.context = context
        self.loop = loop
        self.transport = transport
    }

    /// The next chunk, or `nil` at the end; cancelling the task cancels the transfer.
    func next() async throws(KitError) -> [UInt8]? {
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: TransferContext.BodyWaiter) in
                if context.nextChunk(waiter) { loop.unpause(context) }
            }
        } onCancel: {
            cancel()
        }
        return try result.get()
    }

    /// Cancels the transfer unless it already finished.
    func cancel() {
        if context.requestCancel() { loop.cancel(context) }
    }

    deinit {
        cancel()
    }
}
