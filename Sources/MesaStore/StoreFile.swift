#if canImport(Glibc)
import Glibc
#endif
import MesaCore
import SystemPackage

/// An open file of the store: the one owner of its descriptor, closed when the last reference goes.
///
/// Readers hold a reference while they `pread`, so compaction can drop a segment (and unlink it) while a read of an
/// old location is still in flight: the descriptor stays valid until that read finishes.
package final class StoreFile: Sendable {
    /// The raw descriptor.
    package let descriptor: Int32
    /// The file's path, for error messages.
    package let path: String

    /// Opens (and with `create`, creates with mode 0644) a file for reading and writing.
    package init(path: String, create: Bool = false, readOnly: Bool = false) throws(StoreError) {
        let flags = (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC | (create ? O_CREAT : 0)
        do {
            descriptor = try valueOrErrno { Glibc.open(path, flags, 0o644) }
        } catch {
            throw .io(operation: "open", path: path, errno: error)
        }
        self.path = path
    }

    deinit { _ = Glibc.close(descriptor) }

    /// The file's current size.
    package func size() throws(StoreError) -> Int64 {
        var info = stat()
        do {
            _ = try valueOrErrno { fstat(descriptor, &info) }
        } catch {
            throw .io(operation: "fstat", path: path, errno: error)
        }
        return Int64(info.st_size)
    }

    /// Reads exactly `buffer.count` bytes at `offset`.
    /// - Throws: ``StoreError/io(operation:path:errno:)``; a read past the end is reported as `EIO`.
    package func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(StoreError) {
        var done = 0
        while done < buffer.count {
            let count: Int
            do {
                count = try valueOrErrno {
                    pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
                }
            } catch {
                throw .io(operation: "pread", path: path, errno: error)
            }
            if count == 0 { throw .io(operation: "pread (unexpected end of file)", path: path, errno: .ioError) }
            done += count
        }
    }

    /// Reads `count` bytes at `offset` into a new array.
    package func read(count: Int, at offset: Int64) throws(StoreError) -> [UInt8] {
        var failure: StoreError?
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(StoreError) {
                try read(into: UnsafeMutableRawBufferPointer(buffer), at: offset)
                initialized = count
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Writes all of `bytes` at `offset`.
    package func write(_ bytes: UnsafeRawBufferPointer, at offset: Int64) throws(StoreError) {
        var done = 0
        while done < bytes.count {
            let count: Int
            do {
                count = try valueOrErrno {
                    pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
                }
            } catch {
                throw .io(operation: "pwrite", path: path, errno: error)
            }
            done += count
        }
    }

    /// Writes all of `bytes` at `offset`.
    package func write(_ bytes: [UInt8], at offset: Int64) throws(StoreError) {
        try bytes.withBytes { (raw) throws(StoreError) in try write(raw, at: offset) }
    }

    /// Makes everything written so far durable (`fdatasync`).
    package func sync() throws(StoreError) {
        do {
            _ = try valueOrErrno { fdatasync(descriptor) }
        } catch {
            throw .io(operation: "fdatasync", path: path, errno: error)
        }
    }

    /// Cuts the file to `length` bytes.
    package func truncate(to length: Int64) throws(StoreError) {
        do {
            _ = try valueOrErrno { ftruncate(descriptor, off_t(length)) }
        } catch {
            throw .io(operation: "ftruncate", path: path, errno: error)
        }
    }

    /// Takes an exclusive, non-blocking `flock` on the file.
    /// - Throws: ``StoreError/locked(path:)`` when someone else holds it.
    package func lockExclusively(storePath: String) throws(StoreError) {
        do {
            _ = try valueOrErrno { flock(descriptor, LOCK_EX | LOCK_NB) }
        } catch {
            if error == .wouldBlock { throw .locked(path: storePath) }
            throw .io(operation: "flock", path: path, errno: error)
        }
    }
}

/// Directory operations of the store.
package enum StoreDirectory {
    /// Creates `path` and its missing parents (mode 0755).
    package static func create(_ path: String) throws(StoreError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o755) != 0, errno != EEXIST {
                throw .io(operation: "mkdir", path: prefix, errno: Errno(rawValue: errno))
            }
        }
    }

    /// The names in a directory.
    package static func list(_ path: String) throws(StoreError) -> [String] {
        guard let directory = opendir(path) else {
            throw .io(operation: "opendir", path: path, errno: Errno(rawValue: errno))
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Makes the directory's entries (new and renamed files) durable.
    package static func sync(_ path: String) throws(StoreError) {
        let file = try StoreFile(path: path, readOnly: true)
        do {
            _ = try valueOrErrno { fsync(file.descriptor) }
        } catch {
            throw .io(operation: "fsync", path: path, errno: error)
        }
    }

    /// Removes a file; a missing file is not an error.
    package static func remove(_ path: String) throws(StoreError) {
        if unlink(path) != 0, errno != ENOENT {
            throw .io(operation: "unlink", path: path, errno: Errno(rawValue: errno))
        }
    }

    /// Atomically replaces `destination` with `source`.
    package static func rename(_ source: String, to destination: String) throws(StoreError) {
        do {
            _ = try valueOrErrno { Glibc.rename(source, destination) }
        } catch {
            throw .io(operation: "rename", path: destination, errno: error)
        }
    }

    /// Writes `bytes` to `path` atomically and durably: a temporary file, `fdatasync`, `rename`, directory `fsync`.
    package static func writeAtomically(_ bytes: [UInt8], to path: String, directory: String) throws(StoreError) {
        let temporary = path + ".tmp"
        try remove(temporary)
        let file = try StoreFile(path: temporary, create: true)
        try file.write(bytes, at: 0)
        try file.sync()
        try rename(temporary, to: path)
        try sync(directory)
    }
}
