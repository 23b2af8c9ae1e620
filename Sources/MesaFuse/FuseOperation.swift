import MesaCore
import MesaFS

/// A FUSE request with its arguments copied out of libfuse's buffers (STYLE.md section 5.2).
enum FuseOperation: Sendable {
    case lookup(parent: InodeNumber, name: FileName)
    case forget(InodeNumber, count: UInt64)
    case batchForget([(inode: InodeNumber, count: UInt64)])
    case getattr(InodeNumber)
    case readlink(InodeNumber)
    case open(InodeNumber, flags: Int32)
    case read(InodeNumber, handle: FileHandleID, offset: Int64, size: Int)
    case flush(InodeNumber)
    case fsync(InodeNumber)
    case release(FileHandleID)
    case opendir(InodeNumber)
    case readdir(InodeNumber, handle: FileHandleID, offset: Int64, size: Int, plus: Bool)
    case releasedir(FileHandleID)
    case statfs(InodeNumber)
    case getxattr(InodeNumber, name: FileName, size: Int)
    case listxattr(InodeNumber, size: Int)
    case setxattr(InodeNumber, name: FileName)
    case removexattr(InodeNumber, name: FileName)
    case modify(Modification, name: String)

    /// The operation's name for the log (`fuse.op`).
    var name: String {
        switch self {
        case .lookup: "lookup"
        case .forget: "forget"
        case .batchForget: "batch_forget"
        case .getattr: "getattr"
        case .readlink: "readlink"
        case .open: "open"
        case .read: "read"
        case .flush: "flush"
        case .fsync: "fsync"
        case .release: "release"
        case .opendir: "opendir"
        case .readdir(_, _, _, _, let plus): plus ? "readdirplus" : "readdir"
        case .releasedir: "releasedir"
        case .statfs: "statfs"
        case .getxattr: "getxattr"
        case .listxattr: "listxattr"
        case .setxattr: "setxattr"
        case .removexattr: "removexattr"
        case .modify(_, let name): name
        }
    }

    /// The inode the request is about (`fuse.ino`), when it names one.
    var inode: InodeNumber? {
        switch self {
        case .lookup(let inode, _), .forget(let inode, _), .getattr(let inode), .readlink(let inode),
            .open(let inode, _), .read(let inode, _, _, _), .flush(let inode), .fsync(let inode),
            .opendir(let inode), .readdir(let inode, _, _, _, _), .statfs(let inode), .getxattr(let inode, _, _),
            .listxattr(let inode, _), .setxattr(let inode, _), .removexattr(let inode, _):
            inode
        case .batchForget, .release, .releasedir, .modify: nil
        }
    }
}
