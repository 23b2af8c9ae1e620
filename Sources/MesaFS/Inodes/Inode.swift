package import MesaCore
package import MesaSync

/// What backs an inode.
///
/// An inode is either part of the layout (the mount root, organization directories) or **clean**: backed by an
/// entry of a tree at the repository's revision, immutable, read through the object source. The write path (#6)
/// adds a third state, **local**: a node of the journal (content copied into the overlay on first write, or
/// created locally). A local node keeps its inode number through writes, renames and uploads. A clean inode's number stands for one content: a remote update that changes a file's
/// blob gives the path a new inode, so kernel caches and open handles of the old one stay valid; a directory keeps
/// its number and its listing changes under it.
package enum InodeContent: Sendable, Hashable {
    /// The mount root: lists the layout's organizations.
    case mountRoot
    /// An organization directory: lists its repositories.
    case organization(String)
    /// A tree entry at the repository's revision: a tree, a blob or a submodule commit, by kind.
    case clean(EntryKind, ObjectID)
    /// A local node of a writable repository (the journal and the overlay).
    case local(LocalID, LocalKind)

    /// What `stat` shows.
    package var nodeKind: NodeKind {
        switch self {
        case .mountRoot, .organization: .directory
        case .clean(let kind, _):
            switch kind {
            case .directory, .submodule: .directory
            case .regular, .executable: .regularFile
            case .symlink: .symbolicLink
            }
        case .local(_, let kind): kind.nodeKind
        }
    }

    /// Whether two contents may share an inode number: directories keep their number while their listing changes;
    /// files and links only while their content is the same.
    func keepsIdentity(with other: InodeContent) -> Bool {
        if self == other { return true }
        return nodeKind == .directory && other.nodeKind == .directory
    }
}

/// One loaded inode: what the kernel holds a reference to (or an open handle does).
struct Inode: Sendable {
    /// Its number.
    let number: InodeNumber
    /// The directory it was found in (the root's parent is the root).
    var parent: InodeNumber
    /// Its name in the parent.
    var name: FileName
    /// What backs it.
    var content: InodeContent
    /// The layout index of the repository it belongs to (`nil` for the root and organization directories).
    var repository: Int?
    /// Size in bytes (files and links; directories report 4096).
    var size: Int64
    /// See ``FileAttributes/modificationTime``.
    var modificationTime: Int64
    /// The kernel's lookup count (`nlookup`): lookups and readdirplus entries minus forgets.
    var lookupCount: UInt64 = 0
    /// Open file and directory handles.
    var openHandles = 0
    /// False once a remote update removed or replaced its path: holders keep using it, names no longer reach it.
    var attached = true
    /// False for inodes created from a listing that was already out of date (a directory read racing a remote
    /// update): the kernel gets them with no caching.
    var cacheable = true
    /// The sequential-read detector of reads without a handle (``FileHandleID/inodeReads``).
    var window = ReadAheadWindow()
    /// Local nodes: their permission bits (clean content derives them from its kind).
    var permissions: UInt32?
    /// Local nodes: nanoseconds of the modification time.
    var modificationNanoseconds: UInt32 = 0
    /// Local nodes: the access time (clean content shows the modification time).
    var accessTime: Timestamp?

    /// Whether nothing refers to it any more, so its record can go.
    var isUnreferenced: Bool { lookupCount == 0 && openHandles == 0 && number != .root }
}

/// The session's name for a path: the number it was given and the content it was given for, kept for the whole
/// session (even after the inode's record is evicted), so a path keeps its inode number while its content stays.
struct Slot: Sendable, Hashable {
    /// The number.
    var number: InodeNumber
    /// The content the number was given for.
    var content: InodeContent
    /// The modification time shown for it.
    var modificationTime: Int64
}
