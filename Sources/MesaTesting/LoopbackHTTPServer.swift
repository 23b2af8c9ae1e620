// A small HTTP/1.1 server on 127.0.0.1 for client tests (MesaKit's transport and REST resources).
//
// One thread accepts; each accepted connection gets its own thread that reads requests one after another
// (keep-alive), calls the handler, and writes the response with `Content-Length`, or chunked when the handler
// streams. The server records every request and counts accepted connections, and can be told to delay each
// response, to answer the next N requests with a 5xx, or to drop the next N connections after reading the request.
// Only the thread that owns a socket closes it; `stop()` wakes blocked threads with `shutdown(2)`.
// Request bodies carry `Content-Length` (libcurl sends one for in-memory bodies) or are chunked (streamed uploads).
import Dispatch
import Foundation
import Glibc
import MesaCore
import Synchronization
import SystemPackage

/// An HTTP/1.1 test server on `127.0.0.1`, with a handler closure and fault injection.
package final class LoopbackHTTPServer: Sendable {
    /// A request as the server received it.
    package struct Request: Sendable {
        /// `GET`, `POST`, ...
        package var method: String
        /// The path exactly as sent, still percent-encoded, without the query.
        package var rawPath: String
        /// The query exactly as sent, without `?` (empty when none).
        package var rawQuery: String
        /// Header fields in arrival order.
        package var headers: [Header]
        /// The body.
        package var body: [UInt8]

        /// The first header named `name`, compared case-insensitively.
        package func header(_ name: String) -> String? {
            let wanted = name.lowercased()
            return headers.first { $0.name.lowercased() == wanted }?.value
        }

        /// The path split on `/`, then each segment percent-decoded (how Mesa servers read paths).
        package var pathSegments: [String] {
            rawPath.split(separator: "/", omittingEmptySubsequences: true).map { LoopbackHTTPServer.percentDecode($0) }
        }

        /// The query items, percent-decoded.
        package var queryItems: [String: String] {
            var items: [String: String] = [:]
            for pair in rawQuery.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                items[LoopbackHTTPServer.percentDecode(parts[0])] =
                    parts.count > 1 ? LoopbackHTTPServer.percentDecode(parts[1]) : ""
            }
            return items
        }
    }

    /// One header field.
    package struct Header: Sendable, Equatable {
        /// The name as sent.
        package var name: String
        /// The value, trimmed.
        package var value: String

        /// Creates a field.
        package init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    /// A response for the handler to return.
    package struct Response: Sendable {
        /// The status code.
        package var status: Int
        /// Header fields besides `Content-Length`, `Transfer-Encoding` and `Connection`.
        package var headers: [Header]
        /// The body.
        package var body: Body

        /// How the body is sent.
        package enum Body: Sendable {
            /// With `Content-Length`.
            case bytes([UInt8])
            /// With `Transfer-Encoding: chunked`; the closure writes chunks until it returns.
            case chunked(@Sendable (ChunkWriter) throws -> Void)
        }

        /// Creates a response.
        package init(status: Int, headers: [Header] = [], body: Body = .bytes([])) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        /// A JSON response with the given text.
        package static func json(_ status: Int, _ text: String) -> Response {
            Response(
                status: status,
                headers: [Header("Content-Type", "application/json")],
                body: .bytes(Array(text.utf8))
            )
        }

        /// A Mesa error body, `{"error": {"code": ..., "message": ...}}`.
        package static func error(_ status: Int, code: String, message: String) -> Response {
            json(status, #"{"error":{"code":"\#(code)","message":"\#(message)"}}"#)
        }
    }

    /// Writes the chunks of a chunked response.
    package struct ChunkWriter: Sendable {
        fileprivate let socket: Int32

        /// Sends one chunk; an empty one is skipped (it would end the body).
        /// - Throws: `Errno` when the client has gone.
        package func write(_ bytes: [UInt8]) throws {
            guard !bytes.isEmpty else { return }
            try LoopbackHTTPServer.sendAll(
                socket,
                Array(String(bytes.count, radix: 16).utf8) + [13, 10] + bytes + [13, 10]
            )
        }
    }

    /// Answers a request.
    package typealias Handler = @Sendable (Request) -> Response

    /// The bound port.
    package let port: Int
    private let core: Core

    /// Starts a server.
    /// - Parameters:
    ///   - port: a fixed port, or 0 for any free one.
    ///   - handler: answers every request not failed or dropped by injection.
    package init(port: Int = 0, handler: @escaping Handler) throws {
        let socket = try valueOrErrno { Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
        var yes: Int32 = 1
        _ = setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
        do {
            _ = try withUnsafePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    try valueOrErrno { bind(socket, raw, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            _ = try valueOrErrno { listen(socket, 256) }
            var bound = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = try withUnsafeMutablePointer(to: &bound) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    try valueOrErrno { getsockname(socket, raw, &length) }
                }
            }
            self.port = Int(UInt16(bigEndian: bound.sin_port))
        } catch {
            close(socket)
            throw error
        }
        core = Core(listener: socket, handler: handler)
        let core = core
        let thread = Thread { core.acceptLoop() }
        thread.name = "loopback-http-accept"
        thread.start()
    }

    deinit {
        core.stop()
    }

    /// `http://127.0.0.1:<port>`.
    package var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Every request received so far, in order, including failed and dropped ones.
    package var requests: [Request] { core.state.withLock { $0.requests } }

    /// How many requests were received.
    package var requestCount: Int { core.state.withLock { $0.requests.count } }

    /// How many connections were accepted.
    package var acceptedConnections: Int { core.state.withLock { $0.acceptedConnections } }

    /// How many connections have ended (closed by either side).
    package var closedConnections: Int { core.state.withLock { $0.closedConnections } }

    /// The most requests the server was handling at the same time (read, not yet answered).
    package var peakConcurrentRequests: Int { core.state.withLock { $0.peakInFlight } }

    /// The time from the first request's arrival to the last response's end, as the server measured it (on its own
    /// threads, so a busy Swift concurrency pool in the test process does not stretch it).
    package var busySpan: Duration? {
        core.state.withLock { state in
            guard let first = state.firstRequestAt, let last = state.lastResponseAt else { return nil }
            return last - first
        }
    }

    /// Delays every response by `delay` from now on.
    package func setDelay(_ delay: Duration) {
        core.state.withLock { $0.delay = delay }
    }

    /// Answers the next `count` requests with `status` and a Mesa error body, ignoring the handler.
    package func failNext(_ count: Int, status: Int = 503) {
        core.state.withLock {
            $0.failuresLeft = count
            $0.failureStatus = status
        }
    }

    /// Closes the next `count` connections after reading a request, without answering.
    package func dropNext(_ count: Int) {
        core.state.withLock { $0.dropsLeft = count }
    }

    /// Stops accepting and closes every connection; returns once the listening socket is closed, so the port
    /// refuses connections from then on.
    package func stop() {
        core.stop()
    }

    // MARK: The threads

    fileprivate struct State {
        var requests: [Request] = []
        var acceptedConnections = 0
        var closedConnections = 0
        var delay: Duration = .zero
        var failuresLeft = 0
        var failureStatus = 503
        var dropsLeft = 0
        var stopped = false
        var openSockets: Set<Int32> = []
        /// Whether the accept loop has closed the listening socket.
        var listenerIsClosed = false
        var inFlight = 0
        var peakInFlight = 0
        var firstRequestAt: ContinuousClock.Instant?
        var lastResponseAt: ContinuousClock.Instant?
    }

    fileprivate final class Core: Sendable {
        let listener: Int32
        let handler: Handler
        let state = Mutex(State())
        /// Signalled by the accept thread once it has closed the listening socket.
        let listenerClosed = DispatchSemaphore(value: 0)

        init(listener: Int32, handler: @escaping Handler) {
            self.listener = listener
            self.handler = handler
        }

        func stop() {
            // Connections are shut down under the lock: a connection thread removes its socket from the set (under
            // the lock) before closing it, so no descriptor shut down here can have been closed and reused meanwhile
            // (shutting down a reused number once broke another client's libcurl wakeup socket in the same process).
            let first = state.withLock { state in
                defer { state.stopped = true }
                for socket in state.openSockets { Glibc.shutdown(socket, Int32(SHUT_RDWR)) }
                // Likewise the listener, unless the accept loop already closed it.
                if !state.stopped, !state.listenerIsClosed { Glibc.shutdown(listener, Int32(SHUT_RDWR)) }
                return !state.stopped
            }
            guard first else { return }
            _ = listenerClosed.wait(timeout: .now() + 5)
        }

        func acceptLoop() {
            defer {
                state.withLock { state in
                    state.listenerIsClosed = true
                    close(listener)
                }
                listenerClosed.signal()
            }
            while true {
                let connection = accept(listener, nil, nil)
                if connection < 0 {
                    if errno == EINTR, !state.withLock({ $0.stopped }) { continue }
                    return
                }
                let accepted = state.withLock { state in
                    guard !state.stopped else { return false }
                    state.acceptedConnections += 1
                    state.openSockets.insert(connection)
                    return true
                }
                guard accepted else {
                    close(connection)
                    return
                }
                let thread = Thread { [self] in serve(connection) }
                thread.name = "loopback-http-connection"
                thread.start()
            }
        }

        private enum Action {
            case respond(Response)
            case drop
        }

        private func serve(_ socket: Int32) {
            defer {
                state.withLock { state in
                    state.openSockets.remove(socket)
                    state.closedConnections += 1
                }
                close(socket)
            }
            var buffer: [UInt8] = []
            while let request = readRequest(socket, &buffer) {
                let (action, delay) = state.withLock { state -> (Action?, Duration) in
                    state.requests.append(request)
                    state.firstRequestAt = state.firstRequestAt ?? .now
                    state.inFlight += 1
                    state.peakInFlight = max(state.peakInFlight, state.inFlight)
                    if state.dropsLeft > 0 {
                        state.dropsLeft -= 1
                        return (.drop, .zero)
                    }
                    if state.failuresLeft > 0 {
                        state.failuresLeft -= 1
                        let failure = Response.error(state.failureStatus, code: "INTERNAL", message: "injected failure")
                        return (.respond(failure), state.delay)
                    }
                    return (nil, state.delay)
                }
                if delay > .zero {
                    Thread.sleep(
                        forTimeInterval: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18
                    )
                }
                let response: Response
                switch action {
                case .drop:
                    finishRequest()
                    return
                case .respond(let injected): response = injected
                case nil: response = handler(request)
                }
                let keepAlive = request.header("Connection")?.lowercased() != "close"
                defer { finishRequest() }
                do {
                    try write(response, to: socket, keepAlive: keepAlive)
                } catch {
                    return
                }
                if !keepAlive { return }
            }
        }

        private func finishRequest() {
            state.withLock { state in
                state.inFlight -= 1
                state.lastResponseAt = .now
            }
        }

        /// Reads one request from `buffer` plus the socket; `nil` at the end of the connection or on a bad request.
        private func readRequest(_ socket: Int32, _ buffer: inout [UInt8]) -> Request? {
            var headerEnd: Int?
            while true {
                if let end = LoopbackHTTPServer.find([13, 10, 13, 10], in: buffer) {
                    headerEnd = end
                    break
                }
                guard receive(socket, into: &buffer) else { return nil }
            }
            guard let headerEnd else { return nil }
            let headText = String(decoding: buffer[..<headerEnd], as: UTF8.self)
            var lines = headText.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ")
            guard requestLine.count == 3 else { return nil }
            var headers: [Header] = []
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers.append(
                    Header(
                        String(line[..<colon]),
                        line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    )
                )
            }
            let bodyStart = headerEnd + 4
            let body: [UInt8]
            if headers.contains(where: {
                $0.name.lowercased() == "transfer-encoding" && $0.value.lowercased().contains("chunked")
            }) {
                buffer.removeFirst(bodyStart)
                guard let chunked = readChunkedBody(socket, &buffer) else { return nil }
                body = chunked
            } else {
                let length =
                    Int(headers.first { $0.name.lowercased() == "content-length" }?.value ?? "0") ?? 0
                while buffer.count < bodyStart + length {
                    guard receive(socket, into: &buffer) else { return nil }
                }
                body = Array(buffer[bodyStart..<(bodyStart + length)])
                buffer.removeFirst(bodyStart + length)
            }
            let target = String(requestLine[1])
            let question = target.firstIndex(of: "?")
            return Request(
                method: String(requestLine[0]),
                rawPath: question.map { String(target[..<$0]) } ?? target,
                rawQuery: question.map { String(target[target.index(after: $0)...]) } ?? "",
                headers: headers,
                body: body
            )
        }

        /// Reads a chunked body (`size CRLF data CRLF ... 0 CRLF CRLF`, no trailers) from `buffer` plus the socket,
        /// leaving what follows in `buffer`; `nil` when the connection ends first or the framing is bad.
        private func readChunkedBody(_ socket: Int32, _ buffer: inout [UInt8]) -> [UInt8]? {
            var body: [UInt8] = []
            var start = 0
            while true {
                var lineEnd = LoopbackHTTPServer.find([13, 10], in: buffer, from: start)
                while lineEnd == nil {
                    guard receive(socket, into: &buffer) else { return nil }
                    lineEnd = LoopbackHTTPServer.find([13, 10], in: buffer, from: start)
                }
                guard let lineEnd else { return nil }
                let sizeText = String(decoding: buffer[start..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { return nil }
                let dataStart = lineEnd + 2
                while buffer.count < dataStart + size + 2 {
                    guard receive(socket, into: &buffer) else { return nil }
                }
                body += buffer[dataStart..<(dataStart + size)]
                start = dataStart + size + 2
                if size == 0 {
                    buffer.removeFirst(start)
                    return body
                }
                if start > 1 << 20 {
                    buffer.removeFirst(start)
                    start = 0
                }
            }
        }

        private func receive(_ socket: Int32, into buffer: inout [UInt8]) -> Bool {
            var chunk = [UInt8](repeating: 0, count: 64 << 10)
            let count = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return false }
            buffer += chunk[..<count]
            return true
        }

        private func write(_ response: Response, to socket: Int32, keepAlive: Bool) throws {
            var head = "HTTP/1.1 \(response.status) \(LoopbackHTTPServer.reason(response.status))\r\n"
            for header in response.headers { head += "\(header.name): \(header.value)\r\n" }
            head += keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n"
            switch response.body {
            case .bytes(let bytes):
                head += "Content-Length: \(bytes.count)\r\n\r\n"
                try LoopbackHTTPServer.sendAll(socket, Array(head.utf8) + bytes)
            case .chunked(let produce):
                head += "Transfer-Encoding: chunked\r\n\r\n"
                try LoopbackHTTPServer.sendAll(socket, Array(head.utf8))
                try produce(ChunkWriter(socket: socket))
                try LoopbackHTTPServer.sendAll(socket, Array("0\r\n\r\n".utf8))
            }
        }
    }

    // MARK: Helpers

    fileprivate static func sendAll(_ socket: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = try bytes.withUnsafeBytes { raw in
                // SAFETY: `raw` is non-empty here (offset < count), so it has a base address, valid for this call.
                guard let base = raw.baseAddress else { return 0 }
                return try valueOrErrno { send(socket, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL)) }
            }
            offset += sent
        }
    }

    fileprivate static func find(_ needle: [UInt8], in haystack: [UInt8], from offset: Int = 0) -> Int? {
        guard haystack.count - offset >= needle.count else { return nil }
        for start in offset...(haystack.count - needle.count)
        where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }

    /// Decodes `%XX` escapes (invalid escapes are kept as they are).
    package static func percentDecode(_ text: some StringProtocol) -> String {
        var output: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let value = UInt8(String(decoding: bytes[(index + 1)...(index + 2)], as: UTF8.self), radix: 16)
            {
                output.append(value)
                index += 3
            } else {
                output.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    fileprivate static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 406: "Not Acceptable"
        case 409: "Conflict"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        default: "Status"
        }
    }
}
