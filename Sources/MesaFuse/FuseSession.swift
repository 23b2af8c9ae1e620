import CFuse
import Dispatch
package import Logging
package import MesaFS
package import MesaSync
import MesaCore
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

// One mounted FUSE session: mount, the multi-threaded loop on its own thread, kernel notifications, and the
// shutdown sequence (STYLE.md section 5.11, docs/Threading.md).
//
// Threads: `fuse_session_loop_mt` runs on one dedicated pthread that `run()` awaits through an event (no thread
// ever blocks in a join while awaiting it); libfuse starts its workers from there. Every other use of the session
// pointer (notifications, exit, unmount, fuse_session_unmount, destroy) runs on one serial dispatch queue, so a
// notification can never race the destruction of the session, and blocking syscalls (umount2, a notification
// waiting for a directory lock in the kernel) never run on Swift's cooperative pool.
//
// Shutdown, in order: (1) `fuse_session_exit`; (2) unmount, which wakes the workers blocked reading /dev/fuse
// (ENODEV) so the loop returns: `umount2` as root, `fusermount3 -u` otherwise; as root, a busy mount (open files, a
// shell inside, a request in progress) is force-unmounted, which aborts its connection, and detached lazily, so
// processes holding files get ENOTCONN instead of keeping the daemon alive (as non-root it is detached lazily and
// the session ends when the last file closes); (3) join the loop thread; (4) cancel and await
// the request Tasks still in flight, which must reply before the session is freed; (5) `fuse_session_unmount`;
// (6) `fuse_session_destroy`; then the bridge (the session's userdata) is released.

/// A mounted FUSE session over a ``MesaFS``. See the file's design note.
package final class FuseSession: Sendable {
    /// A step of the shutdown sequence, recorded in ``shutdownSteps`` as it completes.
    package enum ShutdownStep: String, Sendable, Hashable {
        /// `fuse_session_exit`.
        case exit
        /// The kernel unmount (`umount2` or `fusermount3 -u`).
        case unmount
        /// The loop thread returned and was joined.
        case join
        /// Request Tasks still in flight were cancelled and awaited.
        case drain
        /// `fuse_session_unmount`.
        case sessionUnmount
        /// `fuse_session_destroy`.
        case destroy
    }

    private enum Phase {
        case mounted
        case running
        case stopping
        case finished
    }

    private struct Lifecycle {
        var phase = Phase.mounted
        var thread: pthread_t?
        var steps: [ShutdownStep] = []
        var destroyed = false
    }

    /// The mount point (absolute).
    package let mountPoint: String
    /// The filesystem served.
    package let fs: MesaFS
    /// The kernel's device for the mount (major 0, minor = the connection number), when found.
    package let device: MountTable.Mount?
    private let bridge: FuseBridge
    private let session: SessionPointer
    private let control = DispatchQueue(label: "mesa.fuse.control")
    private let lifecycle = Mutex(Lifecycle())
    private let loopExited = OneShotEvent()
    private let finished = OneShotEvent()
    private let logger: Logger

    private init(
        fs: MesaFS, mountPoint: String, configuration: FuseConfiguration, logger: Logger
    ) throws(FuseError) {
        self.fs = fs
        self.mountPoint = mountPoint
        self.logger = logger
        bridge = FuseBridge(fs: fs, configuration: configuration, logger: logger)
        var arguments = CFuse_fuse_args_init(0, nil)
        defer { fuse_opt_free_args(&arguments) }
        var list = ["mesa", "-o", configuration.mountOptions.joined(separator: ",")]
        if configuration.debug { list.append("-d") }
        for argument in list where fuse_opt_add_arg(&arguments, argument) != 0 {
            throw .sessionCreationFailed
        }
        var operations = FuseOperations.table
        // SAFETY: the retain is the session's userdata; it is released once, after fuse_session_destroy (or at once
        // when creating the session fails).
        let userdata = Unmanaged.passRetained(bridge)
        guard
            let pointer = fuse_session_new(
                &arguments, &operations, MemoryLayout<fuse_lowlevel_ops>.size, userdata.toOpaque())
        else {
            userdata.release()
            throw .sessionCreationFailed
        }
        guard fuse_session_mount(pointer, mountPoint) == 0 else {
            fuse_session_destroy(pointer)
            userdata.release()
            throw .mountFailed(mountPoint: mountPoint)
        }
        session = SessionPointer(pointer: pointer, userdata: userdata)
        device = MountTable.mount(at: mountPoint)
        // The INIT handshake sets the read-ahead to min(current, what we answer), so raise it only afterwards.
        let readAhead = configuration.readAheadKiB
        bridge.whenInitialized { [weak self] in
            guard let self else { return }
            self.control.async { self.raiseReadAhead(readAhead) }
        }
    }

    /// Mounts `fs` at `mountPoint` (an existing empty directory; resolved to its canonical path, as the mount table
    /// shows it). Requests queue in the kernel until ``start()`` or ``run()``.
    /// - Throws: ``FuseError/sessionCreationFailed``, ``FuseError/mountFailed(mountPoint:)``.
    package static func mount(
        _ fs: MesaFS,
        at mountPoint: String,
        configuration: FuseConfiguration = .default,
        logger: Logger = Logger(label: "mesa.fuse")
    ) async throws(FuseError) -> FuseSession {
        // fuse_session_mount calls mount(2) or runs fusermount3: blocking work, kept off the cooperative pool.
        typealias Outcome = Result<FuseSession, FuseError>
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
            DispatchQueue(label: "mesa.fuse.mount").async {
                do throws(FuseError) {
                    let canonical = realpath(mountPoint, nil).map { path in
                        defer { free(path) }
                        return String(cString: path)
                    }
                    let session = try FuseSession(
                        fs: fs, mountPoint: canonical ?? mountPoint, configuration: configuration, logger: logger)
                    continuation.resume(returning: .success(session))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }

    /// Raises the mount's read-ahead in sysfs (root only; best effort).
    private func raiseReadAhead(_ kibibytes: Int?) {
        guard let kibibytes, let device else { return }
        guard geteuid() == 0 else {
            logger.debug("not root: read-ahead left at the kernel's default")
            return
        }
        let path = "/sys/class/bdi/\(device.major):\(device.minor)/read_ahead_kb"
        do throws(Errno) {
            try MountTable.writeFile(path, "\(kibibytes)\n")
        } catch {
            logger.warning("could not raise read-ahead", metadata: ["path": "\(path)", "errno": "\(error)"])
        }
    }

    // MARK: Running

    /// Starts the session loop on its own thread and returns; the mount serves requests from now on.
    /// - Throws: ``FuseError/notStartable`` when started or shut down already; ``FuseError/threadStartFailed(_:)``.
    package func start() throws(FuseError) {
        try lifecycle.withLock { (lifecycle) throws(FuseError) in
            guard lifecycle.phase == .mounted else { throw .notStartable }
            let context = LoopContext(
                session: session, maxThreads: bridge.configuration.maxThreads, exited: loopExited, logger: logger)
            var thread = pthread_t()
            // SAFETY: the thread takes this retain back (takeRetainedValue) exactly once, in LoopContext.main.
            let retained = Unmanaged.passRetained(context)
            let code = pthread_create(&thread, nil, LoopContext.main, retained.toOpaque())
            if code != 0 { retained.release() }
            guard code == 0 else { throw .threadStartFailed(Errno(rawValue: code)) }
            lifecycle.thread = thread
            lifecycle.phase = .running
        }
    }

    /// Serves until the mount goes away (``shutdown()``, `mesa unmount`, `fusermount3 -u`, `umount`), then
    /// finishes the shutdown sequence. Starts the loop when ``start()`` was not called.
    package func run() async throws(FuseError) {
        let startable = lifecycle.withLock { $0.phase == .mounted }
        if startable { try start() }
        _ = await loopExited.wait()
        await shutdown()
    }

    /// Whether the loop thread has returned (the kernel connection ended).
    package var hasStopped: Bool { loopExited.hasFired }

    /// The completed steps of the shutdown sequence, in order.
    package var shutdownSteps: [ShutdownStep] { lifecycle.withLock { $0.steps } }

    /// Unmounts and frees the session in the order of the file's design note. Safe to call several times and
    /// concurrently with ``run()``; every caller returns once the session is destroyed.
    package func shutdown() async {
        let lead = lifecycle.withLock { lifecycle -> Bool? in
            switch lifecycle.phase {
            case .mounted:
                lifecycle.phase = .stopping
                return false
            case .running:
                lifecycle.phase = .stopping
                return true
            case .stopping, .finished:
                return nil
            }
        }
        guard let loopStarted = lead else {
            _ = await finished.wait()
            return
        }
        await onControl { fuse_session_exit(self.session.pointer) }
        record(.exit)
        let busy = await onControl { self.unmountKernel() }
        record(.unmount)
        if loopStarted {
            if !(await loopExited.wait(timeout: .seconds(busy ? 2 : 10))) {
                logger.warning("the FUSE loop did not stop after unmount; aborting the connection")
                await onControl { self.abortConnection() }
                _ = await loopExited.wait()
            }
            let thread = lifecycle.withLock { $0.thread }
            if let thread { await onControl { _ = pthread_join(thread, nil) } }
            record(.join)
        }
        for task in bridge.requests.cancelAll() { await task.value }
        record(.drain)
        await onControl {
            fuse_session_unmount(self.session.pointer)
            self.record(.sessionUnmount)
            fuse_session_destroy(self.session.pointer)
            self.lifecycle.withLock { $0.destroyed = true }
            self.record(.destroy)
        }
        session.userdata.release()
        lifecycle.withLock { $0.phase = .finished }
        finished.fire()
    }

    private func record(_ step: ShutdownStep) {
        lifecycle.withLock { $0.steps.append(step) }
        logger.debug("shutdown step done", metadata: ["fuse.step": "\(step.rawValue)"])
    }

    /// Runs blocking work on the control queue and awaits it.
    private func onControl<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            control.async { continuation.resume(returning: body()) }
        }
    }

    /// Unmounts in the kernel. A busy mount (open files, a working directory inside, a request in progress) is
    /// force-unmounted, which aborts its connection (`umount_begin` of FUSE), and detached lazily when still held.
    /// - Returns: whether the mount was busy.
    private func unmountKernel() -> Bool {
        if geteuid() == 0 {
            if umount2(mountPoint, 0) == 0 { return false }
            let error = Errno(rawValue: errno)
            if error == .invalidArgument || error == .noSuchFileOrDirectory { return false }
            logger.info("mount busy; aborting its connection and detaching it", metadata: ["errno": "\(error)"])
            if umount2(mountPoint, Int32(MNT_FORCE)) == 0 { return true }
            _ = umount2(mountPoint, Int32(MNT_DETACH))
            return true
        }
        if runFusermount(["-u", "-q", mountPoint]) == 0 { return false }
        logger.warning("mount busy; detaching it: the session ends when the last open file closes")
        if runFusermount(["-u", "-z", "-q", mountPoint]) != 0 {
            // fusermount3 refused even a lazy unmount: as non-root it reads /etc/mtab to check who mounted, and a
            // minimal root file system has none (docs/Threading.md). The workers would then wait on /dev/fuse for a
            // request that never comes, and the daemon would never exit: send one, so a worker sees the exit and the
            // loop returns; the kernel ends the connection when the session closes /dev/fuse.
            logger.warning(
                "fusermount3 could not unmount; the session ends anyway and the mount point stays disconnected until it is unmounted or its namespace ends",
                metadata: ["mount_point": "\(mountPoint)"])
            wakeLoop()
        }
        return true
    }

    /// Makes the kernel send the session one request (the lookup of a name nobody uses), so a worker blocked reading
    /// /dev/fuse returns and sees `fuse_session_exit`. The lookup itself is never answered: it fails with ENOTCONN
    /// once the session is destroyed, so it blocks a dispatch thread (never the control queue) that nothing waits for.
    private func wakeLoop() {
        let path = mountPoint + "/.mesa-shutdown-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        DispatchQueue.global(qos: .utility).async { _ = access(path, F_OK) }
    }

    /// Aborts the kernel connection through fusectl (`/sys/fs/fuse/connections/N/abort`), mounting fusectl first
    /// when the system has not (root only): pending and future requests fail with ENOTCONN and the loop returns.
    /// The fallback when the loop outlives the unmount.
    private func abortConnection() {
        guard let device else { return }
        let connections = "/sys/fs/fuse/connections"
        if access("\(connections)/\(device.minor)", F_OK) != 0, geteuid() == 0 {
            _ = Glibc.mount("fusectl", connections, "fusectl", 0, nil)
        }
        do throws(Errno) {
            try MountTable.writeFile("\(connections)/\(device.minor)/abort", "1\n")
        } catch {
            logger.warning("could not abort the FUSE connection", metadata: ["errno": "\(error)"])
        }
    }

    /// Runs `fusermount3` and waits for it.
    private func runFusermount(_ arguments: [String]) -> Int32 {
        let argv = (["fusermount3"] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid = pid_t()
        guard posix_spawnp(&pid, "fusermount3", nil, nil, argv, environ) == 0 else { return -1 }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return status
    }

    // MARK: Remote changes

    /// Tells the kernel to forget names and inodes (`fuse_lowlevel_notify_inval_entry`;
    /// `fuse_lowlevel_notify_inval_inode` for directories' attributes and listings, and for the attributes only of
    /// detached inodes). A name or inode the kernel does not know is not an error (ENOENT).
    package func invalidate(_ invalidation: Invalidation) async {
        guard !invalidation.isEmpty else { return }
        await onControl {
            guard !self.lifecycle.withLock({ $0.destroyed }) else { return }
            for entry in invalidation.entries {
                let code = entry.name.bytes.withUnsafeBufferPointer { name in
                    // SAFETY: UInt8 and CChar have the same layout; libfuse copies the name before returning.
                    name.withMemoryRebound(to: CChar.self) { name in
                        fuse_lowlevel_notify_inval_entry(
                            self.session.pointer, entry.parent.rawValue, name.baseAddress, name.count)
                    }
                }
                self.checkNotification(code, operation: "fuse_lowlevel_notify_inval_entry")
            }
            for inode in invalidation.inodes {
                let code = fuse_lowlevel_notify_inval_inode(self.session.pointer, inode.rawValue, 0, 0)
                self.checkNotification(code, operation: "fuse_lowlevel_notify_inval_inode")
            }
            // A negative offset drops attributes only (fuse_lowlevel.h): open handles keep their cached pages.
            for inode in invalidation.detached {
                let code = fuse_lowlevel_notify_inval_inode(self.session.pointer, inode.rawValue, -1, 0)
                self.checkNotification(code, operation: "fuse_lowlevel_notify_inval_inode")
            }
        }
    }

    private func checkNotification(_ code: Int32, operation: String) {
        guard code != 0, code != -ENOENT else { return }
        logger.debug(
            "notification failed", metadata: ["operation": "\(operation)", "errno": "\(Errno(rawValue: -code))"])
    }

    /// Moves a repository to a new resolution (``MesaFS/update(_:to:)``) and invalidates what changed in the
    /// kernel.
    /// - Returns: what was invalidated.
    @discardableResult
    package func update(_ repository: RepositoryPath, to resolution: Resolution) async throws(FSError) -> Invalidation {
        let invalidation = try await fs.update(repository, to: resolution)
        await invalidate(invalidation)
        return invalidation
    }

    /// Resolves a repository's revision again and applies it (``MesaFS/refresh(_:)``), then invalidates.
    @discardableResult
    package func refresh(_ repository: RepositoryPath) async throws(FSError) -> Invalidation {
        let invalidation = try await fs.refresh(repository)
        await invalidate(invalidation)
        return invalidation
    }

    /// Requests answered by Tasks that have not finished (for tests and `mesa stats`).
    package var requestsInFlight: Int { bridge.requests.count }

    /// Requests the kernel sent this session (every operation, forgets included).
    package var requestsReceived: UInt64 { bridge.requestsReceived }
}

/// The session pointer and the bridge's retain, owned by this session.
// SAFETY: the pointer is used only on the control queue and by libfuse's own loop thread, and freed once, by
// fuse_session_destroy on the control queue after the loop thread was joined; `userdata` is the retain taken for the
// session's userdata, released once after fuse_session_destroy.
private struct SessionPointer: @unchecked Sendable {
    let pointer: OpaquePointer
    let userdata: Unmanaged<FuseBridge>
}

/// What the loop thread needs; retained for the thread's lifetime.
private final class LoopContext: Sendable {
    private let session: SessionPointer
    private let maxThreads: UInt32
    private let exited: OneShotEvent
    private let logger: Logger

    init(session: SessionPointer, maxThreads: UInt32, exited: OneShotEvent, logger: Logger) {
        self.session = session
        self.maxThreads = maxThreads
        self.exited = exited
        self.logger = logger
    }

    /// The thread's start routine.
    static let main: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { argument in
        guard let argument else { return nil }
        // SAFETY: the argument is the context FuseSession.start() retained for this thread; taken back once here.
        Unmanaged<LoopContext>.fromOpaque(argument).takeRetainedValue().run()
        return nil
    }

    /// Runs `fuse_session_loop_mt` until the connection ends, then fires the exit event.
    private func run() {
        let configuration = fuse_loop_cfg_create()
        fuse_loop_cfg_set_max_threads(configuration, maxThreads)
        fuse_loop_cfg_set_clone_fd(configuration, 0)
        let code = fuse_session_loop_mt(session.pointer, configuration)
        fuse_loop_cfg_destroy(configuration)
        if code != 0 { logger.debug("FUSE loop returned", metadata: ["code": "\(code)"]) }
        exited.fire()
    }
}
