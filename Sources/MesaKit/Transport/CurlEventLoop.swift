// The libcurl event loop: one thread, one multi handle, every transfer an easy handle (STYLE.md section 5.13).
//
// Threads. `CurlEventLoop` starts one dedicated thread (named `mesa.kit.curl`) that alone touches the multi handle
// and every easy handle: it creates, configures, adds, pauses, unpauses, removes and frees them, and runs libcurl's
// write and header callbacks inside `curl_multi_perform` and `curl_easy_pause`. Other threads (Swift tasks) never
// call libcurl; they append a command (start, cancel, unpause, shutdown) to a `Mutex`-guarded inbox and call
// `curl_multi_wakeup`, the one multi function libcurl allows from any thread. The thread sleeps in
// `curl_multi_poll` (sockets plus libcurl's own timers, at most one second) and, when woken, drains the inbox, runs
// `curl_multi_perform`, and finishes the transfers `curl_multi_info_read` reports done. No thread blocks per
// transfer: hundreds of transfers share this one thread, and connections stay in the multi handle's cache
// (`CURLMOPT_MAXCONNECTS`) for reuse by later easy handles; `CURLMOPT_MAX_HOST_CONNECTIONS` bounds parallel
// connections per host, queueing the rest inside libcurl.
//
// Lifetimes. The loop thread holds the loop strongly until it exits. A transfer's `TransferContext` is held by the
// loop's table from `start` until `curl_multi_remove_handle`, which is what makes the `passUnretained` callback
// pointer safe; the reader's `BodyReader` holds the same context and the `CurlTransport`, whose `deinit` shuts the
// loop down only after the last response stream is gone. Shutdown removes every handle, fails their readers with
// `cancelled`, and lets the thread exit; `curl_multi_cleanup` runs when the last reference to the loop goes.
//
// Streamed uploads. A request with an `UploadBody` is sent chunked: the read callback copies bytes a task wrote into
// the body's bounded buffer, answers `CURL_READFUNC_PAUSE` when none are ready, and the task's next write sends
// `unpause` (the same command the reader uses, since `CURLPAUSE_CONT` resumes both directions; a direction with
// nothing to do pauses itself again in its callback). A full buffer makes the writing task wait, so a slow server
// slows the producer through TCP flow control.
//
// Back-pressure. The write callback copies bytes into the transfer's bounded buffer. When the buffer is full it
// answers `CURL_WRITEFUNC_PAUSE`: libcurl keeps that piece and stops reading the socket, so TCP flow control slows
// the server. When the reader drains the buffer to a quarter it sends `unpause`, and the loop calls
// `curl_easy_pause(CURLPAUSE_CONT)`, which redelivers the kept piece. Memory per transfer is bounded by the buffer
// plus one piece. Cancellation (a cancelled task, a dropped stream) sends `cancel`; the loop removes the handle,
// which closes its connection, and the reader gets `KitError.cancelled`.
import CCurl
import Foundation
import Logging
import Synchronization

/// One thread running libcurl's multi interface for every transfer of a ``CurlTransport``.
///
/// The design (threads, lifetimes, back-pressure) is the comment at the top of this file.
package final class CurlEventLoop: Sendable {
    private let multi: MultiHandle
    private let configuration: TransportConfiguration
    private let inbox = Mutex(Inbox())
    private let activeTransfers = Atomic<Int>(0)
    private let logger = Logger(label: "mesa.kit")

    private enum Command: Sendable {
        case start(TransferContext)
        case cancel(UInt64)
        case unpause(UInt64)
        case shutdown
    }

    private struct Inbox {
        var commands: [Command] = []
        var stopped = false
    }

    /// Creates the multi handle and starts the loop thread.
    init(configuration: TransportConfiguration) throws(CurlError) {
        try CurlRuntime.initialize()
        self.configuration = configuration
        multi = try MultiHandle(configuration: configuration)
        let thread = Thread { [self] in run() }
        thread.name = "mesa.kit.curl"
        thread.start()
    }

    /// Transfers started and not yet finished (a debug counter for tests).
    package var activeTransferCount: Int { activeTransfers.load(ordering: .acquiring) }

    /// Starts a transfer; its context learns the head, the body and the end.
    func start(_ context: TransferContext) {
        send(.start(context), orFail: context)
    }

    /// Cancels a transfer; its reader gets ``KitError/cancelled``.
    func cancel(_ context: TransferContext) {
        send(.cancel(context.id), orFail: nil)
    }

    /// Resumes a transfer paused for back-pressure.
    func unpause(_ context: TransferContext) {
        send(.unpause(context.id), orFail: nil)
    }

    /// Stops the loop: every running transfer fails with ``KitError/cancelled``, later ones at once.
    func shutdown() {
        send(.shutdown, orFail: nil)
    }

    private func send(_ command: Command, orFail context: TransferContext?) {
        let accepted = inbox.withLock { inbox in
            guard !inbox.stopped else { return false }
            inbox.commands.append(command)
            if case .shutdown = command { inbox.stopped = true }
            return true
        }
        if accepted {
            multi.wakeup()
        } else {
            context?.complete(.failure(.cancelled))
        }
    }

    // MARK: The loop thread

    /// Transfers in the multi handle, by id and by easy handle. Touched only on the loop thread.
    private final class Table {
        var byID: [UInt64: (easy: EasyHandle, context: TransferContext)] = [:]
        var idByHandle: [UnsafeMutableRawPointer: UInt64] = [:]
    }

    private func run() {
        let table = Table()
        var running = true
        while running {
            let commands = inbox.withLock { inbox in
                defer { inbox.commands = [] }
                return inbox.commands
            }
            for command in commands {
                switch command {
                case .start(let context): add(context, to: table)
                case .cancel(let id): finish(id, in: table, with: .failure(.cancelled))
                case .unpause(let id): resume(id, in: table)
                case .shutdown: running = false
                }
            }
            guard running else { break }
            var stillRunning: Int32 = 0
            let performCode = curl_multi_perform(multi.raw, &stillRunning)
            do throws(CurlError) {
                try CurlError.check(performCode, operation: "curl_multi_perform")
            } catch {
                logger.error("libcurl multi perform failed", metadata: ["curl.error": "\(error)"])
            }
            collectFinished(table)
            let pollCode = curl_multi_poll(multi.raw, nil, 0, 1000, nil)
            do throws(CurlError) {
                try CurlError.check(pollCode, operation: "curl_multi_poll")
            } catch {
                logger.error("libcurl multi poll failed", metadata: ["curl.error": "\(error)"])
                usleep(10_000)  // never spin on a persistent failure
            }
        }
        for id in Array(table.byID.keys) { finish(id, in: table, with: .failure(.cancelled)) }
    }

    private func add(_ context: TransferContext, to table: Table) {
        guard !context.wasCancelled else {
            context.complete(.failure(.cancelled))
            return
        }
        let easy: EasyHandle
        do throws(CurlError) {
            easy = try EasyHandle()
            try configure(easy, for: context)
            let code = curl_multi_add_handle(multi.raw, easy.raw)
            try CurlError.check(code, operation: "curl_multi_add_handle")
        } catch {
            context.complete(.failure(KitError(error)))
            return
        }
        table.byID[context.id] = (easy, context)
        table.idByHandle[easy.raw] = context.id
        activeTransfers.add(1, ordering: .releasing)
    }

    private func configure(_ easy: EasyHandle, for context: TransferContext) throws(CurlError) {
        let request = context.request
        try easy.set(CURLOPT_URL, request.url, name: "CURLOPT_URL")
        try easy.set(CURLOPT_PROTOCOLS_STR, "http,https", name: "CURLOPT_PROTOCOLS_STR")
        try easy.set(CURLOPT_NOSIGNAL, 1, name: "CURLOPT_NOSIGNAL")
        try easy.set(CURLOPT_TCP_KEEPALIVE, 1, name: "CURLOPT_TCP_KEEPALIVE")
        try easy.set(CURLOPT_BUFFERSIZE, 64 << 10, name: "CURLOPT_BUFFERSIZE")
        try easy.set(CURLOPT_USERAGENT, configuration.userAgent, name: "CURLOPT_USERAGENT")
        try easy.set(
            CURLOPT_CONNECTTIMEOUT_MS,
            configuration.connectTimeout.wholeMilliseconds,
            name: "CURLOPT_CONNECTTIMEOUT_MS"
        )
        try easy.set(CURLOPT_LOW_SPEED_LIMIT, configuration.lowSpeedLimit, name: "CURLOPT_LOW_SPEED_LIMIT")
        try easy.set(
            CURLOPT_LOW_SPEED_TIME,
            max(1, configuration.lowSpeedTime.wholeMilliseconds / 1000),
            name: "CURLOPT_LOW_SPEED_TIME"
        )
        if let timeout = request.timeout {
            try easy.set(CURLOPT_TIMEOUT_MS, max(1, timeout.wholeMilliseconds), name: "CURLOPT_TIMEOUT_MS")
        }
        switch request.method {
        case .get:
            try easy.set(CURLOPT_HTTPGET, 1, name: "CURLOPT_HTTPGET")
        case .head:
            try easy.set(CURLOPT_NOBODY, 1, name: "CURLOPT_NOBODY")
        case .post where request.upload != nil:
            // No size is set: with the read callback installed below, libcurl sends the body chunked. A fresh
            // connection, because on a reused one that turns out dead libcurl retries by rewinding the body, which
            // a body produced while it is sent cannot do (CURLE_SEND_FAIL_REWIND).
            try easy.set(CURLOPT_POST, 1, name: "CURLOPT_POST")
            try easy.set(CURLOPT_FRESH_CONNECT, 1, name: "CURLOPT_FRESH_CONNECT")
        case .post:
            try easy.set(CURLOPT_POST, 1, name: "CURLOPT_POST")
            try easy.setBody(request.body ?? [])
        case .put, .patch:
            try easy.setBody(request.body ?? [])
            try easy.set(CURLOPT_CUSTOMREQUEST, request.method.rawValue, name: "CURLOPT_CUSTOMREQUEST")
        case .delete:
            if let body = request.body { try easy.setBody(body) }
            try easy.set(CURLOPT_CUSTOMREQUEST, request.method.rawValue, name: "CURLOPT_CUSTOMREQUEST")
        }
        // An empty `Expect:` stops libcurl from waiting for `100 Continue` before sending a larger body.
        var lines = request.headers.map { "\($0.name): \($0.value)" } + ["Expect:"]
        if request.upload != nil { lines.append("Transfer-Encoding: chunked") }
        try easy.setHeaders(lines)
        try easy.setCallbacks(context: context)
    }

    private func resume(_ id: UInt64, in table: Table) {
        guard let (easy, context) = table.byID[id] else { return }
        context.willUnpause()
        let code = curl_easy_pause(easy.raw, CURLPAUSE_CONT)
        do throws(CurlError) {
            try CurlError.check(code, operation: "curl_easy_pause(CURLPAUSE_CONT)")
        } catch {
            finish(id, in: table, with: .failure(KitError(error)))
        }
    }

    private func collectFinished(_ table: Table) {
        var queued: Int32 = 0
        while let message = curl_multi_info_read(multi.raw, &queued) {
            // Copy the message's fields first: removing the handle invalidates it.
            guard message.pointee.msg == CURLMSG_DONE, let handle = message.pointee.easy_handle else { continue }
            let code = message.pointee.data.result
            guard let id = table.idByHandle[handle], let (easy, _) = table.byID[id] else { continue }
            do throws(CurlError) {
                try CurlError.check(code, operation: "curl_multi_perform")
                let status = try easy.info(CURLINFO_RESPONSE_CODE, name: "CURLINFO_RESPONSE_CODE")
                finish(id, in: table, with: .success(()), fallbackStatus: status)
            } catch {
                var failure = error
                if let detail = easy.errorMessage { failure.message = detail }
                finish(id, in: table, with: .failure(KitError(failure)))
            }
        }
    }

    /// Removes a transfer from the multi handle and tells its reader how it ended.
    private func finish(
        _ id: UInt64,
        in table: Table,
        with result: Result<Void, KitError>,
        fallbackStatus: Int = 0
    ) {
        guard let (easy, context) = table.byID.removeValue(forKey: id) else { return }
        table.idByHandle[easy.raw] = nil
        let code = curl_multi_remove_handle(multi.raw, easy.raw)
        do throws(CurlError) {
            try CurlError.check(code, operation: "curl_multi_remove_handle")
        } catch {
            logger.error("libcurl could not remove a transfer", metadata: ["curl.error": "\(error)"])
        }
        activeTransfers.subtract(1, ordering: .releasing)
        context.complete(result, fallbackStatus: fallbackStatus)
        if case .failure(let error) = result, error != .cancelled {
            logger.debug("transfer failed", metadata: ["http.url": "\(context.request.url)", "kit.error": "\(error)"])
        }
    }
}

extension Duration {
    /// The duration in whole milliseconds, rounded down (libcurl's `_MS` options).
    var wholeMilliseconds: Int {
        let (seconds, attoseconds) = components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
