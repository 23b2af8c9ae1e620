import CGit2
package import MesaCore

/// The kind of a git object.
package enum ObjectKind: String, Sendable, Hashable {
    /// File content (held as a manifest of chunks).
    case blob
    /// A directory listing.
    case tree
    /// A commit.
    case commit
    /// An annotated tag.
    case tag
}

extension MesaRepository {
    /// An object's kind and size as libgit2 sees them (`git_odb_read_header`): answered by the store backend's
    /// `read_header` from the record length or, for blobs, the manifest, without reading content.
    /// - Throws: ``TreeError/objectNotFound(_:)``.
    package func objectHeader(_ id: ObjectID) throws(TreeError) -> (kind: ObjectKind, size: Int64) {
        try git.withHandle { (handle) throws(TreeError) -> (kind: ObjectKind, size: Int64) in
            var oid = id.gitOID
            var length = 0
            var type = GIT_OBJECT_INVALID
            let code = git_odb_read_header(&length, &type, handle.odb, &oid)
            if GitError.isNotFound(code) { throw .objectNotFound(id) }
            try GitError.check(code, operation: "git_odb_read_header")
            let kind: ObjectKind
            switch type {
            case GIT_OBJECT_BLOB: kind = .blob
            case GIT_OBJECT_TREE: kind = .tree
            case GIT_OBJECT_COMMIT: kind = .commit
            case GIT_OBJECT_TAG: kind = .tag
            default: throw .corruptObject(id, reason: "unexpected object type \(type.rawValue)")
            }
            return (kind, Int64(length))
        }
    }
}
