#if canImport(Glibc)
import Glibc
#endif
package import MesaCore
import MesaStore
import SystemPackage

// Export of a commit or tree to a plain directory, as `git archive` would lay it out: regular files with mode 0644,
// executables 0755 (set with fchmod, so the umask does not change them), symlinks holding their target, and an empty
// directory for each submodule. File content is written chunk by chunk from the manifest.

/// What an export wrote.
package struct ExportReport: Sendable, Hashable {
    /// Files written (regular and executable).
    package var files: Int
    /// Symbolic links made.
    package var symlinks: Int
    /// Directories made (the top one included).
    package var directories: Int
    /// Bytes of file content written.
    package var bytes: Int64
}

extension MesaRepository {
    /// Writes the tree of a commit (or a tree) into `directory`, which must not exist or be empty.
    /// - Throws: ``TreeError/invalidArgument(_:)`` for a non-empty directory, ``TreeError/invalid(_:)`` for a path
    ///   the validator refuses, ``TreeError/io(operation:path:errno:)``.
    @discardableResult
    package func export(_ id: ObjectID, to directory: String) throws(TreeError) -> ExportReport {
        let root = try rootTree(of: id)
        var report = ExportReport(files: 0, symlinks: 0, directories: 0, bytes: 0)
        try FileSystem.makeEmptyDirectory(directory)
        report.directories += 1
        try walk(root) { (item) throws(TreeError) -> Bool in
            // Stored trees passed the validator when they entered; checking again costs little and keeps a tree from
            // an older store from writing outside `directory` (`..`, `/` or `.git` in a name) or nesting without end.
            _ = try TreeValidator.components(of: item.path)
            let path = directory + "/" + item.path
            switch item.entry.mode {
            case .directory, .submodule:
                try FileSystem.call("mkdir", path) { mkdir(path, 0o755) }
                report.directories += 1
            case .symlink:
                let target = try readBlob(item.entry.id)
                try FileSystem.call("symlink", path) {
                    // SAFETY: the NUL-terminated copy of the target lives for the call.
                    (target + [0]).withUnsafeBufferPointer { bytes in
                        // The buffer holds at least the terminating NUL, so it has a base address.
                        bytes.withMemoryRebound(to: CChar.self) { symlink($0.baseAddress!, path) }
                    }
                }
                report.symlinks += 1
            case .regular, .executable:
                report.bytes += try writeFile(item.entry, to: path)
                report.files += 1
            }
            return true
        }
        return report
    }

    private func writeFile(_ entry: TreeEntry, to path: String) throws(TreeError) -> Int64 {
        let mode: mode_t = entry.mode == .executable ? 0o755 : 0o644
        let descriptor = try FileSystem.call("open", path) { open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode) }
        defer { _ = close(descriptor) }
        let manifest = try manifest(ofBlob: entry.id)
        for reference in manifest.chunks {
            let chunk: [UInt8]
            do throws(StoreError) {
                chunk = try store.chunk(reference.id)
            } catch {
                throw TreeError(error)
            }
            try FileSystem.writeAll(descriptor, chunk, path: path)
        }
        try FileSystem.call("fchmod", path) { fchmod(descriptor, mode) }
        return manifest.size
    }
}

/// The few system calls MesaTree makes, each through `valueOrErrno` (EINTR retried), errors naming the path.
enum FileSystem {
    @discardableResult
    static func call<T: FixedWidthInteger>(
        _ operation: String,
        _ path: String,
        _ body: () -> T
    ) throws(TreeError) -> T {
        do throws(Errno) {
            return try valueOrErrno(body)
        } catch {
            throw .io(operation: operation, path: path, errno: error)
        }
    }

    /// Creates `path` (and its parents), or accepts it when it is an empty directory.
    static func makeEmptyDirectory(_ path: String) throws(TreeError) {
        var components: [String] = []
        var current = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += (path.hasPrefix("/") || !current.isEmpty ? "/" : "") + part
            components.append(current)
        }
        for component in components {
            if mkdir(component, 0o755) == 0 { continue }
            let code = errno
            guard code == EEXIST else { throw .io(operation: "mkdir", path: component, errno: Errno(rawValue: code)) }
        }
        guard let handle = opendir(path) else {
            throw .io(operation: "opendir", path: path, errno: Errno(rawValue: errno))
        }
        defer { closedir(handle) }
        while let entry = readdir(handle) {
            let name = FileSystem.name(of: entry)
            if name != Array(".".utf8) && name != Array("..".utf8) {
                throw .invalidArgument("\(path) is not empty; export needs a new or empty directory")
            }
        }
    }

    /// The raw bytes of a directory entry's name.
    static func name(of entry: UnsafeMutablePointer<dirent>) -> [UInt8] {
        // SAFETY: `entry` comes from `readdir` and stays valid until the next `readdir` on that stream; `d_name` is a
        // NUL-terminated fixed array, copied here.
        withUnsafeBytes(of: entry.pointee.d_name) { raw in
            Array(raw.prefix { $0 != 0 })
        }
    }

    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], path: String) throws(TreeError) {
        var offset = 0
        while offset < bytes.count {
            // SAFETY: the pointer is used only during the `write` call.
            let result = bytes.withUnsafeBytes { raw in
                Result { () throws(Errno) -> Int in
                    // The loop runs only while bytes remain, so the buffer is not empty and has a base address.
                    try valueOrErrno { write(descriptor, raw.baseAddress! + offset, raw.count - offset) }
                }
            }
            do throws(Errno) {
                offset += try result.get()
            } catch {
                throw .io(operation: "write", path: path, errno: error)
            }
        }
    }
}
