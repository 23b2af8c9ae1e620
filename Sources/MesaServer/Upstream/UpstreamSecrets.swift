import Crypto
import Foundation
package import MesaWire
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

// Upstream credentials at rest (docs/Protocol.md, "Upstream remotes"). A credential is sealed with AES-256-GCM under
// the server's key before it reaches the metadata database, with the repo id as additional authenticated data (a
// sealed credential copied to another repo's row does not open). The key is 32 random bytes in a file: `--secret-key-
// file`, or `upstream.key` in the data directory, created with mode 0600 the first time a credential is sealed or
// opened. Losing the file loses the credentials (the remotes stay; their syncs fail until credentials are set again).

/// Seals and opens upstream credentials with the server's key.
package final class UpstreamSecrets: Sendable {
    /// The key file.
    package let keyPath: String
    private let key = Mutex<SymmetricKey?>(nil)

    /// Creates the sealer; the key file is read (or created) on first use.
    package init(keyPath: String) {
        self.keyPath = keyPath
    }

    /// Seals a credential for a repo.
    package func seal(_ auth: UpstreamAuth, repoID: String) throws(APIError) -> [UInt8] {
        let key = try loadKey()
        do {
            let plain = try JSONEncoder().encode(auth)
            let box = try AES.GCM.seal(plain, using: key, authenticating: Data(repoID.utf8))
            guard let combined = box.combined else { throw APIError.internalError("AES-GCM gave no sealed box") }
            return [UInt8](combined)
        } catch {
            throw .internalError("cannot seal the upstream credential: \(error)")
        }
    }

    /// Opens a sealed credential of a repo.
    /// - Throws: 500 when the key is not the one it was sealed with (a replaced key file) or the bytes are damaged.
    package func open(_ sealed: [UInt8], repoID: String) throws(APIError) -> UpstreamAuth {
        let key = try loadKey()
        do {
            let box = try AES.GCM.SealedBox(combined: Data(sealed))
            let plain = try AES.GCM.open(box, using: key, authenticating: Data(repoID.utf8))
            return try JSONDecoder().decode(UpstreamAuth.self, from: plain)
        } catch {
            throw .internalError(
                "the upstream credential of repo \(repoID) does not open with the key in \(keyPath): set it again"
            )
        }
    }

    /// The key, read from the file or made and written there (mode 0600) when the file does not exist.
    private func loadKey() throws(APIError) -> SymmetricKey {
        try key.withLock { (cached) throws(APIError) -> SymmetricKey in
            if let cached { return cached }
            let loaded = try Self.readOrCreate(keyPath)
            cached = loaded
            return loaded
        }
    }

    private static func readOrCreate(_ path: String) throws(APIError) -> SymmetricKey {
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else {
                throw .internalError("the secret key file \(path) must hold exactly 32 bytes, it holds \(data.count)")
            }
            return SymmetricKey(data: data)
        }
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { [UInt8]($0) }
        // O_EXCL: two servers starting on one data directory cannot both write a key.
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST, let data = FileManager.default.contents(atPath: path), data.count == 32 {
                return SymmetricKey(data: data)
            }
            throw .internalError("cannot create the secret key file \(path): errno \(code)")
        }
        defer { Glibc.close(descriptor) }
        _ = fchmod(descriptor, 0o600)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw .internalError("cannot write the secret key file \(path): errno \(errno)")
        }
        // The file's name is durable too before anything is sealed with the key (a credential committed to SQLite
        // must never outlive the key that opens it).
        let directory = Glibc.open((path as NSString).deletingLastPathComponent, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw .internalError("cannot open the directory of \(path): errno \(errno)") }
        defer { Glibc.close(directory) }
        guard fsync(directory) == 0 else { throw .internalError("cannot sync the directory of \(path): errno \(errno)") }
        return key
    }
}
