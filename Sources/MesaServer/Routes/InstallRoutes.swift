import Crypto
import Foundation
import Hummingbird
import HTTPTypes
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// `mesa serve` installs its own client, so a sandbox that can reach only the server needs nothing else:
// `curl -fsSL http://SERVER/install.sh | sh`. Three public routes (no credential: the binary is no secret, and the
// sandbox has no token until the script has run):
//
//   GET /install.sh                          a POSIX sh installer naming this server (from the request's Host)
//   GET /download/mesa-linux-<arch>          the binary, with its SHA-256 in `x-checksum-sha256`
//   GET /download/mesa-linux-<arch>.sha256   `<hex>  mesa-linux-<arch>`, what the installer checks the binary against
//
// The binary is the file of that name in `--release-dir` (scripts/package.sh writes it and its `.sha256`), else,
// for the server's own architecture, the running executable itself when it is a packaged build: one with the Swift
// runtime linked in, which runs where Swift is not installed. A development build links the toolchain's
// `libswiftCore.so` and would fail in a sandbox, so it is never offered: the routes answer 404
// `RELEASE_NOT_AVAILABLE` saying how to package one. Checksums are computed once per file version (path, size,
// modification time) on the blocking pool; a release directory whose `.sha256` disagrees with its binary is refused.

/// The `mesa` binaries a server offers for download, by architecture.
package final class ReleaseCatalog: Sendable {
    /// One downloadable binary.
    package struct Artifact: Sendable, Equatable {
        /// The file to send.
        package var path: String
        /// Its size in bytes.
        package var size: Int64
        /// Its SHA-256, lower-case hex.
        package var sha256: String
    }

    /// The architectures `uname -m` names that builds exist for (Linux on x86-64 and 64-bit ARM).
    package static let architectures = ["x86_64", "aarch64"]

    /// The architecture this server runs on.
    package static var hostArchitecture: String {
        #if arch(x86_64)
        "x86_64"
        #elseif arch(arm64)
        "aarch64"
        #else
        "unknown"
        #endif
    }

    /// The file name of a build: `mesa-linux-<arch>`.
    package static func fileName(architecture: String) -> String { "mesa-linux-\(architecture)" }

    /// The release directory (`--release-dir`), if any.
    package let directory: String?
    /// The running executable, offered for ``hostArchitecture`` when it is a packaged build; `nil` otherwise.
    package let ownExecutable: String?
    private struct Cached: Sendable {
        var size: Int64
        /// Seconds since 1970, to the file system's precision.
        var modified: Double
        var sha256: String
    }
    private let checksums = Mutex<[String: Cached]>([:])

    /// A catalog over a release directory and the running executable.
    /// - Parameters:
    ///   - directory: holds `mesa-linux-<arch>` files (and their `.sha256`); `nil` for none.
    ///   - ownExecutable: the executable to offer for the host architecture; by default the running one when it is
    ///     a packaged build (``isRunningSelfContained``), else none.
    package init(directory: String?, ownExecutable: String? = ReleaseCatalog.defaultOwnExecutable) {
        self.directory = directory
        self.ownExecutable = ownExecutable
    }

    /// `/proc/self/exe` when the running executable is a packaged build, else `nil`.
    package static var defaultOwnExecutable: String? { isRunningSelfContained ? "/proc/self/exe" : nil }

    /// Whether this process carries the Swift runtime itself, i.e. no `libswiftCore.so` is mapped
    /// (`swift build --static-swift-stdlib`, as scripts/package.sh builds).
    package static var isRunningSelfContained: Bool {
        guard let maps = readProcFile("/proc/self/maps") else { return false }
        return !maps.contains("/libswiftCore.so")
    }

    /// The binary for `architecture` with its checksum. Blocking (reads the file once per version): call it on the
    /// blocking pool.
    /// - Throws: 404 `NOT_FOUND` for an architecture no build exists for, 404 `RELEASE_NOT_AVAILABLE` when this
    ///   server has none to offer, 500 when the release directory's checksum file disagrees with its binary.
    package func artifact(architecture: String) throws(APIError) -> Artifact {
        guard Self.architectures.contains(architecture) else {
            throw APIError.notFound(
                "no mesa build for architecture '\(architecture)'; builds exist for "
                    + Self.architectures.joined(separator: " and "))
        }
        let name = Self.fileName(architecture: architecture)
        if let directory {
            let path = directory + "/" + name
            if access(path, R_OK) == 0 {
                let artifact = try checksum(path)
                try verifyChecksumFile(path + ".sha256", of: artifact)
                return artifact
            }
        }
        if architecture == Self.hostArchitecture, let ownExecutable {
            return try checksum(ownExecutable)
        }
        let message: String
        if let directory {
            message = "this server has no \(name): put one in \(directory) (scripts/package.sh builds it)"
        } else if architecture == Self.hostArchitecture {
            message = "this server runs a development build of mesa, which needs the Swift toolchain's libraries and "
                + "cannot be installed elsewhere: build a release with scripts/package.sh and start mesa serve from it "
                + "or with --release-dir dist"
        } else {
            message = "this server has no \(name): start mesa serve with --release-dir holding it (scripts/package.sh)"
        }
        throw APIError(.notFound, "RELEASE_NOT_AVAILABLE", message)
    }

    /// The SHA-256 of `path` (symbolic links followed, so `/proc/self/exe` names the executable), computed once per
    /// (size, modification time).
    private func checksum(_ link: String) throws(APIError) -> Artifact {
        let path = URL(fileURLWithPath: link).resolvingSymlinksInPath().path
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw APIError.internalError("cannot read the release \(path): \(error)")
        }
        let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
        let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        let known = checksums.withLock { $0[path] }
        if let known, known.size == size, known.modified == modified {
            return Artifact(path: path, size: size, sha256: known.sha256)
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw APIError.internalError("cannot open the release \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total: Int64 = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else {
                throw APIError.internalError("cannot read the release \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            hasher.update(data: buffer[0..<count])
            total += Int64(count)
        }
        guard total == size else {
            throw APIError.internalError("the release \(path) changed while its checksum was computed; try again")
        }
        let hex = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        checksums.withLock {
            $0[path] = Cached(size: size, modified: modified, sha256: hex)
        }
        return Artifact(path: path, size: size, sha256: hex)
    }

    /// Refuses a binary whose `.sha256` file (when there is one) names another checksum.
    private func verifyChecksumFile(_ path: String, of artifact: Artifact) throws(APIError) {
        guard let text = Self.readProcFile(path) else { return }
        let recorded = text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first.map(String.init) ?? ""
        guard recorded.lowercased() == artifact.sha256 else {
            throw APIError.internalError(
                "\(path) says \(recorded) but \(artifact.path) has SHA-256 \(artifact.sha256): package the release again")
        }
    }

    /// Reads a small file to its end (procfs files report size 0, so no size is trusted).
    private static func readProcFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while bytes.count < 16 << 20 {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// `GET /install.sh` and `GET /download/...`: see the file's design note.
enum InstallRoutes {
    static func register(on router: Router<MesaRequestContext>, releases: ReleaseCatalog, services: ServerServices) {
        router.get("install.sh") { request, _ in
            let server = try serverURL(of: request)
            var headers = HTTPFields()
            headers[.contentType] = "text/x-shellscript; charset=utf-8"
            headers[.cacheControl] = "no-store"
            let script = InstallScript.text(server: server)
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: script)))
        }

        router.get("download/:file") { _, context in
            let file = context.parameters.get("file") ?? ""
            let prefix = "mesa-linux-"
            guard file.hasPrefix(prefix) else { throw APIError.notFound("no download named '\(file)'") }
            let wantsChecksum = file.hasSuffix(".sha256")
            let architecture = String(file.dropFirst(prefix.count).dropLast(wantsChecksum ? ".sha256".count : 0))
            let artifact = try await services.blocking { () throws(APIError) -> ReleaseCatalog.Artifact in
                try releases.artifact(architecture: architecture)
            }
            var headers = HTTPFields()
            headers[.cacheControl] = "no-store"
            if wantsChecksum {
                headers[.contentType] = "text/plain; charset=utf-8"
                let line = "\(artifact.sha256)  \(ReleaseCatalog.fileName(architecture: architecture))\n"
                return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: line)))
            }
            headers[.contentType] = "application/octet-stream"
            headers[checksumHeader] = artifact.sha256
            // The body carries its length (Content-Length); the installer checks the checksum either way.
            let body = try await FileIO(threadPool: services.pool).loadFile(path: artifact.path, context: context)
            return Response(status: .ok, headers: headers, body: body)
        }
    }

    /// `x-checksum-sha256`: the binary's SHA-256 in lower-case hex.
    // A lower-case token is a valid field name, so the initializer cannot fail.
    static let checksumHeader = HTTPField.Name("x-checksum-sha256")!
    /// `x-forwarded-proto`, set by a TLS-terminating proxy.
    // A lower-case token is a valid field name, so the initializer cannot fail.
    static let forwardedProtoHeader = HTTPField.Name("x-forwarded-proto")!

    /// `http(s)://HOST[:PORT]` as the client reached this server (its `Host`, and `X-Forwarded-Proto` behind a TLS
    /// proxy). The script embeds it, so it must be a plain host name or address: anything else is refused.
    static func serverURL(of request: Request) throws(APIError) -> String {
        guard let authority = request.head.authority, !authority.isEmpty, authority.utf8.count <= 255,
            authority.utf8.allSatisfy({ byte in
                (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
                    || [UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]")]
                        .contains(byte)
            })
        else { throw APIError.badRequest("the Host header must name this server (a host name or address and a port)") }
        let forwarded = request.headers[forwardedProtoHeader]?.lowercased()
        return (forwarded == "https" ? "https" : "http") + "://" + authority
    }
}
