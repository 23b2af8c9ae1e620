import CGit2
import MesaCore

extension ObjectID {
    /// Copies a libgit2 object id.
    init(_ oid: git_oid) {
        // SAFETY: `id` is a fixed 20-byte tuple; its bytes are copied into the ObjectID.
        // A git_oid holds exactly 20 bytes (SHA-1 only in libgit2 1.5), so the id always exists.
        self = withUnsafeBytes(of: oid.id) { ObjectID(bytes: $0)! }
    }

    /// Copies the object id behind a libgit2 pointer.
    init(_ oid: UnsafePointer<git_oid>) {
        self.init(oid.pointee)
    }

    /// The id as a libgit2 `git_oid`.
    var gitOID: git_oid {
        var oid = git_oid()
        let bytes = self.bytes
        // SAFETY: `id` is a fixed 20-byte tuple and `bytes` holds exactly 20 bytes.
        withUnsafeMutableBytes(of: &oid.id) { raw in raw.copyBytes(from: bytes) }
        return oid
    }
}
