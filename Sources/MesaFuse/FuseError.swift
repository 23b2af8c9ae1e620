package import SystemPackage

/// Failures of the FUSE session itself (not of requests, which answer an errno).
package enum FuseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libfuse refused the arguments (`fuse_session_new`); its message went to stderr.
    case sessionCreationFailed
    /// Mounting failed (`fuse_session_mount`); libfuse's message went to stderr. Usual causes: the mount point
    /// does not exist or is not an empty directory, `/dev/fuse` is missing, or `allow_other` without
    /// `user_allow_other` in `/etc/fuse.conf` for a non-root user.
    case mountFailed(mountPoint: String)
    /// The session loop thread could not start (`pthread_create`).
    case threadStartFailed(Errno)
    /// `start()` was called on a session that was started or shut down already.
    case notStartable

    /// A message that says what went wrong and what to do.
    package var description: String {
        switch self {
        case .sessionCreationFailed: "libfuse refused the session options (fuse_session_new); see its message above"
        case .mountFailed(let mountPoint):
            "could not mount at \(mountPoint) (fuse_session_mount): check that it is an empty directory, that "
                + "/dev/fuse exists, and, when not root, that /etc/fuse.conf has user_allow_other"
        case .threadStartFailed(let errno): "could not start the FUSE loop thread (pthread_create): \(errno)"
        case .notStartable: "the FUSE session was started or shut down already"
        }
    }
}
