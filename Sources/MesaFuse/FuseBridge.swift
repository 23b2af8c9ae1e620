import CFuse
import Logging
import MesaCore
import MesaFS
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

// The bridge between libfuse's worker threads and MesaFS (STYLE.md section 5).
//
// A C callback (FuseOperations) copies its arguments into a FuseOperation and calls `dispatch` on the FUSE thread.
// Requests served from memory without blocking (getattr, open, opendir, release, forget, statfs, xattr calls,
// every refused write, and a read whose manifest and chunks are all in memory) are answered right there. Requests that may wait for content (lookup, readlink, read,
// readdir) get a Task each: `dispatch` registers the request in the in-flight table, registers the interrupt
// callback, starts the Task and returns, so a FUSE thread never waits on Swift concurrency and libfuse's small
// pool stays free. The Task adopts the request into a noncopyable FuseReply and answers it exactly once.
//
// Interrupts: libfuse calls the interrupt callback (with this bridge as data) while the request is unanswered;
// the callback finds the request's Task by its pointer in the in-flight table and cancels it. A FUSE_INTERRUPT
// that arrives before the Task exists is remembered and cancels the Task when it is attached. Each entry carries
// a sequence number, so a request pointer that libfuse reuses after a reply never reaches the wrong Task.
//
// Back-pressure: the kernel bounds outstanding requests (one per calling thread, plus `max_background` read-ahead
// and async requests), so the number of Tasks in flight is bounded without a queue of our own.

/// Requests answered by Tasks that have not finished, by request pointer.
final class InFlightRequests: Sendable {
    private struct Entry {
        var id: UInt64
        var task: Task<Void, Never>?
        var interrupted = false
    }

    private let entries = Mutex<[UInt: Entry]>([:])

    /// Registers a request before its interrupt callback can fire.
    func begin(_ key: UInt, id: UInt64) {
        entries.withLock { $0[key] = Entry(id: id) }
    }

    /// Starts the request's Task under the table's lock, so it cannot end before it is recorded.
    func attach(_ key: UInt, id: UInt64, start: () -> Task<Void, Never>) {
        entries.withLock { entries in
            let task = start()
            guard var entry = entries[key], entry.id == id else { return }
            entry.task = task
            entries[key] = entry
            if entry.interrupted { task.cancel() }
        }
    }

    /// A FUSE_INTERRUPT for the request: cancels its Task, or marks it for cancellation.
    func interrupt(_ key: UInt) {
        entries.withLock { entries in
            guard var entry = entries[key] else { return }
            if let task = entry.task { task.cancel() } else { entry.interrupted = true }
            entries[key] = entry
        }
    }

    /// Removes a request whose Task has replied.
    func end(_ key: UInt, id: UInt64) {
        entries.withLock { entries in
            if entries[key]?.id == id { entries[key] = nil }
        }
    }

    /// Cancels every Task in flight and returns them, to be awaited before the session is destroyed.
    func cancelAll() -> [Task<Void, Never>] {
        entries.withLock { entries in
            let tasks = entries.values.compactMap(\.task)
            for task in tasks { task.cancel() }
            return tasks
        }
    }

    /// The number of requests in flight.
    var count: Int { entries.withLock { $0.count } }
}

/// The log context of one request (mountpoint-s3's span fields).
struct RequestContext: Sendable {
    var id: UInt64
    var operation: String
    var inode: InodeNumber?
    var pid: pid_t

    /// A logger carrying `fuse.op`, `fuse.unique`, `fuse.ino` and `fuse.pid`. `fuse.unique` is our own sequence
    /// number: libfuse 3.14 has no accessor for the kernel's.
    func logger(_ base: Logger) -> Logger {
        var logger = base
        logger[metadataKey: "fuse.op"] = "\(operation)"
        logger[metadataKey: "fuse.unique"] = "\(id)"
        if let inode { logger[metadataKey: "fuse.ino"] = "\(inode)" }
        logger[metadataKey: "fuse.pid"] = "\(pid)"
        return logger
    }
}

/// The session's userdata: receives every request from the C callbacks. See the file's design note.
final class FuseBridge: Sendable {
    let fs: MesaFS
    let logger: Logger
    let configuration: FuseConfiguration
    let requests = InFlightRequests()
    private let sequence = Atomic<UInt64>(0)

    /// Requests dispatched so far.
    var requestsReceived: UInt64 { sequence.load(ordering: .relaxed) }
    private let reportedUnsupported = Mutex<Set<String>>([])
    private let initialized = Atomic<Bool>(false)
    private let afterInitialization = Mutex<(@Sendable () -> Void)?>(nil)

    init(fs: MesaFS, configuration: FuseConfiguration, logger: Logger) {
        self.fs = fs
        self.configuration = configuration
        self.logger = logger
    }

    /// The bridge a request belongs to (`fuse_req_userdata`).
    static func of(_ request: OpaquePointer) -> FuseBridge? {
        guard let userdata = fuse_req_userdata(request) else { return nil }
        // SAFETY: the session's userdata is this bridge, retained until after fuse_session_destroy.
        return Unmanaged<FuseBridge>.fromOpaque(userdata).takeUnretainedValue()
    }

    /// Copies a name libfuse lends for the duration of a callback.
    static func name(_ pointer: UnsafePointer<CChar>?) -> FileName {
        guard let pointer else { return FileName(bytes: []) }
        // SAFETY: libfuse passes a NUL-terminated name valid until the callback returns; it is copied here.
        return FileName(bytes: Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer))))
    }

    // MARK: Dispatch

    /// Registers work to run once the kernel has processed the INIT reply: the first request after INIT proves it
    /// (the kernel holds every request until then). Runs on the caller's thread, so it must only schedule work.
    func whenInitialized(_ body: @escaping @Sendable () -> Void) {
        afterInitialization.withLock { $0 = body }
    }

    /// Serves a request: inline when it needs only memory, otherwise in a Task.
    func dispatch(_ handle: FuseRequestHandle, _ operation: FuseOperation) {
        if !initialized.load(ordering: .relaxed), !initialized.exchange(true, ordering: .relaxed) {
            afterInitialization.withLock { $0 }?()
        }
        let context = RequestContext(
            id: sequence.add(1, ordering: .relaxed).newValue, operation: operation.name, inode: operation.inode,
            pid: fuse_req_ctx(handle.request)?.pointee.pid ?? 0)
        let fs = self.fs
        switch operation {
        case .lookup(let parent, let name):
            // Names in local directories are answered here when nothing must be fetched (no Task).
            do throws(FSError) {
                if let entry = try fs.lookupIfLocal(parent: parent, name: name) {
                    FuseReply(adopting: handle).entry(entry)
                    return
                }
            } catch {
                fail(FuseReply(adopting: handle), error, context)
                return
            }
            spawn(handle, context) { (reply: consuming FuseReply) in
                do throws(FSError) {
                    let entry = try await fs.lookup(parent: parent, name: name)
                    reply.entry(entry)
                } catch {
                    self.fail(reply, error, context)
                }
            }
        case .readlink(let inode):
            spawn(handle, context) { (reply: consuming FuseReply) in
                do throws(FSError) {
                    let target = try await fs.readlink(inode)
                    reply.link(target)
                } catch {
                    self.fail(reply, error, context)
                }
            }
        case .read(let inode, let file, let offset, let size):
            if let data = fs.readIfInMemory(inode: inode, handle: file, offset: offset, size: size) {
                FuseReply(adopting: handle).data(data)
                return
            }
            spawn(handle, context) { (reply: consuming FuseReply) in
                do throws(FSError) {
                    let data =
                        file == .inodeReads
                        ? try await fs.read(inode: inode, offset: offset, size: size)
                        : try await fs.read(file, offset: offset, size: size)
                    reply.data(data)
                } catch {
                    self.fail(reply, error, context)
                }
            }
        case .readdir(let inode, let directory, let offset, let size, let plus):
            if directory == .inodeReads, readdirIfInMemory(handle, inode: inode, offset: offset, size: size, plus: plus) {
                return
            }
            spawn(handle, context) { (reply: consuming FuseReply) in
                await self.readdir(
                    reply, inode: inode, directory: directory, offset: offset, size: size, plus: plus, context)
            }
        case .forget(let inode, let count):
            fs.forget(inode, count: count)
            FuseReply(adopting: handle).none()
        case .batchForget(let items):
            fs.forget(items)
            FuseReply(adopting: handle).none()
        case .getattr(let inode):
            let reply = FuseReply(adopting: handle)
            do throws(FSError) {
                let attributes = try fs.getattr(inode)
                reply.attributes(attributes)
            } catch {
                fail(reply, error, context)
            }
        case .open(let inode, let flags):
            let reply = FuseReply(adopting: handle)
            do throws(FSError) {
                let opened = try fs.open(inode, flags: OpenFlags(rawValue: flags))
                if opened.isZeroMessage { reply.zeroMessageOpen() } else { reply.opened(opened, directory: false) }
            } catch {
                fail(reply, error, context)
            }
        case .opendir(let inode):
            let reply = FuseReply(adopting: handle)
            do throws(FSError) {
                let opened = try fs.opendir(inode)
                if opened.isZeroMessage { reply.zeroMessageOpen() } else { reply.opened(opened, directory: true) }
            } catch {
                fail(reply, error, context)
            }
        case .flush:
            // With zero-message opens there is nothing to flush: ENOSYS makes the kernel stop sending flushes.
            let reply = FuseReply(adopting: handle)
            if fs.configuration.zeroMessageOpens { reply.error(.noFunction) } else { reply.success() }
        case .fsync(let inode):
            // Blocking disk work (fsync of an overlay file and the journal) on the FUSE thread, never a wait on
            // Swift concurrency.
            let reply = FuseReply(adopting: handle)
            do throws(FSError) {
                try fs.fsync(inode)
                reply.success()
            } catch {
                fail(reply, error, context)
            }
        case .release(let file):
            fs.release(file)
            FuseReply(adopting: handle).success()
        case .releasedir(let directory):
            fs.releasedir(directory)
            FuseReply(adopting: handle).success()
        case .statfs:
            FuseReply(adopting: handle).statfs(fs.statfs())
        case .getxattr(let inode, let name, let size):
            let reply = FuseReply(adopting: handle)
            do throws(FSError) {
                let value = try fs.getxattr(inode, name: name)
                replyAttribute(reply, value, size: size)
            } catch {
                fail(reply, error, context)
            }
        case .listxattr(let inode, let size):
            let reply = FuseReply(adopting: handle)
            do throws(FSError) {
                let names = try fs.listxattr(inode)
                replyAttribute(reply, names.flatMap { $0.bytes + [0] }, size: size)
            } catch {
                fail(reply, error, context)
            }
        case .setxattr(let inode, let name):
            let reply = FuseReply(adopting: handle)
            do throws(FSError) {
                try fs.setxattr(inode, name: name, value: [])
                reply.success()
            } catch {
                fail(reply, error, context)
            }
        case .removexattr(let inode, let name):
            let reply = FuseReply(adopting: handle)
            do throws(FSError) {
                try fs.removexattr(inode, name: name)
                reply.success()
            } catch {
                fail(reply, error, context)
            }
        case .modify(let modification, _):
            // Modifications of what is local already are answered here (blocking disk work, no Task); the others
            // may have to fetch content first.
            do throws(FSError) {
                if let result = try fs.modifyIfReady(modification) {
                    Self.reply(FuseReply(adopting: handle), result)
                    return
                }
            } catch {
                fail(FuseReply(adopting: handle), error, context)
                return
            }
            spawn(handle, context) { (reply: consuming FuseReply) in
                do throws(FSError) {
                    Self.reply(reply, try await fs.modify(modification))
                } catch {
                    self.fail(reply, error, context)
                }
            }
        }
    }

    /// Answers a modification with the reply its result needs.
    private static func reply(_ reply: consuming FuseReply, _ result: ModificationResult) {
        switch result {
        case .attributes(let entry): reply.attributes(entry)
        case .entry(let entry): reply.entry(entry)
        case .created(let entry, let opened): reply.created(entry, opened)
        case .written(let count): reply.written(count)
        case .done: reply.success()
        }
    }

    /// Starts the Task that answers a request, registered for interrupts.
    private func spawn(
        _ handle: FuseRequestHandle,
        _ context: RequestContext,
        _ body: @escaping @Sendable (consuming FuseReply) async -> Void
    ) {
        let key = handle.key
        requests.begin(key, id: context.id)
        // SAFETY: the bridge outlives every request (it is released after fuse_session_destroy), and libfuse
        // calls the interrupt function only while the request is unanswered.
        fuse_req_interrupt_func(handle.request, FuseOperations.interrupt, Unmanaged.passUnretained(self).toOpaque())
        requests.attach(key, id: context.id) {
            Task {
                await body(FuseReply(adopting: handle))
                self.requests.end(key, id: context.id)
            }
        }
    }

    /// A FUSE_INTERRUPT arrived for an unanswered request.
    func interrupt(_ request: OpaquePointer) {
        requests.interrupt(FuseRequestHandle(request).key)
    }

    // MARK: Replies

    /// Answers a handle-less `readdir` from memory when MesaFS can (see `MesaFS.readdirIfInMemory`); `false` leaves
    /// the request unanswered for the awaited path.
    private func readdirIfInMemory(
        _ handle: FuseRequestHandle, inode: InodeNumber, offset: Int64, size: Int, plus: Bool
    ) -> Bool {
        let request = handle.request
        let capacity = max(size, 0)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 8)
        defer { buffer.deallocate() }
        var used = 0
        let answered = fs.readdirIfInMemory(inode: inode, offset: offset, plus: plus) { entry in
            guard let added = FuseDirectoryBuffer.add(entry, plus: plus, request: request, into: buffer,
                capacity: capacity, at: used)
            else { return false }
            used += added
            return true
        }
        guard answered else { return false }
        FuseReply(adopting: handle).buffer(UnsafeRawBufferPointer(rebasing: buffer[0..<used]))
        return true
    }

    private func readdir(
        _ reply: consuming FuseReply,
        inode: InodeNumber,
        directory: FileHandleID,
        offset: Int64,
        size: Int,
        plus: Bool,
        _ context: RequestContext
    ) async {
        let request = reply.rawRequest
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 8)
        defer { buffer.deallocate() }
        let capacity = max(size, 0)
        var used = 0
        do throws(FSError) {
            let fill = { (entry: DirectoryEntry) -> Bool in
                guard let added = FuseDirectoryBuffer.add(entry, plus: plus, request: request, into: buffer,
                    capacity: capacity, at: used)
                else { return false }
                used += added
                return true
            }
            if directory == .inodeReads {
                try await fs.readdir(inode: inode, offset: offset, plus: plus, fill: fill)
            } else {
                try await fs.readdir(directory, offset: offset, plus: plus, fill: fill)
            }
            reply.buffer(UnsafeRawBufferPointer(rebasing: buffer[0..<used]))
        } catch {
            fail(reply, error, context)
        }
    }

    /// Answers `getxattr`/`listxattr`: the size when asked for it, ERANGE when the caller's buffer is too small.
    private func replyAttribute(_ reply: consuming FuseReply, _ value: [UInt8], size: Int) {
        if size == 0 {
            reply.attributeSize(value.count)
        } else if value.count > size {
            reply.error(.outOfRange)
        } else {
            reply.bytes(value)
        }
    }

    /// Answers a failed request with its errno and logs it by how expected it is (STYLE.md section 4).
    func fail(_ reply: consuming FuseReply, _ error: FSError, _ context: RequestContext) {
        if case .notImplemented(let operation) = error {
            let first = reportedUnsupported.withLock { $0.insert(operation).inserted }
            if first { context.logger(logger).info("unsupported operation", metadata: ["fuse.error": "\(error)"]) }
        } else if error.isExpected {
            context.logger(logger).trace("request failed", metadata: ["fuse.error": "\(error)"])
        } else {
            context.logger(logger).warning("request failed", metadata: ["fuse.error": "\(error)"])
        }
        reply.error(error.errno)
    }
}

/// Fills a `readdir` reply buffer.
enum FuseDirectoryBuffer {
    /// Adds one entry (`fuse_add_direntry` or `fuse_add_direntry_plus`) at `offset`.
    /// - Returns: the bytes it took, or `nil` when it does not fit (the buffer is then unchanged).
    static func add(
        _ entry: DirectoryEntry,
        plus: Bool,
        request: OpaquePointer,
        into buffer: UnsafeMutableRawBufferPointer,
        capacity: Int,
        at offset: Int
    ) -> Int? {
        let remaining = capacity - offset
        // SAFETY: offset <= capacity <= buffer.count, so the pointer stays inside the allocation; libfuse writes
        // at most `remaining` bytes.
        let start = buffer.baseAddress.map { ($0 + offset).assumingMemoryBound(to: CChar.self) }
        var name = entry.name.bytes.map { CChar(bitPattern: $0) }
        name.append(0)
        let needed: Int
        if plus {
            var parameter = FuseConversions.entryParameter(
                EntryAttributes(attributes: entry.attributes, timeout: entry.timeout))
            // `.` and `..` carry no inode for the kernel to link (passthrough_ll does the same).
            if entry.name.isDotOrDotDot { parameter.ino = 0 }
            needed = fuse_add_direntry_plus(request, start, remaining, name, &parameter, off_t(entry.nextOffset))
        } else {
            var attributes = FuseConversions.stat(entry.attributes)
            needed = fuse_add_direntry(request, start, remaining, name, &attributes, off_t(entry.nextOffset))
        }
        return needed <= remaining ? needed : nil
    }
}
