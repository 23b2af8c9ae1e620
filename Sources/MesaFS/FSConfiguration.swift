#if canImport(Glibc)
import Glibc
#endif

/// How a ``MesaFS`` presents itself.
package struct FSConfiguration: Sendable, Hashable {
    /// Owner of every inode (`MESA_UID`; default: the mounting user).
    package var uid: UInt32
    /// Group of every inode (`MESA_GID`; default: the mounting user's group).
    package var gid: UInt32
    /// Seconds the kernel may cache names and attributes of clean content. Clean content never changes under an
    /// inode number, and remote updates invalidate explicitly, so this can be long.
    package var cleanTimeout: Double = 86_400
    /// Seconds the kernel may cache names and attributes of local nodes. Every change to them passes through the
    /// kernel, which updates its caches itself (remote moves never touch a repository with local nodes), so this
    /// can be as long as for clean content: short timeouts cost a lookup or getattr per path use.
    package var localTimeout: Double = 86_400
    /// Modification time of the mount root and organization directories (seconds since the epoch).
    package var mountTime: Int64
    /// The preferred I/O size reported as `st_blksize`.
    package var blockSize: UInt32 = 128 << 10
    /// Open clean files without a handle (``FileHandleID/inodeReads``), so the kernel stops sending `open`, `flush`
    /// and `release` (FUSE's zero-message opens): a warm `grep -r` then costs no request per file. Safe because a
    /// clean inode's content never changes under its number. Default true; tests of handle semantics turn it off.
    package var zeroMessageOpens = true
    /// Prefetch settings (`MESA_PREFETCH_*`).
    package var prefetch: PrefetchConfiguration = .default

    /// Creates a configuration owned by `uid`/`gid` (default: the current user), with the mount time now.
    package init(uid: UInt32? = nil, gid: UInt32? = nil, prefetch: PrefetchConfiguration = .default) {
        self.uid = uid ?? getuid()
        self.gid = gid ?? getgid()
        self.prefetch = prefetch
        mountTime = Int64(time(nil))
    }

    /// The current user, now, default prefetch.
    package static var `default`: FSConfiguration { FSConfiguration() }
}
