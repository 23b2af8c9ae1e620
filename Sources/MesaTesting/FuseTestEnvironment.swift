import Foundation
import MesaFuse

/// Whether FUSE integration tests can run here, and the once-per-process sweep of mounts that crashed test
/// processes left behind.
package enum FuseTestEnvironment {
    /// `MESA_REQUIRE_FUSE=1` (CI): FUSE tests must run; a machine without FUSE then fails them instead of
    /// skipping them.
    package static var isRequired: Bool { ProcessInfo.processInfo.environment["MESA_REQUIRE_FUSE"] == "1" }

    /// `/dev/fuse` is usable and, for non-root users, `fusermount3` is installed.
    package static let isUsable: Bool = {
        guard access("/dev/fuse", R_OK | W_OK) == 0 else { return false }
        if geteuid() == 0 { return true }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { access("\($0)/fusermount3", X_OK) == 0 }
    }()

    /// The condition of `.enabled(if:)` for FUSE tests: true when FUSE is usable, and always when required.
    package static var isAvailable: Bool { isRequired || isUsable }

    /// The directory mount points of this process are made in.
    static let mountRoot: String = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"

    /// Unmounts, once per process, the `fuse.mesa` mounts of test processes that are gone (`fusermount3 -uz`), so
    /// a crashed run leaves no "Transport endpoint is not connected" behind.
    static let staleMountsSwept: Void = {
        let prefix = mountRoot + "/mesa-fuse-"
        for mount in MountTable.mounts() where mount.type == "fuse.mesa" && mount.mountPoint.hasPrefix(prefix) {
            let owner = mount.mountPoint.dropFirst(prefix.count).split(separator: "-").first.flatMap { Int32($0) }
            guard let owner, owner != getpid(), kill(owner, 0) != 0 else { continue }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["fusermount3", "-uz", mount.mountPoint]
            try? process.run()
            process.waitUntilExit()
            rmdir(mount.mountPoint)
        }
    }()
}
