import Synchronization

/// HTTP over libcurl: sends a ``HTTPRequest`` on the event loop and answers when the response head arrives, with
/// the body streaming behind it.
///
/// The owner of one ``CurlEventLoop``: when the transport and every response stream it returned are gone, the loop
/// thread stops. The loop starts on the first request, so a client that only mints tokens never starts a thread.
package final class CurlTransport: Sendable {
    /// The transport's limits and timeouts.
    package let configuration: TransportConfiguration
    private let state = Mutex<Result<CurlEventLoop, CurlError>?>(nil)
    private let nextID = Atomic<UInt64>(1)

    /// Creates a transport; nothing starts until the first request.
    package init(configuration: TransportConfiguration = .default) {
        self.configuration = configuration
    }

    deinit {
        if case .success(let loop) = state.withLock({ $0 }) { loop.shutdown() }
    }

    /// The event loop, started on first use.
    var loop: CurlEventLoop {
        get throws(CurlError) {
            try state.withLock { state throws(CurlError) in
                if let existing = state { return try existing.get() }
                let created: Result<CurlEventLoop, CurlError>
                do throws(CurlError) {
                    created = .success(try CurlEventLoop(configuration: configuration))
                } catch {
                    created = .failure(error)
                }
                state = created
                return try created.get()
            }
        }
    }

    /// Transfers running on this transport's loop (a debug counter for tests).
    package var activeTransferCount: Int {
        guard case .success(let loop) = state.withLock({ $0 }) else { return 0 }
        return loop.activeTransferCount
    }

    /// Sends a request and waits for the head of its final response.
    ///
    /// Cancelling the calling task cancels the transfer. The returned body must be read or dropped: it holds the
    /// connection until then (dropping it cancels the transfer).
    /// - Throws: ``KitError/transport(function:code:message:)`` when libcurl fails (connect, send, receive,
    ///   timeouts), ``KitError/cancelled`` when cancelled.
    package func send(_ request: HTTPRequest) async throws(KitError) -> HTTPResponse {
        let loop: CurlEventLoop
        do throws(CurlError) {
            loop = try self.loop
        } catch {
            throw KitError(error)
        }
        let context = TransferContext(
            id: nextID.add(1, ordering: .relaxed).newValue,
            request: request,
            maxBufferedBytes: configuration.maxBufferedBytesPerTransfer
        )
        let reader = BodyReader(context: context, loop: loop, transport: self)
        request.upload?.attach { [weak context] in
            if let context { loop.unpause(context) }
        }
        let head = await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: TransferContext.HeadWaiter) in
                context.waitForHead(waiter)
                loop.start(context)
            }
        } onCancel: {
            reader.cancel()
        }
        return HTTPResponse(head: try head.get(), body: ByteStream(reader: reader))
    }
}
