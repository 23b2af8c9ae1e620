package import MesaCore

/// What an inode is, as `stat` shows it.
package enum NodeKind: Sendable, Hashable {
    /// A directory (also the mount root, organization directories and submodules).
    case directory
    /// A regular file.
    case regularFile
    /// A symbolic link.
    case symbolicLink

    /// The file-type bits of `st_mode` (`S_IFDIR`, `S_IFREG`, `S_IFLNK`).
    package var typeBits: UInt32 {
        switch self {
        case .directory: 0o040000
        case .regularFile: 0o100000
        case .symbolicLink: 0o120000
        }
    }
}

/// The attributes of an inode (`struct stat`), as MesaFS computes them.
package struct FileAttributes: Sendable, Hashable {
    /// The inode.
    package var inode: InodeNumber
    /// What it is.
    package var kind: NodeKind
    /// Permission bits: `0755` for directories and executables, `0644` for files, `0777` for links.
    package var permissions: UInt32
    /// Size in bytes (a link's target length; 4096 for directories).
    package var size: Int64
    /// Hard links: 1 for files, 0 once a remote update removed or replaced it; 1 for directories, which are not
    /// counted (as btrfs reports them; `find` then does not rely on the count).
    package var linkCount: UInt32
    /// Owner (`MESA_UID`).
    package var uid: UInt32
    /// Group (`MESA_GID`).
    package var gid: UInt32
    /// Modification, change and access time, in seconds since the epoch: the commit time of the revision in which
    /// this mount first showed this content at this path.
    package var modificationTime: Int64
    /// The preferred I/O size.
    package var blockSize: UInt32
    /// Nanoseconds of the modification time (local nodes; clean content shows whole seconds).
    package var modificationNanoseconds: UInt32 = 0
    /// The access time, when it differs from the modification time (local nodes).
    package var accessTime: Timestamp?

    /// `st_mode`: type bits and permissions.
    package var mode: UInt32 { kind.typeBits | permissions }

    /// `st_blocks`: 512-byte blocks.
    package var blocks: Int64 { (size + 511) / 512 }
}

/// The answer to a lookup: the entry's attributes and how long the kernel may cache them.
package struct EntryAttributes: Sendable, Hashable {
    /// The attributes (including the inode number).
    package var attributes: FileAttributes
    /// Seconds the kernel may cache the name and the attributes.
    package var timeout: Double

    /// Creates an entry's answer.
    package init(attributes: FileAttributes, timeout: Double) {
        self.attributes = attributes
        self.timeout = timeout
    }
}

/// `statfs` values.
package struct FilesystemStatistics: Sendable, Hashable {
    /// Block size.
    package var blockSize: UInt32 = 4096
    /// Total blocks (0: the mount holds no local space of its own).
    package var blocks: UInt64 = 0
    /// Free blocks (0: read-only).
    package var freeBlocks: UInt64 = 0
    /// Blocks available to unprivileged users.
    package var availableBlocks: UInt64 = 0
    /// Inodes known to the session, or the state directory's inode count (writable mounts).
    package var files: UInt64 = 0
    /// Free inodes.
    package var freeFiles: UInt64 = 0
    /// Longest name.
    package var maximumNameLength: UInt32 = 255
}

/// One entry returned by `readdir`.
package struct DirectoryEntry: Sendable {
    /// The name (`.` and `..` included).
    package var name: FileName
    /// The inode number and kind; for `readdirplus`, complete attributes.
    package var attributes: FileAttributes
    /// How long the kernel may cache the entry (`readdirplus`).
    package var timeout: Double
    /// The offset to pass to continue after this entry.
    package var nextOffset: Int64
}

