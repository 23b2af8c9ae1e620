import CFuse
import MesaCore
import MesaFS
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// A FUSE request on its way from the callback to the task that answers it.
///
/// The only request type that crosses threads: the callback wraps `fuse_req_t` in it and the task's first act
/// adopts it into a ``FuseReply``, which enforces the single reply.
// SAFETY: libfuse lets any thread reply to a request, exactly once, at any time after the callback returned
// (fuse_lowlevel.h, "Reply functions"); the pointer stays valid until that reply, which FuseReply makes unique.
struct FuseRequestHandle: @unchecked Sendable {
    /// The request (`fuse_req_t`).
    let request: OpaquePointer

    /// Wraps a request pointer.
    init(_ request: OpaquePointer) { self.request = request }

    /// The key of the request in the bridge's in-flight table (the pointer's bits).
    var key: UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(request))) }
}

/// The one reply a FUSE request gets (STYLE.md section 5.3).
///
/// Noncopyable and answered through `consuming` methods, so a second reply does not compile. A value dropped
/// without a reply answers EIO in `deinit` and asserts in debug builds: a forgotten reply is a bug, and a request
/// without a reply would hang the calling process.
struct FuseReply: ~Copyable {
    private let request: OpaquePointer

    /// Takes over a request from its handle.
    init(adopting handle: FuseRequestHandle) { request = handle.request }

    /// The request, for calls that do not reply (`fuse_add_direntry`, `fuse_req_ctx`).
    var rawRequest: OpaquePointer { request }

    deinit {
        _ = fuse_reply_err(request, EIO)
        assertionFailure("a FUSE request was dropped without a reply")
    }

    /// Replies with an error (`fuse_reply_err`); 0 means success for calls without data.
    consuming func error(_ errno: Errno) {
        let request = self.request
        discard self
        _ = fuse_reply_err(request, errno.rawValue)
    }

    /// Replies success to a call without data (`fuse_reply_err(req, 0)`).
    consuming func success() {
        let request = self.request
        discard self
        _ = fuse_reply_err(request, 0)
    }

    /// Replies to `forget` and `batch_forget`, which get no answer (`fuse_reply_none`).
    consuming func none() {
        let request = self.request
        discard self
        fuse_reply_none(request)
    }

    /// Replies to `lookup` (`fuse_reply_entry`).
    consuming func entry(_ entry: EntryAttributes) {
        let request = self.request
        discard self
        var parameter = FuseConversions.entryParameter(entry)
        _ = fuse_reply_entry(request, &parameter)
    }

    /// Replies to `getattr` (`fuse_reply_attr`).
    consuming func attributes(_ entry: EntryAttributes) {
        let request = self.request
        discard self
        var attributes = FuseConversions.stat(entry.attributes)
        _ = fuse_reply_attr(request, &attributes, entry.timeout)
    }

    /// Replies to a file `open` that needs no handle (``MesaFS/OpenedHandle/isZeroMessage``): ENOSYS, which the kernel
    /// (since 3.19 with FUSE_NO_OPEN_SUPPORT) takes as success with `keep_cache`, and from then on opens every file
    /// of this mount without asking, reading with handle 0 and sending no `release`.
    consuming func zeroMessageOpen() {
        error(.noFunction)
    }

    /// Replies to `open` and `opendir` (`fuse_reply_open`): the handle and, for clean content, `keep_cache`
    /// (and `cache_readdir` for directories). The kernel (since 4.20) honours `keep_cache` on directories too: without
    /// it every `opendir` drops the cached listing, whatever fuse_common.h says.
    consuming func opened(_ opened: OpenedHandle, directory: Bool) {
        let request = self.request
        discard self
        var info = fuse_file_info()
        info.fh = opened.handle.rawValue
        if opened.keepCache {
            info.keep_cache = 1
            if directory { info.cache_readdir = 1 }
        }
        _ = fuse_reply_open(request, &info)
    }

    /// Replies to `create` (`fuse_reply_create`): the new entry and its open handle.
    consuming func created(_ entry: EntryAttributes, _ opened: OpenedHandle) {
        let request = self.request
        discard self
        var parameter = FuseConversions.entryParameter(entry)
        var info = fuse_file_info()
        info.fh = opened.handle.rawValue
        if opened.keepCache { info.keep_cache = 1 }
        _ = fuse_reply_create(request, &parameter, &info)
    }

    /// Replies to `write` (`fuse_reply_write`): the number of bytes written.
    consuming func written(_ count: Int) {
        let request = self.request
        discard self
        _ = fuse_reply_write(request, count)
    }

    /// Replies with bytes held in slices, one `iovec` each (`fuse_reply_iov`), without joining them.
    consuming func data(_ data: ByteSlices) {
        let request = self.request
        discard self
        var vectors: [iovec] = []
        vectors.reserveCapacity(data.slices.count)
        _ = Self.withVectors(data.slices[...], &vectors) { vectors in
            fuse_reply_iov(request, vectors, Int32(vectors.count))
        }
    }

    /// Pins each slice's storage while its `iovec` is in use: the pointers are valid only inside the nested
    /// `withUnsafeBytes` calls.
    private static func withVectors(
        _ slices: ArraySlice<ArraySlice<UInt8>>,
        _ vectors: inout [iovec],
        _ body: ([iovec]) -> Int32
    ) -> Int32 {
        guard let first = slices.first else { return body(vectors) }
        return first.withUnsafeBytes { raw in
            // SAFETY: libfuse only reads through iov_base; the bytes stay alive until body returns.
            vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count))
            return withVectors(slices.dropFirst(), &vectors, body)
        }
    }

    /// Replies with a buffer (`fuse_reply_buf`): a filled directory listing, or no bytes.
    consuming func buffer(_ bytes: UnsafeRawBufferPointer) {
        let request = self.request
        discard self
        // SAFETY: fuse_reply_buf copies `count` bytes out before returning; char is layout-compatible with bytes.
        _ = fuse_reply_buf(request, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
    }

    /// Replies with bytes (`fuse_reply_buf`).
    consuming func bytes(_ bytes: [UInt8]) {
        let request = self.request
        discard self
        _ = bytes.withUnsafeBytes { raw in
            // SAFETY: fuse_reply_buf copies the bytes out before returning.
            fuse_reply_buf(request, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
        }
    }

    /// Replies to `readlink` with the target (`fuse_reply_readlink`, which needs a C string).
    consuming func link(_ target: [UInt8]) {
        let request = self.request
        discard self
        var text = target.map { CChar(bitPattern: $0) }
        text.append(0)
        _ = fuse_reply_readlink(request, text)
    }

    /// Replies to `statfs` (`fuse_reply_statfs`).
    consuming func statfs(_ statistics: FilesystemStatistics) {
        let request = self.request
        discard self
        var result = statvfs()
        result.f_bsize = UInt(statistics.blockSize)
        result.f_frsize = UInt(statistics.blockSize)
        result.f_blocks = fsblkcnt_t(statistics.blocks)
        result.f_bfree = fsblkcnt_t(statistics.freeBlocks)
        result.f_bavail = fsblkcnt_t(statistics.availableBlocks)
        result.f_files = fsfilcnt_t(statistics.files)
        result.f_ffree = fsfilcnt_t(statistics.freeFiles)
        result.f_favail = fsfilcnt_t(statistics.freeFiles)
        result.f_namemax = UInt(statistics.maximumNameLength)
        _ = fuse_reply_statfs(request, &result)
    }

    /// Replies to a size query of `getxattr`/`listxattr` (`fuse_reply_xattr`).
    consuming func attributeSize(_ size: Int) {
        let request = self.request
        discard self
        _ = fuse_reply_xattr(request, size)
    }
}
