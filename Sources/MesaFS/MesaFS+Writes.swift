import Synchronization
package import MesaCore

/// A change to the filesystem requested by the kernel. Every one is refused with ``FSError/readOnly`` until the
/// write path lands (#6: overlay, journal, upload); the cases carry what that path will need.
package enum Modification: Sendable {
    /// `setattr`: mode, owner, size, times.
    case setAttributes(InodeNumber)
    /// `create` and `mknod`: a new file.
    case createFile(parent: InodeNumber, name: FileName)
    /// `mkdir`.
    case makeDirectory(parent: InodeNumber, name: FileName)
    /// `symlink`.
    case makeSymlink(parent: InodeNumber, name: FileName, target: [UInt8])
    /// `link`: a hard link.
    case link(InodeNumber, parent: InodeNumber, name: FileName)
    /// `unlink`.
    case unlink(parent: InodeNumber, name: FileName)
    /// `rmdir`.
    case removeDirectory(parent: InodeNumber, name: FileName)
    /// `rename`.
    case rename(parent: InodeNumber, name: FileName, newParent: InodeNumber, newName: FileName)
    /// `write` on a handle, or on the inode of a file opened without one (``FileHandleID/inodeReads``).
    case write(InodeNumber, handle: FileHandleID)
}

extension MesaFS {
    /// Applies a modification. For now every one fails with ``FSError/readOnly`` (EROFS), after checking that the
    /// inodes it names exist (``FSError/unknownInode(_:)``); no lookup count changes.
    package func modify(_ modification: Modification) throws(FSError) {
        switch modification {
        case .setAttributes(let inode), .createFile(let inode, _), .makeDirectory(let inode, _),
            .makeSymlink(let inode, _, _), .unlink(let inode, _), .removeDirectory(let inode, _):
            _ = try record(inode)
        case .link(let inode, let parent, _):
            _ = try record(inode)
            _ = try record(parent)
        case .rename(let parent, _, let newParent, _):
            _ = try record(parent)
            _ = try record(newParent)
        case .write(let inode, let handle):
            if handle == .inodeReads {
                _ = try record(inode)
            } else if state.withLock({ $0.handles[handle] }) == nil {
                throw .unknownHandle(handle)
            }
        }
        throw .readOnly
    }
}
