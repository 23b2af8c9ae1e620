import CFuse
import MesaCore
import MesaFS

#if canImport(Glibc)
import Glibc
#endif

// The C callback table (STYLE.md section 5.1). Each callback is a non-capturing closure of at most about ten
// lines: recover the bridge from the request's userdata, copy the borrowed arguments, wrap the request, dispatch.
// No filesystem logic lives here. Callbacks left out of the table make libfuse answer ENOSYS itself.

/// The `fuse_lowlevel_ops` callbacks.
enum FuseOperations {
    static let initialize: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<fuse_conn_info>?) -> Void = {
        userdata, connection in
        guard let userdata, let connection else { return }
        // SAFETY: the session's userdata is the bridge, retained until after fuse_session_destroy.
        Unmanaged<FuseBridge>.fromOpaque(userdata).takeUnretainedValue().configuration.negotiate(connection)
    }

    static let lookup: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?) -> Void = {
        request, parent, name in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .lookup(parent: InodeNumber(parent), name: FuseBridge.name(name)))
    }

    static let forget: @convention(c) (fuse_req_t?, fuse_ino_t, UInt64) -> Void = { request, inode, count in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .forget(InodeNumber(inode), count: count))
    }

    static let forgetMulti: @convention(c) (fuse_req_t?, Int, UnsafeMutablePointer<fuse_forget_data>?) -> Void = {
        request, count, items in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        // SAFETY: libfuse passes `count` entries valid until the callback returns; they are copied here.
        let copied = UnsafeBufferPointer(start: items, count: items == nil ? 0 : count).map {
            (inode: InodeNumber($0.ino), count: $0.nlookup)
        }
        bridge.dispatch(FuseRequestHandle(request), .batchForget(copied))
    }

    static let getattr: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = {
        request, inode, _ in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .getattr(InodeNumber(inode)))
    }

    static let setattr: @convention(c) (
        fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<stat>?, Int32, UnsafeMutablePointer<fuse_file_info>?
    ) -> Void = { request, inode, attributes, toSet, info in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        let changes = FuseConversions.attributeChanges(attributes?.pointee, toSet: toSet)
        let handle = info.map { FileHandleID($0.pointee.fh) }
        let modification = Modification.setAttributes(InodeNumber(inode), changes, handle: handle)
        bridge.dispatch(FuseRequestHandle(request), .modify(modification, name: "setattr"))
    }

    static let readlink: @convention(c) (fuse_req_t?, fuse_ino_t) -> Void = { request, inode in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .readlink(InodeNumber(inode)))
    }

    static let mknod: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, mode_t, dev_t) -> Void = {
        request, parent, name, mode, device in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        let modification = Modification.makeNode(
            parent: InodeNumber(parent), name: FuseBridge.name(name), mode: mode, device: UInt64(device))
        bridge.dispatch(FuseRequestHandle(request), .modify(modification, name: "mknod"))
    }

    static let mkdir: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, mode_t) -> Void = {
        request, parent, name, mode in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        let modification = Modification.makeDirectory(
            parent: InodeNumber(parent), name: FuseBridge.name(name), mode: mode)
        bridge.dispatch(FuseRequestHandle(request), .modify(modification, name: "mkdir"))
    }

    static let unlink: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?) -> Void = {
        request, parent, name in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        let modification = Modification.unlink(parent: InodeNumber(parent), name: FuseBridge.name(name))
        bridge.dispatch(FuseRequestHandle(request), .modify(modification, name: "unlink"))
    }

    static let rmdir: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?) -> Void = {
        request, parent, name in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        let modification = Modification.removeDirectory(parent: InodeNumber(parent), name: FuseBridge.name(name))
        bridge.dispatch(FuseRequestHandle(request), .modify(modification, name: "rmdir"))
    }

    static let symlink: @convention(c) (
        fuse_req_t?, UnsafePointer<CChar>?, fuse_ino_t, UnsafePointer<CChar>?
    ) -> Void = { request, target, parent, name in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        let modification = Modification.makeSymlink(
            parent: InodeNumber(parent), name: FuseBridge.name(name), target: FuseBridge.name(target).bytes)
        bridge.dispatch(FuseRequestHandle(request), .modify(modification, name: "symlink"))
    }

    static let rename: @convention(c) (
        fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, fuse_ino_t, UnsafePointer<CChar>?, UInt32
    ) -> Void = { request, parent, name, newParent, newName, flags in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        let modification = Modification.rename(
            parent: InodeNumber(parent), name: FuseBridge.name(name), newParent: InodeNumber(newParent),
            newName: FuseBridge.name(newName), flags: RenameFlags(rawValue: flags))
        bridge.dispatch(FuseRequestHandle(request), .modify(modification, name: "rename"))
    }

    static let link: @convention(c) (fuse_req_t?, fuse_ino_t, fuse_ino_t, UnsafePointer<CChar>?) -> Void = {
        request, inode, newParent, newName in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        let modification = Modification.link(
            InodeNumber(inode), parent: InodeNumber(newParent), name: FuseBridge.name(newName))
        bridge.dispatch(FuseRequestHandle(request), .modify(modification, name: "link"))
    }

    static let open: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = {
        request, inode, info in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .open(InodeNumber(inode), flags: info?.pointee.flags ?? 0))
    }

    static let read: @convention(c) (fuse_req_t?, fuse_ino_t, Int, off_t, UnsafeMutablePointer<fuse_file_info>?)
        -> Void = { request, inode, size, offset, info in
            guard let request, let bridge = FuseBridge.of(request) else { return }
            let handle = FileHandleID(info?.pointee.fh ?? 0)
            let operation = FuseOperation.read(InodeNumber(inode), handle: handle, offset: Int64(offset), size: size)
            bridge.dispatch(FuseRequestHandle(request), operation)
        }

    static let write: @convention(c) (
        fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, Int, off_t, UnsafeMutablePointer<fuse_file_info>?
    ) -> Void = { request, inode, buffer, size, offset, info in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        // SAFETY: libfuse passes `size` bytes valid until the callback returns; they are copied here.
        let bytes = Array(UnsafeRawBufferPointer(start: buffer, count: buffer == nil ? 0 : size))
        let modification = Modification.write(
            InodeNumber(inode), handle: FileHandleID(info?.pointee.fh ?? 0), offset: Int64(offset), bytes: bytes)
        bridge.dispatch(FuseRequestHandle(request), .modify(modification, name: "write"))
    }

    static let fallocate: @convention(c) (
        fuse_req_t?, fuse_ino_t, Int32, off_t, off_t, UnsafeMutablePointer<fuse_file_info>?
    ) -> Void = { request, inode, mode, offset, length, info in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        let modification = Modification.allocate(
            InodeNumber(inode), handle: FileHandleID(info?.pointee.fh ?? 0), mode: mode, offset: Int64(offset),
            length: Int64(length))
        bridge.dispatch(FuseRequestHandle(request), .modify(modification, name: "fallocate"))
    }

    static let flush: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = {
        request, inode, _ in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .flush(InodeNumber(inode)))
    }

    static let release: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = {
        request, _, info in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .release(FileHandleID(info?.pointee.fh ?? 0)))
    }

    static let fsync: @convention(c) (fuse_req_t?, fuse_ino_t, Int32, UnsafeMutablePointer<fuse_file_info>?) -> Void = {
        request, inode, _, _ in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .fsync(InodeNumber(inode)))
    }

    static let opendir: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = {
        request, inode, _ in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .opendir(InodeNumber(inode)))
    }

    static let readdir: @convention(c) (fuse_req_t?, fuse_ino_t, Int, off_t, UnsafeMutablePointer<fuse_file_info>?)
        -> Void = { request, inode, size, offset, info in
            guard let request, let bridge = FuseBridge.of(request) else { return }
            let operation = FuseOperation.readdir(
                InodeNumber(inode), handle: FileHandleID(info?.pointee.fh ?? 0), offset: Int64(offset), size: size,
                plus: false)
            bridge.dispatch(FuseRequestHandle(request), operation)
        }

    static let readdirplus: @convention(c) (
        fuse_req_t?, fuse_ino_t, Int, off_t, UnsafeMutablePointer<fuse_file_info>?
    ) -> Void = { request, inode, size, offset, info in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        let operation = FuseOperation.readdir(
            InodeNumber(inode), handle: FileHandleID(info?.pointee.fh ?? 0), offset: Int64(offset), size: size,
            plus: true)
        bridge.dispatch(FuseRequestHandle(request), operation)
    }

    static let releasedir: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafeMutablePointer<fuse_file_info>?) -> Void = {
        request, _, info in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .releasedir(FileHandleID(info?.pointee.fh ?? 0)))
    }

    static let fsyncdir: @convention(c) (fuse_req_t?, fuse_ino_t, Int32, UnsafeMutablePointer<fuse_file_info>?)
        -> Void = { request, inode, _, _ in
            guard let request, let bridge = FuseBridge.of(request) else { return }
            bridge.dispatch(FuseRequestHandle(request), .fsync(InodeNumber(inode)))
        }

    static let statfs: @convention(c) (fuse_req_t?, fuse_ino_t) -> Void = { request, inode in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .statfs(InodeNumber(inode)))
    }

    static let setxattr: @convention(c) (
        fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, UnsafePointer<CChar>?, Int, Int32
    ) -> Void = { request, inode, name, _, _, _ in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .setxattr(InodeNumber(inode), name: FuseBridge.name(name)))
    }

    static let getxattr: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, Int) -> Void = {
        request, inode, name, size in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        let operation = FuseOperation.getxattr(InodeNumber(inode), name: FuseBridge.name(name), size: size)
        bridge.dispatch(FuseRequestHandle(request), operation)
    }

    static let listxattr: @convention(c) (fuse_req_t?, fuse_ino_t, Int) -> Void = { request, inode, size in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .listxattr(InodeNumber(inode), size: size))
    }

    static let removexattr: @convention(c) (fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?) -> Void = {
        request, inode, name in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        bridge.dispatch(FuseRequestHandle(request), .removexattr(InodeNumber(inode), name: FuseBridge.name(name)))
    }

    static let create: @convention(c) (
        fuse_req_t?, fuse_ino_t, UnsafePointer<CChar>?, mode_t, UnsafeMutablePointer<fuse_file_info>?
    ) -> Void = { request, parent, name, mode, info in
        guard let request, let bridge = FuseBridge.of(request) else { return }
        let modification = Modification.createFile(
            parent: InodeNumber(parent), name: FuseBridge.name(name), mode: mode,
            flags: OpenFlags(rawValue: info?.pointee.flags ?? 0))
        bridge.dispatch(FuseRequestHandle(request), .modify(modification, name: "create"))
    }

    /// The interrupt callback registered with `fuse_req_interrupt_func`; `data` is the bridge.
    static let interrupt: @convention(c) (fuse_req_t?, UnsafeMutableRawPointer?) -> Void = { request, data in
        guard let request, let data else { return }
        // SAFETY: `data` is the bridge, which outlives every request.
        Unmanaged<FuseBridge>.fromOpaque(data).takeUnretainedValue().interrupt(request)
    }

    /// The table passed to `fuse_session_new` (libfuse copies it).
    static var table: fuse_lowlevel_ops {
        var operations = fuse_lowlevel_ops()
        operations.`init` = initialize
        operations.lookup = lookup
        operations.forget = forget
        operations.forget_multi = forgetMulti
        operations.getattr = getattr
        operations.setattr = setattr
        operations.readlink = readlink
        operations.mknod = mknod
        operations.mkdir = mkdir
        operations.unlink = unlink
        operations.rmdir = rmdir
        operations.symlink = symlink
        operations.rename = rename
        operations.link = link
        operations.open = open
        operations.read = read
        operations.write = write
        operations.flush = flush
        operations.release = release
        operations.fsync = fsync
        operations.opendir = opendir
        operations.readdir = readdir
        operations.readdirplus = readdirplus
        operations.releasedir = releasedir
        operations.fsyncdir = fsyncdir
        operations.statfs = statfs
        operations.setxattr = setxattr
        operations.getxattr = getxattr
        operations.listxattr = listxattr
        operations.removexattr = removexattr
        operations.create = create
        operations.fallocate = fallocate
        return operations
    }
}
