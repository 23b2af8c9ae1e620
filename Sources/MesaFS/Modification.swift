package import MesaCore

/// A change to the filesystem requested by the kernel, with every argument the kernel sent: MesaFuse copies them
/// out of libfuse's buffers, so MesaFS decides what each means (STYLE.md section 5.2).
package enum Modification: Sendable, Equatable {
    /// `setattr`: the attributes named in `changes`; `handle` when the call came through an open file (`ftruncate`,
    /// `futimens`), else `nil`.
    case setAttributes(InodeNumber, AttributeChanges, handle: FileHandleID?)
    /// `create`: a new regular file, opened with `flags` (`O_EXCL` among them when the caller asked for it).
    case createFile(parent: InodeNumber, name: FileName, mode: UInt32, flags: OpenFlags)
    /// `mknod`: a node of `mode`'s type (`S_IFREG` for regular files); `device` for device nodes.
    case makeNode(parent: InodeNumber, name: FileName, mode: UInt32, device: UInt64)
    /// `mkdir`.
    case makeDirectory(parent: InodeNumber, name: FileName, mode: UInt32)
    /// `symlink`: a link at `name` whose target is `target` (bytes, unchecked).
    case makeSymlink(parent: InodeNumber, name: FileName, target: [UInt8])
    /// `link`: a hard link to `inode` at `name`.
    case link(InodeNumber, parent: InodeNumber, name: FileName)
    /// `unlink`.
    case unlink(parent: InodeNumber, name: FileName)
    /// `rmdir`.
    case removeDirectory(parent: InodeNumber, name: FileName)
    /// `rename` (`renameat2`), with its flags.
    case rename(parent: InodeNumber, name: FileName, newParent: InodeNumber, newName: FileName, flags: RenameFlags)
    /// `write`: `bytes` at `offset` of a file opened as `handle` (``FileHandleID/inodeReads`` for a file opened
    /// without a handle).
    case write(InodeNumber, handle: FileHandleID, offset: Int64, bytes: [UInt8])
    /// `fallocate`: `mode` as `fallocate(2)` takes it, over `length` bytes at `offset`.
    case allocate(InodeNumber, handle: FileHandleID, mode: Int32, offset: Int64, length: Int64)

    /// The inodes the modification names, in the order it names them (the handle's inode is not among them).
    package var inodes: [InodeNumber] {
        switch self {
        case .setAttributes(let inode, _, _), .write(let inode, _, _, _), .allocate(let inode, _, _, _, _):
            [inode]
        case .createFile(let parent, _, _, _), .makeNode(let parent, _, _, _), .makeDirectory(let parent, _, _),
            .makeSymlink(let parent, _, _), .unlink(let parent, _), .removeDirectory(let parent, _):
            [parent]
        case .link(let inode, let parent, _): [inode, parent]
        case .rename(let parent, _, let newParent, _, _): [parent, newParent]
        }
    }

    /// The names the modification would create or remove.
    package var names: [FileName] {
        switch self {
        case .createFile(_, let name, _, _), .makeNode(_, let name, _, _), .makeDirectory(_, let name, _),
            .makeSymlink(_, let name, _), .link(_, _, let name), .unlink(_, let name), .removeDirectory(_, let name):
            [name]
        case .rename(_, let name, _, let newName, _): [name, newName]
        case .setAttributes, .write, .allocate: []
        }
    }

    /// The open handle the modification goes through, if any.
    package var handle: FileHandleID? {
        switch self {
        case .setAttributes(_, _, let handle): handle
        case .write(_, let handle, _, _), .allocate(_, let handle, _, _, _): handle
        default: nil
        }
    }
}

/// What a successful modification answers, by the reply the kernel expects for it.
package enum ModificationResult: Sendable, Equatable {
    /// `setattr`: the attributes after the change.
    case attributes(EntryAttributes)
    /// `mknod`, `mkdir`, `symlink`, `link`: the new entry (its lookup count incremented).
    case entry(EntryAttributes)
    /// `create`: the new entry (its lookup count incremented) and its open handle.
    case created(EntryAttributes, OpenedHandle)
    /// `write`: the number of bytes written.
    case written(Int)
    /// `unlink`, `rmdir`, `rename`, `fallocate`: plain success.
    case done
}

/// The attributes a `setattr` changes: `nil` leaves one as it is.
package struct AttributeChanges: Sendable, Hashable {
    /// New permission bits (the file type bits are ignored).
    package var mode: UInt32?
    /// New owner.
    package var uid: UInt32?
    /// New group.
    package var gid: UInt32?
    /// New size (truncate or extend).
    package var size: Int64?
    /// New access time.
    package var accessTime: TimeChange?
    /// New modification time.
    package var modificationTime: TimeChange?

    /// A time to set.
    package enum TimeChange: Sendable, Hashable {
        /// The current time (`UTIME_NOW`).
        case now
        /// A given time, in seconds and nanoseconds since the epoch.
        case at(Timestamp)
    }

    /// Changes nothing.
    package init(
        mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, size: Int64? = nil,
        accessTime: TimeChange? = nil, modificationTime: TimeChange? = nil
    ) {
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.size = size
        self.accessTime = accessTime
        self.modificationTime = modificationTime
    }
}

/// A time with nanoseconds.
package struct Timestamp: Sendable, Hashable, Comparable {
    /// Seconds since the epoch.
    package var seconds: Int64
    /// Nanoseconds within the second, `0..<1_000_000_000`.
    package var nanoseconds: UInt32

    /// A time; nanoseconds past a second are refused by the caller's conversion, not here.
    package init(seconds: Int64, nanoseconds: UInt32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    package static func < (left: Timestamp, right: Timestamp) -> Bool {
        (left.seconds, left.nanoseconds) < (right.seconds, right.nanoseconds)
    }
}

/// The flags of `renameat2(2)`.
package struct RenameFlags: OptionSet, Sendable, Hashable {
    package var rawValue: UInt32
    package init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `RENAME_NOREPLACE`: fail with EEXIST when the target exists.
    package static let noReplace = RenameFlags(rawValue: 1 << 0)
    /// `RENAME_EXCHANGE`: swap source and target atomically.
    package static let exchange = RenameFlags(rawValue: 1 << 1)
    /// `RENAME_WHITEOUT`: leave a whiteout at the source (overlay filesystems).
    package static let whiteout = RenameFlags(rawValue: 1 << 2)
}
