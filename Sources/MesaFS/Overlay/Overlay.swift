import Foundation
package import MesaCore
import SystemPackage
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// Overlay files: the bytes of local files, one file per local node (`<state>/overlay/<id>`), beside the journal
// (`<state>/journal.sqlite`). Calls are plain blocking system calls: MesaFS makes them on the thread that serves
// the request (a FUSE worker, or a Task's thread for requests that had to wait), never while holding its lock.
// Descriptors are kept open per node (a bounded number), so a write is one pwrite.

/// The state directory of a writable mount: the journal and the overlay files.
package final class Overlay: Sendable {
    /// The state directory.
    package let directory: String
    /// The journal.
    package let journal: Journal
    private let descriptors = Mutex<[LocalID: FileDescriptor]>([:])
    /// Open descriptors kept at most; past it they are all closed (and reopened on use).
    static let descriptorLimit = 512

    /// Opens (creating) the state directory `directory`.
    /// - Throws: ``FSError/overlay(_:_:)`` when the directory cannot be made, ``FSError/journal(_:)``.
    package init(directory: String) throws(FSError) {
        self.directory = directory
        var parents: [String] = []
        var prefix = ""
        for component in directory.split(separator: "/") {
            prefix += (prefix.isEmpty && !directory.hasPrefix("/") ? "" : "/") + component
            parents.append(prefix)
        }
        for path in parents + [directory + "/overlay"] where mkdir(path, 0o700) != 0 && Glibc.errno != EEXIST {
            let code = Errno(rawValue: Glibc.errno)
            throw .overlay(code, "cannot create the state directory \(path): \(code)")
        }
        journal = try Journal(path: directory + "/journal.sqlite")
    }

    /// The overlay file of a node.
    package func path(of id: LocalID) -> String { "\(directory)/overlay/\(id.rawValue)" }

    private func descriptor(_ id: LocalID) throws(FSError) -> FileDescriptor {
        if let descriptor = descriptors.withLock({ $0[id] }) { return descriptor }
        let opened: FileDescriptor
        do {
            opened = try FileDescriptor.open(path(of: id), .readWrite, options: [.create], permissions: [.ownerReadWrite])
        } catch {
            throw .overlay(error as? Errno ?? .ioError, "cannot open the overlay file of \(id): \(error)")
        }
        let (kept, surplus) = descriptors.withLock { table -> (FileDescriptor, [FileDescriptor]) in
            if let existing = table[id] { return (existing, [opened]) }
            var surplus: [FileDescriptor] = []
            if table.count >= Self.descriptorLimit {
                surplus = Array(table.values)
                table.removeAll()
            }
            table[id] = opened
            return (opened, surplus)
        }
        for descriptor in surplus { try? descriptor.close() }
        return kept
    }

    /// Runs a system call on a node's descriptor, reopening it once if another thread closed it meanwhile (the
    /// descriptor limit).
    private func withDescriptor<Value>(
        _ id: LocalID, _ what: String, _ body: (FileDescriptor) throws(Errno) -> Value
    ) throws(FSError) -> Value {
        var attempts = 0
        while true {
            let descriptor = try descriptor(id)
            do throws(Errno) {
                return try body(descriptor)
            } catch {
                attempts += 1
                if error == .badFileDescriptor, attempts < 3 { continue }
                throw .overlay(error, "cannot \(what) the overlay file of \(id): \(error)")
            }
        }
    }

    /// Creates an empty overlay file for a new node (replacing any leftover of the same number).
    package func create(_ id: LocalID) throws(FSError) {
        try withDescriptor(id, "truncate") { (descriptor) throws(Errno) in
            try Self.check(ftruncate(descriptor.rawValue, 0))
        }
    }

    /// Writes `bytes` at `offset`; returns the count written (all of it, or an error).
    package func write(_ id: LocalID, at offset: Int64, _ bytes: [UInt8]) throws(FSError) -> Int {
        try withDescriptor(id, "write") { (descriptor) throws(Errno) -> Int in
            var written = 0
            while written < bytes.count {
                let count = bytes.withUnsafeBytes { buffer in
                    pwrite(descriptor.rawValue, buffer.baseAddress! + written, buffer.count - written,
                        off_t(offset) + off_t(written))
                }
                if count < 0 {
                    if Glibc.errno == EINTR { continue }
                    throw Errno(rawValue: Glibc.errno)
                }
                written += count
            }
            return written
        }
    }

    /// Reads up to `count` bytes at `offset` (fewer at the end of the file).
    package func read(_ id: LocalID, at offset: Int64, count: Int) throws(FSError) -> [UInt8] {
        try withDescriptor(id, "read") { (descriptor) throws(Errno) -> [UInt8] in
            var bytes = [UInt8](repeating: 0, count: count)
            var total = 0
            while total < count {
                let read = bytes.withUnsafeMutableBytes { buffer in
                    pread(descriptor.rawValue, buffer.baseAddress! + total, count - total, off_t(offset) + off_t(total))
                }
                if read < 0 {
                    if Glibc.errno == EINTR { continue }
                    throw Errno(rawValue: Glibc.errno)
                }
                if read == 0 { break }
                total += read
            }
            bytes.removeLast(count - total)
            return bytes
        }
    }

    /// Sets the file's size (truncating or extending with zeros).
    package func truncate(_ id: LocalID, to size: Int64) throws(FSError) {
        try withDescriptor(id, "truncate") { (descriptor) throws(Errno) in
            try Self.check(ftruncate(descriptor.rawValue, off_t(size)))
        }
    }

    /// Reserves disk space for `length` bytes at `offset` (`fallocate` mode 0), extending the file if needed.
    package func allocate(_ id: LocalID, offset: Int64, length: Int64) throws(FSError) {
        try withDescriptor(id, "allocate") { (descriptor) throws(Errno) in
            let result = posix_fallocate(descriptor.rawValue, off_t(offset), off_t(length))
            if result != 0 { throw Errno(rawValue: result) }
        }
    }

    /// Makes the file's bytes durable (`fsync`).
    package func sync(_ id: LocalID) throws(FSError) {
        try withDescriptor(id, "sync") { (descriptor) throws(Errno) in
            try Self.check(fsync(descriptor.rawValue))
        }
    }

    /// Starts copying a clean file's bytes into a node's overlay file (materializing it before a write). The copy
    /// goes to a temporary file that ``finishCopy(_:)`` renames over the node's file, so a crash never leaves a
    /// half copy under the node's name.
    package func startCopy(_ id: LocalID) throws(FSError) -> OverlayCopy {
        let temporary = path(of: id) + ".copy"
        do {
            let descriptor = try FileDescriptor.open(
                temporary, .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
            return OverlayCopy(id: id, temporary: temporary, descriptor: descriptor)
        } catch {
            throw .overlay(error as? Errno ?? .ioError, "cannot create the overlay copy of \(id): \(error)")
        }
    }

    /// Puts a finished copy in place.
    package func finishCopy(_ copy: OverlayCopy) throws(FSError) {
        do {
            try copy.descriptor.close()
        } catch {
            unlink(copy.temporary)
            throw .overlay(error as? Errno ?? .ioError, "cannot write the overlay copy of \(copy.id): \(error)")
        }
        let stale = descriptors.withLock { $0.removeValue(forKey: copy.id) }
        try? stale?.close()
        guard rename(copy.temporary, path(of: copy.id)) == 0 else {
            let code = Errno(rawValue: Glibc.errno)
            unlink(copy.temporary)
            throw .overlay(code, "cannot move the overlay copy of \(copy.id) in place: \(code)")
        }
    }

    /// Drops a copy that failed.
    package func abandonCopy(_ copy: OverlayCopy) {
        try? copy.descriptor.close()
        unlink(copy.temporary)
    }

    /// Removes a node's overlay file (a deleted file). A descriptor still held keeps nothing: reads of a removed
    /// node are served by MesaFS from its record until the kernel forgets it, then the bytes are gone.
    package func remove(_ id: LocalID) {
        let descriptor = descriptors.withLock { $0.removeValue(forKey: id) }
        try? descriptor?.close()
        unlink(path(of: id))
    }

    /// Removes every overlay file whose node is not in `live`: removed files the kernel still held when the last
    /// session ended (orphans are never journaled, so their files would stay forever) and copies or creations a
    /// crash interrupted before the journal named them. Runs once, before the filesystem serves anything.
    package func removeFiles(except live: Set<LocalID>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory + "/overlay") else { return }
        for name in names where Int64(name).map({ !live.contains(LocalID($0)) }) ?? name.hasSuffix(".copy") {
            unlink("\(directory)/overlay/\(name)")
        }
    }

    /// Closes every descriptor (unmount).
    package func close() {
        let all = descriptors.withLock { table -> [FileDescriptor] in
            defer { table.removeAll() }
            return Array(table.values)
        }
        for descriptor in all { try? descriptor.close() }
    }

    /// Free and total space of the filesystem holding the state directory (`statvfs`).
    package func space() -> (blockSize: UInt64, blocks: UInt64, free: UInt64, available: UInt64, files: UInt64,
        freeFiles: UInt64)?
    {
        var result = statvfs()
        guard statvfs(directory, &result) == 0 else { return nil }
        return (
            UInt64(result.f_frsize), UInt64(result.f_blocks), UInt64(result.f_bfree), UInt64(result.f_bavail),
            UInt64(result.f_files), UInt64(result.f_ffree)
        )
    }

    private static func check(_ result: Int32) throws(Errno) {
        if result != 0 { throw Errno(rawValue: Glibc.errno) }
    }
}

/// A copy into an overlay file in progress (``Overlay/startCopy(_:)``).
package struct OverlayCopy: Sendable {
    let id: LocalID
    let temporary: String
    let descriptor: FileDescriptor

    /// Appends bytes.
    package func append(_ bytes: ByteSlices) throws(FSError) {
        do {
            for slice in bytes.slices { _ = try descriptor.writeAll(slice) }
        } catch {
            throw .overlay(error as? Errno ?? .ioError, "cannot write the overlay copy of \(id): \(error)")
        }
    }
}
