package import SystemPackage
package import MesaSync

/// Every failure of MesaFS. Each case has one errno, chosen in `FSError+Errno.swift` and nowhere else.
package enum FSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No entry of that name exists.
    case notFound
    /// A path component is not a directory.
    case notADirectory
    /// A file operation named a directory.
    case isADirectory
    /// `readlink` named something that is not a symbolic link.
    case notASymlink
    /// A modification of content that is read-only (everything until the write path lands, #6).
    case readOnly
    /// An extended attribute that does not exist (every one, for now).
    case noAttribute
    /// Setting extended attributes is not supported.
    case attributesNotSupported
    /// An operation the filesystem does not implement; `operation` names it for the log.
    case notImplemented(operation: String)
    /// The kernel named an inode this mount does not know (forgotten already, or never given out).
    case unknownInode(InodeNumber)
    /// The kernel named a handle that is not open.
    case unknownHandle(FileHandleID)
    /// A name longer than 255 bytes.
    case nameTooLong
    /// An argument the kernel should never send (an offset past the listing, a negative offset).
    case invalidArgument(String)
    /// No repository of the layout has this path.
    case unknownRepository(RepositoryPath)
    /// The request was interrupted (FUSE_INTERRUPT) while it waited for content.
    case interrupted
    /// The object source failed: content that a tree references could not be read or fetched.
    case source(SyncError)
    /// The name exists already (`O_EXCL`, `mkdir`, `RENAME_NOREPLACE`, `symlink`).
    case exists
    /// `rmdir` or a rename onto a directory that has entries.
    case notEmpty
    /// A rename between two repositories (each is its own version history).
    case crossRepository
    /// An operation Mesa does not allow: hard links, device nodes and fifos, giving a file to another owner,
    /// changing the mount root, organizations or the repository directories themselves.
    case notPermitted(String)
    /// A name that a repository cannot store (`.git`, a name git would refuse); `String` says why.
    case illegalName(String)
    /// A mode of an operation that is not supported (`fallocate` other than mode 0).
    case notSupported(String)
    /// The journal (SQLite) failed: the operation did not happen.
    case journal(String)
    /// An overlay file failed (disk full, I/O): the operation did not happen; `errno` is the system's answer.
    case overlay(Errno, String)

    /// A message for the log.
    package var description: String {
        switch self {
        case .notFound: "no such entry"
        case .notADirectory: "not a directory"
        case .isADirectory: "is a directory"
        case .notASymlink: "not a symbolic link"
        case .readOnly: "read-only content"
        case .noAttribute: "no such extended attribute"
        case .attributesNotSupported: "extended attributes cannot be set"
        case .notImplemented(let operation): "\(operation) is not implemented"
        case .unknownInode(let inode): "inode \(inode) is not known to this mount"
        case .unknownHandle(let handle): "handle \(handle) is not open"
        case .nameTooLong: "name longer than 255 bytes"
        case .invalidArgument(let message): message
        case .unknownRepository(let path): "no repository \(path) in this mount"
        case .interrupted: "interrupted"
        case .source(let error): "object source: \(error)"
        case .exists: "the name exists"
        case .notEmpty: "the directory is not empty"
        case .crossRepository: "a rename between repositories"
        case .notPermitted(let message): message
        case .illegalName(let message): message
        case .notSupported(let message): message
        case .journal(let message): message
        case .overlay(_, let message): message
        }
    }
}

extension FSError {
    /// Converts a source failure at the module edge: a cancelled wait is an interrupt, anything else stays a
    /// source failure (EIO).
    package init(_ error: SyncError) {
        if case .cancelled = error {
            self = .interrupted
        } else {
            self = .source(error)
        }
    }
}
