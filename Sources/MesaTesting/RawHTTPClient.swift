// A blocking HTTP/1.1 client for tests that send what ordinary clients refuse to: garbage request lines, hostile
// heads, framing that lies about the body, bodies that stop half way, heads sent in part.
//
// One exchange is one TCP connection to 127.0.0.1. The socket is non-blocking and driven by `poll(2)`: the body is
// written while the socket is also read, so a server that answers before it has read the whole body (a 401, a 413)
// is heard instead of deadlocking both sides on full buffers, and one deadline bounds the whole exchange (the send
// and receive timeouts). The answer is parsed as it arrives: status line, header fields, then a body framed by
// `Content-Length`, by chunked encoding, or by the end of the connection; interim 1xx answers are skipped.
import Foundation
import Glibc
import MesaCore
import SystemPackage

/// Sends raw requests over fresh TCP connections and parses the answers.
package enum RawHTTPClient {
    /// A piece of a request body.
    package enum BodyPiece: Sendable {
        /// These bytes.
        case bytes([UInt8])
        /// `count` copies of one byte, produced while sending (a large body is never held in memory).
        case repeating(UInt8, count: Int)

        /// The number of bytes the piece sends.
        package var count: Int {
            switch self {
            case .bytes(let bytes): bytes.count
            case .repeating(_, let count): count
            }
        }
    }

    /// What the client does once everything is sent.
    package enum Ending: Sendable {
        /// Reads the answer.
        case readResponse
        /// Shuts down the sending side (the server sees the end of the stream), then reads the answer.
        case shutDownThenRead
        /// Closes the connection at once without reading (a head or body sent in part and abandoned).
        case close
    }

    /// One request: exact bytes, and how the exchange ends.
    package struct Request: Sendable {
        /// The request line and header fields, exactly as sent (the empty line included, if any).
        package var head: [UInt8]
        /// The body, sent right after the head.
        package var body: [BodyPiece]
        /// What happens once everything is sent.
        package var ending: Ending
        /// Whether the method is `HEAD`, whose answer has no body whatever its `Content-Length` says.
        package var isHeadRequest: Bool
        /// Seconds the whole exchange may take.
        package var timeout: Double

        /// Creates a request.
        package init(
            head: [UInt8],
            body: [BodyPiece] = [],
            ending: Ending = .readResponse,
            isHeadRequest: Bool = false,
            timeout: Double = 10
        ) {
            self.head = head
            self.body = body
            self.ending = ending
            self.isHeadRequest = isHeadRequest
            self.timeout = timeout
        }
    }

    /// A parsed answer.
    package struct Response: Sendable {
        /// The status code.
        package var status: Int
        /// The header fields, in order.
        package var headers: [(name: String, value: String)]
        /// The body, de-chunked.
        package var body: [UInt8]

        /// The first header field named `name`, compared case-insensitively.
        package func header(_ name: String) -> String? {
            let wanted = name.lowercased()
            return headers.first { $0.name.lowercased() == wanted }?.value
        }
    }

    /// How an exchange ended.
    package enum Outcome: Sendable {
        /// A complete answer arrived.
        case response(Response)
        /// The server closed the connection (or reset it) before a complete answer; `received` is what came.
        case closed(received: [UInt8])
        /// The deadline passed before a complete answer or the connection's end.
        case timedOut(received: [UInt8])
        /// The server sent bytes that are not an HTTP/1.x answer.
        case malformed(received: [UInt8], reason: String)
        /// The client closed the connection as asked (``Ending/close``).
        case abandoned
    }

    /// Why an exchange could not start.
    package enum ClientError: Error, CustomStringConvertible {
        /// `socket`, `connect` or `fcntl` failed; the text names the error.
        case connect(String)

        package var description: String {
            switch self {
            case .connect(let reason): "cannot connect to the server: \(reason)"
            }
        }
    }

    /// Sends `request` to `127.0.0.1:port` over a new connection and waits for the answer.
    /// - Throws: ``ClientError`` when the connection cannot be made; everything after that is an ``Outcome``.
    package static func send(_ request: Request, port: Int) throws(ClientError) -> Outcome {
        let socket = try connect(port: port)
        defer { close(socket) }
        var exchange = Exchange(socket: socket, request: request)
        return exchange.run()
    }

    /// `GET path` with `Connection: close`, for health checks.
    package static func get(_ path: String, port: Int, timeout: Double = 10) throws(ClientError) -> Outcome {
        let head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"
        return try send(Request(head: Array(head.utf8), timeout: timeout), port: port)
    }

    private static func connect(port: Int) throws(ClientError) -> Int32 {
        let socket: Int32
        do {
            socket = try valueOrErrno { Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0) }
        } catch {
            throw .connect("socket: \(error)")
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(truncatingIfNeeded: port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7f00_0001).bigEndian)
        do {
            _ = try withUnsafePointer(to: &address) { pointer in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                    try valueOrErrno { Glibc.connect(socket, raw, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            let flags = try valueOrErrno { fcntl(socket, F_GETFL) }
            _ = try valueOrErrno { fcntl(socket, F_SETFL, flags | O_NONBLOCK) }
        } catch {
            close(socket)
            throw .connect("connect to 127.0.0.1:\(port): \(error)")
        }
        return socket
    }

    /// What parsing the bytes received so far gave.
    private enum Parse {
        case incomplete
        case complete(Response)
        case invalid(String)
    }

    /// Parses an answer from `bytes`, skipping interim (1xx) answers; `atEnd` when no more bytes will come.
    private static func parse(_ bytes: [UInt8], isHeadRequest: Bool, atEnd: Bool) -> Parse {
        var start = 0
        while true {
            guard let headEnd = find([13, 10, 13, 10], in: bytes, from: start) else {
                return atEnd ? .invalid("the connection ended inside the head") : .incomplete
            }
            let lines = String(decoding: bytes[start..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
            let statusParts = lines[0].split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), statusParts[1].count == 3,
                let status = Int(statusParts[1])
            else { return .invalid("status line '\(lines[0].prefix(100))'") }
            var headers: [(name: String, value: String)] = []
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { return .invalid("header line '\(line.prefix(100))'") }
                headers.append(
                    (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
                )
            }
            var response = Response(status: status, headers: headers, body: [])
            let bodyStart = headEnd + 4
            if (100..<200).contains(status), status != 101 {
                start = bodyStart
                continue
            }
            if isHeadRequest || status == 204 || status == 304 { return .complete(response) }
            if response.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
                switch dechunk(bytes, from: bodyStart) {
                case .incomplete: return atEnd ? .invalid("the connection ended inside a chunked body") : .incomplete
                case .invalid(let reason): return .invalid(reason)
                case .complete(let body):
                    response.body = body
                    return .complete(response)
                }
            }
            if let lengthText = response.header("Content-Length") {
                guard let length = Int(lengthText), length >= 0 else {
                    return .invalid("Content-Length '\(lengthText)'")
                }
                guard bytes.count - bodyStart >= length else {
                    return atEnd ? .invalid("the connection ended inside the body") : .incomplete
                }
                response.body = Array(bytes[bodyStart..<(bodyStart + length)])
                return .complete(response)
            }
            // No framing: the body runs to the end of the connection.
            guard atEnd else { return .incomplete }
            response.body = Array(bytes[bodyStart...])
            return .complete(response)
        }
    }

    private enum Dechunked {
        case incomplete
        case complete([UInt8])
        case invalid(String)
    }

    private static func dechunk(_ bytes: [UInt8], from offset: Int) -> Dechunked {
        var body: [UInt8] = []
        var position = offset
        while true {
            guard let lineEnd = find([13, 10], in: bytes, from: position) else { return .incomplete }
            let line = String(decoding: bytes[position..<lineEnd], as: UTF8.self)
            let sizeText = line.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                return .invalid("chunk size line '\(line.prefix(40))'")
            }
            position = lineEnd + 2
            if size == 0 {
                // Trailer fields, then an empty line.
                while true {
                    guard let end = find([13, 10], in: bytes, from: position) else { return .incomplete }
                    if end == position { return .complete(body) }
                    position = end + 2
                }
            }
            guard bytes.count - position >= size + 2 else { return .incomplete }
            body += bytes[position..<(position + size)]
            guard bytes[position + size] == 13, bytes[position + size + 1] == 10 else {
                return .invalid("a chunk not followed by CRLF")
            }
            position += size + 2
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from offset: Int) -> Int? {
        guard offset <= haystack.count, haystack.count - offset >= needle.count else { return nil }
        return haystack.withUnsafeBufferPointer { buffer -> Int? in
            var index = offset
            let last = buffer.count - needle.count
            while index <= last {
                if buffer[index] == needle[0] {
                    var matched = true
                    for step in 1..<needle.count where buffer[index + step] != needle[step] {
                        matched = false
                        break
                    }
                    if matched { return index }
                }
                index += 1
            }
            return nil
        }
    }

    /// One exchange's state: what is left to send, what was received.
    private struct Exchange {
        let socket: Int32
        let request: Request
        var pieces: [BodyPiece]
        /// Bytes of the current piece already sent.
        var offset = 0
        var received: [UInt8] = []
        var sendingDone = false
        var shutDown = false
        /// The slice buffer for ``BodyPiece/repeating(_:count:)``.
        var filler: [UInt8] = []
        var fillerByte: UInt8?

        init(socket: Int32, request: Request) {
            self.socket = socket
            self.request = request
            pieces = [.bytes(request.head)] + request.body
        }

        mutating func run() -> Outcome {
            let deadline = Date().addingTimeInterval(request.timeout)
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                if sendingDone {
                    switch request.ending {
                    case .close: return .abandoned
                    case .shutDownThenRead:
                        if !shutDown {
                            _ = Glibc.shutdown(socket, Int32(SHUT_WR))
                            shutDown = true
                        }
                    case .readResponse: break
                    }
                }
                let remaining = deadline.timeIntervalSinceNow
                guard remaining > 0 else { return .timedOut(received: received) }
                var descriptor = pollfd(
                    fd: socket,
                    events: Int16(POLLIN) | (sendingDone ? 0 : Int16(POLLOUT)),
                    revents: 0
                )
                let ready: Int32
                do {
                    ready = try valueOrErrno { poll(&descriptor, 1, Int32(min(remaining, 1) * 1000) + 1) }
                } catch {
                    return .closed(received: received)
                }
                guard ready > 0 else { continue }
                if descriptor.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                    let count = buffer.withUnsafeMutableBytes { raw in recv(socket, raw.baseAddress, raw.count, 0) }
                    if count > 0 {
                        received += buffer[..<count]
                        switch RawHTTPClient.parse(received, isHeadRequest: request.isHeadRequest, atEnd: false) {
                        case .complete(let response): return .response(response)
                        case .invalid(let reason): return .malformed(received: received, reason: reason)
                        case .incomplete: break
                        }
                    } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                        switch RawHTTPClient.parse(received, isHeadRequest: request.isHeadRequest, atEnd: true) {
                        case .complete(let response): return .response(response)
                        case .invalid, .incomplete: return .closed(received: received)
                        }
                    }
                }
                if !sendingDone, descriptor.revents & Int16(POLLOUT) != 0 { sendSome() }
            }
        }

        /// Sends what the socket takes of the current piece; a refused send ends sending (the answer is still read).
        private mutating func sendSome() {
            guard let piece = pieces.first else {
                sendingDone = true
                return
            }
            let sent: Int
            switch piece {
            case .bytes(let bytes):
                sent = bytes.withUnsafeBytes { raw in
                    guard let base = raw.baseAddress, raw.count > offset else { return 0 }
                    return Glibc.send(socket, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                }
            case .repeating(let byte, let count):
                if fillerByte != byte {
                    filler = [UInt8](repeating: byte, count: 64 << 10)
                    fillerByte = byte
                }
                let length = min(filler.count, count - offset)
                sent = filler.withUnsafeBytes { raw in
                    guard let base = raw.baseAddress, length > 0 else { return 0 }
                    return Glibc.send(socket, base, length, Int32(MSG_NOSIGNAL))
                }
            }
            if sent < 0 {
                if errno != EAGAIN, errno != EWOULDBLOCK, errno != EINTR { sendingDone = true }
                return
            }
            offset += sent
            if offset >= piece.count {
                pieces.removeFirst()
                offset = 0
                if pieces.isEmpty { sendingDone = true }
            }
        }
    }
}
