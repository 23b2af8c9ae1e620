import MesaCore
import Synchronization

extension MesaFS {
    /// Applies a modification and answers what its reply needs (``ModificationResult``).
    ///
    /// Until the overlay and journal land (issue 9) every modification is refused with ``FSError/readOnly``
    /// (EROFS), after checking what it names: ``FSError/unknownInode(_:)`` for an inode the mount does not know,
    /// ``FSError/unknownHandle(_:)`` for a handle that is not open, ``FSError/nameTooLong`` for a name over 255
    /// bytes. Nothing changes, lookup counts included. It is async because the write path will copy clean content
    /// into the overlay (a fetch) before the first write to it.
    package func modify(_ modification: Modification) async throws(FSError) -> ModificationResult {
        for inode in modification.inodes { _ = try record(inode) }
        if let handle = modification.handle, handle != .inodeReads,
            state.withLock({ $0.handles[handle] }) == nil
        {
            throw .unknownHandle(handle)
        }
        for name in modification.names where name.bytes.count > 255 { throw .nameTooLong }
        throw .readOnly
    }
}
