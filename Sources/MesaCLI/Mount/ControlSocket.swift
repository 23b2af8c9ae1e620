import Foundation
import MesaCore
import Synchronization

// The daemon's control socket (DESIGN.md section 5): a Unix stream socket in the runtime directory, mode 0600, on
// which `mesa status`, `mesa stats`, `mesa sync`, `mesa unmount` and `mesa auth set-token` send one JSON request line
// and read one JSON response line. One dedicated thread accepts; each connection is served on a thread of its own (a
// `mesa sync` may wait for uploads while `status` or `unmount` must answer); the handler is async and runs on a Task
// while that thread waits on a semaphore, which is that thread's own, never a cooperative-pool thread.

/// A control request.
struct ControlRequest: Codable, Equatable {
    /// `status`, `stats`, `sync`, `new`, `describe`, `unmount` or `set-token`.
    var command: String
    /// The new credential for `set-token`.
    var token: String?
    /// `sync`: only this repository (`org/repo` or `repo`).
    var repository: String?
    /// `sync`: seconds to wait at most.
    var timeout: Double?
    /// `new`, `describe`: the change's message.
    var message: String?
}

/// A control response.
struct ControlResponse: Codable, Equatable {
    var ok: Bool
    /// A human-readable answer or error.
    var message: String
    /// Structured details (stats, status).
    var details: [String: String]?
}

/// The listening side, owned by the daemon.
final class ControlServer: Sendable {
    let path: String
    private let descriptor: Int32
    private let stopped = Atomic<Bool>(false)
    /// Connections whose answer is not written yet.
    private let active = Atomic<Int>(0)

    /// Binds the socket at `path` (replacing a stale one) and starts serving `handler` on a dedicated thread.
    init(path: String, handler: @escaping @Sendable (ControlRequest) async -> ControlResponse) throws {
        self.path = path
        unlink(path)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw ControlError.system("socket", errno) }
        var address = try Self.address(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else {
            close(listener)
            throw ControlError.system("bind \(path)", errno)
        }
        chmod(path, 0o600)
        guard listen(listener, 16) == 0 else {
            close(listener)
            throw ControlError.system("listen", errno)
        }
        descriptor = listener
        // The thread keeps the server alive until `stop()` closes the socket and `accept` fails.
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) {
                let client = accept(listener, nil, nil)
                if client < 0 {
                    if errno == EINTR { continue }
                    return
                }
                // Each connection on its own thread: a `mesa sync` waiting for uploads must not hold up `status`
                // or `unmount`.
                active.add(1, ordering: .acquiringAndReleasing)
                let connection = Thread { [self] in
                    Self.serve(client, handler: handler)
                    active.subtract(1, ordering: .acquiringAndReleasing)
                }
                connection.name = "mesa.control.client"
                connection.start()
            }
        }
        thread.name = "mesa.control"
        thread.start()
    }

    /// Stops accepting and removes the socket file.
    func stop() {
        stopped.store(true, ordering: .releasing)
        shutdown(descriptor, Int32(SHUT_RDWR))
        close(descriptor)
        unlink(path)
    }

    /// Waits until every accepted connection has its answer written, or `timeout` passes (a stopping daemon answers
    /// `mesa unmount` before it exits).
    func drain(timeout: Duration) {
        let deadline = ContinuousClock.now + timeout
        while active.load(ordering: .acquiring) > 0, ContinuousClock.now < deadline { usleep(5_000) }
    }

    private static func serve(_ client: Int32, handler: @escaping @Sendable (ControlRequest) async -> ControlResponse) {
        defer { close(client) }
        guard let line = readLine(client),
            let request = try? JSONDecoder().decode(ControlRequest.self, from: Data(line.utf8))
        else {
            write(client, ControlResponse(ok: false, message: "malformed control request", details: nil))
            return
        }
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<ControlResponse?>(nil)
        Task {
            let response = await handler(request)
            result.withLock { $0 = response }
            done.signal()
        }
        done.wait()
        write(client, result.withLock { $0 } ?? ControlResponse(ok: false, message: "no answer", details: nil))
    }

    static func readLine(_ descriptor: Int32) -> String? {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while bytes.count < 1 << 20 {
            let count = read(descriptor, &byte, 1)
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            if byte == 10 { return String(decoding: bytes, as: UTF8.self) }
            bytes.append(byte)
        }
        return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
    }

    static func write(_ descriptor: Int32, _ value: some Encodable) {
        guard var data = try? JSONEncoder().encode(value) else { return }
        data.append(10)
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written < 0, errno == EINTR { continue }
                if written <= 0 { return }
                offset += written
            }
        }
    }

    static func address(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw ControlError.pathTooLong(path)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }
}

/// The client side, used by `mesa status` and friends.
enum ControlClient {
    /// Sends one request to the daemon whose socket is at `path`.
    static func send(_ request: ControlRequest, to path: String) throws -> ControlResponse {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ControlError.system("socket", errno) }
        defer { close(descriptor) }
        var address = try ControlServer.address(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw ControlError.notRunning(path) }
        ControlServer.write(descriptor, request)
        guard let line = ControlServer.readLine(descriptor),
            let response = try? JSONDecoder().decode(ControlResponse.self, from: Data(line.utf8))
        else { throw ControlError.system("read the daemon's answer", EIO) }
        return response
    }
}

/// Control-socket failures, with what to do.
enum ControlError: Error, CustomStringConvertible {
    case system(String, Int32)
    case pathTooLong(String)
    case notRunning(String)

    var description: String {
        switch self {
        case .system(let operation, let code): "\(operation) failed: \(String(cString: strerror(code)))"
        case .pathTooLong(let path): "the control socket path \(path) is too long; set a shorter MESA_RUNTIME_DIR"
        case .notRunning(let path): "no mesa mount is running (no control socket at \(path)); start one with `mesa mount`"
        }
    }
}
