import CFuse

/// How a ``FuseSession`` mounts and talks to the kernel.
package struct FuseConfiguration: Sendable, Hashable {
    /// Let other users use the mount (`allow_other`; as non-root this needs `user_allow_other` in
    /// `/etc/fuse.conf`).
    package var allowOther = true
    /// Let the kernel check permissions from the modes we report (`default_permissions`).
    package var defaultPermissions = true
    /// The source shown by `mount` and `/proc/mounts` (`fsname`).
    package var fileSystemName = "mesa"
    /// The type suffix: the mount shows as `fuse.<subtype>`.
    package var subtype = "mesa"
    /// libfuse worker threads at most (`fuse_loop_cfg_set_max_threads`). They never block on content, so a few
    /// suffice.
    package var maxThreads: UInt32 = 8
    /// Background requests (read-ahead, async reads) the kernel may have outstanding (`max_background`).
    package var maxBackground: UInt16 = 64
    /// The mount's read-ahead in KiB, set through `/sys/class/bdi` after mounting when running as root (the FUSE
    /// handshake can only lower it); `nil` leaves the kernel's default.
    package var readAheadKiB: Int? = 1024
    /// libfuse's debug output on stderr (`-d`).
    package var debug = false

    /// The defaults above.
    package static let `default` = FuseConfiguration()

    /// Creates the defaults.
    package init() {}

    /// Mount with `noatime`: reads do not update access times, so the kernel does not drop a file's cached
    /// attributes after each read and ask again on the next `stat` (a warm `grep -r` would cost a `getattr` per
    /// file). Clean content has no access time of its own to keep.
    package var noAccessTime = true

    /// Mount read-only (`ro`): the kernel refuses writes itself (EROFS) and, knowing nothing can change the files'
    /// times, stops dropping a file's cached access time after every read; otherwise each file read since its last
    /// `stat` costs a `getattr` at the next one (a second `grep -r` would pay one per file). `mesa mount` sets it
    /// while MesaFS has no write path.
    package var readOnly = false

    /// The `-o` mount options.
    var mountOptions: [String] {
        var options = ["fsname=\(fileSystemName)", "subtype=\(subtype)"]
        if noAccessTime { options.append("noatime") }
        if readOnly { options.append("ro") }
        if allowOther { options.append("allow_other") }
        if defaultPermissions { options.append("default_permissions") }
        return options
    }

    /// The `init` handshake: what we want from the kernel (`fuse_conn_info.want`).
    func negotiate(_ connection: UnsafeMutablePointer<fuse_conn_info>) {
        let capable = connection.pointee.capable
        for capability in [FUSE_CAP_CACHE_SYMLINKS, FUSE_CAP_READDIRPLUS, FUSE_CAP_READDIRPLUS_AUTO] {
            let bit = UInt32(capability)
            if capable & bit != 0 { connection.pointee.want |= bit }
        }
        // libfuse asks for FUSE_CAP_ATOMIC_O_TRUNC by default: the kernel then leaves `open(O_TRUNC)`'s truncation to
        // the open request. Zero-message opens answer the first open with ENOSYS and get no more open requests, so
        // the truncation would be lost (a clean file opened with O_TRUNC kept its bytes). Without the capability the
        // kernel sends a `setattr` of size 0 after the open, which MesaFS applies like `ftruncate`.
        connection.pointee.want &= ~UInt32(FUSE_CAP_ATOMIC_O_TRUNC)
        connection.pointee.max_background = UInt32(maxBackground)
        connection.pointee.congestion_threshold = UInt32(maxBackground) * 3 / 4
    }
}
