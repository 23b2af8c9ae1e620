import Crypto
package import MesaCore

/// Streams git's blob id: SHA-1 over `blob <size>\0` followed by the content.
// SAFETY: `Insecure.SHA1` is a value type whose copies share no mutable state; it lacks a `Sendable` annotation only.
// Callers that share a hasher between threads keep it in a `Mutex`.
package struct GitBlobHasher: @unchecked Sendable {
    private var hasher = Insecure.SHA1()

    /// Starts a hash for content of `size` bytes.
    package init(size: Int64) {
        hasher.update(data: Array("blob \(size)\0".utf8))
    }

    /// Adds the next bytes of content.
    package mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }

    /// The blob id.
    package func finalize() -> ObjectID {
        // SHA-1 digests are always 20 bytes, so the id always exists.
        ObjectID(bytes: Array(hasher.finalize()))!
    }
}
