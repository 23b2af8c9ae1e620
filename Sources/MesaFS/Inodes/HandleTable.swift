import MesaCore
import MesaSync

/// An open file: the content it was opened on, pinned for its lifetime (a remote update never changes what an
/// open handle reads), and its reader's read-ahead window.
struct OpenFile: Sendable {
    /// The inode it was opened on.
    var inode: InodeNumber
    /// What was opened: a blob (clean content, pinned for the handle's life) or a local node.
    var content: Content
    /// The layout index of its repository.
    var repository: Int
    /// The sequential-read detector.
    var window = ReadAheadWindow()
}

extension OpenFile {
    /// What an open file reads.
    enum Content: Sendable, Hashable {
        /// A clean blob.
        case blob(ObjectID)
        /// A local node (its current bytes).
        case local(LocalID)
    }
}

/// An open directory and the listing its `readdir` calls page through, so offsets stay stable between calls.
struct OpenDirectory: Sendable {
    /// The directory's inode.
    var inode: InodeNumber
    /// The listing taken at the first `readdir` (offset 0), reused at later offsets.
    var listing: Listing?
}

/// A directory's entries at one moment (without `.` and `..`).
struct Listing: Sendable {
    /// One entry.
    struct Item: Sendable {
        var name: FileName
        var content: InodeContent
        var repository: Int?
        var modificationTime: Int64
    }

    /// The directory's content when the listing was taken: entries made from it are attached only while the
    /// directory still has this content.
    var content: InodeContent
    /// The entries in order.
    var items: [Item]
}

/// The open handles of a mount session.
struct HandleTable: Sendable {
    enum Handle: Sendable {
        case file(OpenFile)
        case directory(OpenDirectory)

        var inode: InodeNumber {
            switch self {
            case .file(let file): file.inode
            case .directory(let directory): directory.inode
            }
        }
    }

    private(set) var handles: [FileHandleID: Handle] = [:]
    private var next: UInt64 = 1

    /// Registers a handle and returns its id.
    mutating func open(_ handle: Handle) -> FileHandleID {
        let id = FileHandleID(next)
        next += 1
        handles[id] = handle
        return id
    }

    /// Removes a handle.
    mutating func close(_ id: FileHandleID) -> Handle? { handles.removeValue(forKey: id) }

    subscript(_ id: FileHandleID) -> Handle? {
        get { handles[id] }
        set { handles[id] = newValue }
    }
}
