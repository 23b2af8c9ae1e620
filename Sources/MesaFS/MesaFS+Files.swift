#if canImport(Glibc)
import Glibc
#endif
import Synchronization
package import MesaCore
import MesaSync

/// The flags of an `open` call (`fuse_file_info.flags`), reduced to what MesaFS decides on.
package struct OpenFlags: Sendable, Hashable {
    /// The raw `open(2)` flags.
    package var rawValue: Int32

    /// Wraps raw flags.
    package init(rawValue: Int32) { self.rawValue = rawValue }

    /// Read-only, no other flags.
    package static let readOnly = OpenFlags(rawValue: O_RDONLY)

    /// Whether the call asks to change content: write access, truncation, creation or appending.
    package var modifiesContent: Bool {
        rawValue & O_ACCMODE != O_RDONLY || rawValue & (O_TRUNC | O_CREAT | O_APPEND) != 0
    }
}

/// An opened file or directory.
package struct OpenedHandle: Sendable, Hashable {
    /// The handle to pass to later calls.
    package var handle: FileHandleID
    /// Whether the kernel may keep cached pages (files: `keep_cache`) or listings (directories: `cache_readdir`):
    /// true for clean content, which never changes under its inode number.
    package var keepCache: Bool

    /// Whether this is a zero-message open (``FileHandleID/inodeReads``), which MesaFuse answers so that the
    /// kernel stops sending opens.
    package var isZeroMessage: Bool { handle == .inodeReads }
}

extension MesaFS {
    /// `open`: opens a file for reading.
    ///
    /// With ``FSConfiguration/zeroMessageOpens`` the answer is ``FileHandleID/inodeReads``: no handle is made, and
    /// MesaFuse tells the kernel to stop sending opens (and the flushes and releases that follow them), so a warm
    /// open costs no request. That keeps the guarantee a handle gives, because a clean inode's number stands for one
    /// content: a remote update gives the path a new inode, and reads of the old one (``read(inode:offset:size:)``)
    /// keep returning the content it was opened on. Otherwise the handle pins the blob the inode shows now.
    /// Valid replies: the handle, ``FSError/readOnly`` for any write intent, ``FSError/isADirectory``,
    /// ``FSError/unknownInode(_:)``. No effect on lookup counts; a real handle keeps the inode loaded until release.
    package func open(_ inode: InodeNumber, flags: OpenFlags) throws(FSError) -> OpenedHandle {
        let zeroMessage = configuration.zeroMessageOpens
        let writable = writesAccepted
        return try state.withLock { (state) throws(FSError) -> OpenedHandle in
            guard let record = state.inodes[inode] else { throw .unknownInode(inode) }
            guard let repository = record.repository else { throw .isADirectory }
            let content: OpenFile.Content
            switch record.content {
            case .clean(let kind, let blob) where kind.isBlob: content = .blob(blob)
            case .local(let id, let kind) where kind != .directory: content = .local(id)
            default: throw .isADirectory
            }
            if flags.modifiesContent, !writable { throw .readOnly }
            state.opens += 1
            if zeroMessage { return OpenedHandle(handle: .inodeReads, keepCache: true) }
            state.inodes.retainHandle(inode)
            let handle = state.handles.open(.file(OpenFile(inode: inode, content: content, repository: repository)))
            guard case .blob = content else { return OpenedHandle(handle: handle, keepCache: false) }
            return OpenedHandle(handle: handle, keepCache: record.cacheable)
        }
    }

    /// `read`: up to `size` bytes at `offset` of an open file (fewer at its end), touching only the chunks that
    /// cover them; a sequential reader's read-ahead window loads the following chunks in the background.
    ///
    /// Valid replies: the bytes, ``FSError/unknownHandle(_:)``, ``FSError/interrupted`` (checked at chunk
    /// boundaries), ``FSError/source(_:)`` (EIO, at once when the source fails).
    package func read(_ handle: FileHandleID, offset: Int64, size: Int) async throws(FSError) -> ByteSlices {
        guard offset >= 0, size >= 0 else { throw .invalidArgument("negative offset or size") }
        let range = offset..<(offset + Int64(size))
        let (content, repository, readAhead) = try state.withLock {
            (state) throws(FSError) -> (OpenFile.Content, Int, Int64) in
            guard case .file(var file) = state.handles[handle] else { throw .unknownHandle(handle) }
            let readAhead = file.window.record(range)
            state.handles[handle] = .file(file)
            return (file.content, file.repository, readAhead)
        }
        switch content {
        case .blob(let blob): return try await read(blob, in: repository, range: range, readAhead: readAhead)
        case .local(let id): return try await readLocal(id, in: repository, range: range)
        }
    }

    /// `read` of a file opened without a handle (``FileHandleID/inodeReads``): the bytes of the content the inode
    /// number stands for, with a read-ahead window kept on the inode (shared by its readers, as the kernel's page
    /// cache is). Valid replies: as ``read(_:offset:size:)``, with ``FSError/unknownInode(_:)`` for a handle's
    /// ``FSError/unknownHandle(_:)`` and ``FSError/isADirectory`` for an inode that is not a file.
    package func read(inode: InodeNumber, offset: Int64, size: Int) async throws(FSError) -> ByteSlices {
        guard offset >= 0, size >= 0 else { throw .invalidArgument("negative offset or size") }
        let range = offset..<(offset + Int64(size))
        let (content, repository, readAhead) = try state.withLock {
            (state) throws(FSError) -> (OpenFile.Content, Int, Int64) in
            guard let record = state.inodes[inode] else { throw .unknownInode(inode) }
            guard let repository = record.repository else { throw .isADirectory }
            switch record.content {
            case .clean(let kind, let blob) where kind.isBlob:
                return (.blob(blob), repository, state.inodes.recordRead(inode, range))
            case .local(let id, let kind) where kind != .directory:
                return (.local(id), repository, 0)
            default:
                throw .isADirectory
            }
        }
        switch content {
        case .blob(let blob): return try await read(blob, in: repository, range: range, readAhead: readAhead)
        case .local(let id): return try await readLocal(id, in: repository, range: range)
        }
    }

    /// A `read` answered from memory at once when the content is there (``ObjectSource/readIfInMemory(_:range:readAhead:)``),
    /// else `nil` (the caller then awaits ``read(_:offset:size:)`` or ``read(inode:offset:size:)``). Never blocks:
    /// MesaFuse calls it on the FUSE thread. Records the read in the read-ahead window as the awaited forms do, so
    /// it must be followed by one of them only when it returned `nil`.
    package func readIfInMemory(inode: InodeNumber, handle: FileHandleID, offset: Int64, size: Int) -> ByteSlices? {
        guard offset >= 0, size >= 0 else { return nil }
        let range = offset..<(offset + Int64(size))
        let target = state.withLock { state -> (ObjectID, Int, ReadAheadWindow)? in
            if handle == .inodeReads {
                guard let record = state.inodes[inode], case .clean(let kind, let blob) = record.content, kind.isBlob,
                    let repository = record.repository
                else { return nil }
                return (blob, repository, record.window)
            }
            guard case .file(let file) = state.handles[handle], case .blob(let blob) = file.content else { return nil }
            return (blob, file.repository, file.window)
        }
        guard let (blob, repository, window) = target else { return nil }
        var probe = window
        let readAhead = probe.record(range)
        guard let data = layout.repositories[repository].source.readIfInMemory(blob, range: range, readAhead: readAhead)
        else { return nil }
        // Served: now the window moves (a miss leaves it to the awaited read, which records the same range).
        state.withLock { state in
            if handle == .inodeReads {
                _ = state.inodes.recordRead(inode, range)
            } else if case .file(var file) = state.handles[handle] {
                _ = file.window.record(range)
                state.handles[handle] = .file(file)
            }
        }
        prefetcher.noteContentRead()
        return data
    }

    /// Reads a local node: its overlay file, or the blob it still shows.
    private func readLocal(_ id: LocalID, in repository: Int, range: Range<Int64>) async throws(FSError) -> ByteSlices {
        guard let node = state.withLock({ $0.local.node(id) }) else { throw .notFound }
        let end = min(range.upperBound, node.size)
        guard range.lowerBound < end else { return ByteSlices() }
        switch node.content {
        case .blob(let blob):
            return try await read(blob, in: repository, range: range.lowerBound..<end, readAhead: 0)
        case .overlay:
            guard let overlay else { throw .readOnly }
            return ByteSlices(try overlay.read(id, at: range.lowerBound, count: Int(end - range.lowerBound)))
        }
    }

    private func read(
        _ blob: ObjectID, in repository: Int, range: Range<Int64>, readAhead: Int64
    ) async throws(FSError) -> ByteSlices {
        if Task.isCancelled { throw .interrupted }
        prefetcher.noteContentRead()
        do throws(SyncError) {
            return try await layout.repositories[repository].source.read(blob, range: range, readAhead: readAhead)
        } catch {
            throw FSError(error)
        }
    }

    /// `release`: closes a file handle. Never fails; an unknown handle is ignored.
    package func release(_ handle: FileHandleID) {
        state.withLock { state in
            guard let closed = state.handles.close(handle) else { return }
            state.inodes.releaseHandle(closed.inode)
        }
    }

    /// `readlink`: a symbolic link's target bytes.
    ///
    /// Valid replies: the target, ``FSError/notASymlink``, ``FSError/unknownInode(_:)``, ``FSError/source(_:)``.
    package func readlink(_ inode: InodeNumber) async throws(FSError) -> [UInt8] {
        let record = try record(inode)
        if case .local(let id, .symlink) = record.content {
            guard let node = state.withLock({ $0.local.node(id) }) else { throw .notFound }
            guard case .blob(let blob) = node.content, node.target.isEmpty, let repository = record.repository else {
                return node.target
            }
            do throws(SyncError) {
                return try await layout.repositories[repository].source.read(blob, range: 0..<node.size, readAhead: 0)
                    .joined
            } catch {
                throw FSError(error)
            }
        }
        guard case .clean(.symlink, let blob) = record.content, let repository = record.repository else {
            throw .notASymlink
        }
        do throws(SyncError) {
            let source = layout.repositories[repository].source
            return try await source.read(blob, range: 0..<record.size, readAhead: 0).joined
        } catch {
            throw FSError(error)
        }
    }
}
