#if canImport(Glibc)
import Glibc
#endif
package import MesaCore
import MesaStore
import SystemPackage

// The git tree of a plain directory, as `git add -A && git write-tree` records it (without .gitignore,
// .gitattributes or nested repositories): regular files are 100755 when the owner may execute them and 100644
// otherwise, symlinks are 120000 blobs of their target, directories are subtrees, empty directories (and
// directories holding nothing git records) are left out, and `.git` is skipped at every level. Other file types
// (sockets, FIFOs, devices) are skipped, as git skips them. Names are read as raw bytes and must be UTF-8.

/// Computes (and optionally stores) the git tree of a directory on disk.
package enum DirectorySnapshot {
    /// The tree id of a directory, computed without storing anything.
    /// - Throws: ``TreeError/invalid(_:)``, ``TreeError/io(operation:path:errno:)``.
    package static func treeID(ofDirectory path: String) throws(TreeError) -> ObjectID {
        let sink = Sink(
            blob: { (file, _) throws(TreeError) in try hashFile(file) },
            link: { (target) throws(TreeError) in TreeCodec.objectID(kind: "blob", body: target) },
            tree: { (body) throws(TreeError) in TreeCodec.objectID(kind: "tree", body: body) })
        return try snapshot(path, relative: "", sink: sink) ?? TreeCodec.emptyTreeID
    }

    struct Sink {
        var blob: (String, Int64) throws(TreeError) -> ObjectID
        var link: ([UInt8]) throws(TreeError) -> ObjectID
        var tree: ([UInt8]) throws(TreeError) -> ObjectID
    }

    /// The tree of `path`, or `nil` when it records nothing.
    static func snapshot(_ path: String, relative: String, sink: Sink) throws(TreeError) -> ObjectID? {
        guard let handle = opendir(path) else {
            throw .io(operation: "opendir", path: path, errno: Errno(rawValue: errno))
        }
        var names: [[UInt8]] = []
        while let entry = readdir(handle) {
            let name = FileSystem.name(of: entry)
            if name == Array(".".utf8) || name == Array("..".utf8) || name == Array(".git".utf8) { continue }
            names.append(name)
        }
        closedir(handle)

        var entries: [TreeEntry] = []
        for nameBytes in names {
            let name = try PathName.decode(nameBytes, parent: relative)
            let child = path + "/" + name
            var info = stat()
            try FileSystem.call("lstat", child) { lstat(child, &info) }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                let mode: FileMode = info.st_mode & S_IXUSR != 0 ? .executable : .regular
                entries.append(TreeEntry(name: name, mode: mode, id: try sink.blob(child, Int64(info.st_size))))
            case S_IFLNK:
                let target = try readLink(child, size: Int(info.st_size))
                entries.append(TreeEntry(name: name, mode: .symlink, id: try sink.link(target)))
            case S_IFDIR:
                if let id = try snapshot(child, relative: PathName.join(relative, name), sink: sink) {
                    entries.append(TreeEntry(name: name, mode: .directory, id: id))
                }
            default:
                continue
            }
        }
        if entries.isEmpty { return nil }
        return try sink.tree(TreeCodec.encode(entries))
    }

    /// The git blob id of a file, streamed in 1 MiB reads.
    static func hashFile(_ path: String) throws(TreeError) -> ObjectID {
        let descriptor = try FileSystem.call("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { _ = close(descriptor) }
        var info = stat()
        try FileSystem.call("fstat", path) { fstat(descriptor, &info) }
        var hasher = GitBlobHasher(size: Int64(info.st_size))
        // SAFETY: allocated and freed here; `read` fills at most `count` bytes and only those are hashed.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let count = try FileSystem.call("read", path) { read(descriptor, buffer.baseAddress, buffer.count) }
            if count == 0 { break }
            hasher.update(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            total += Int64(count)
        }
        guard total == Int64(info.st_size) else {
            throw .invalidArgument("\(path) changed size while it was being read")
        }
        return hasher.finalize()
    }

    /// A symlink's target bytes.
    static func readLink(_ path: String, size: Int) throws(TreeError) -> [UInt8] {
        // One byte more than lstat reported, so a target that grew in between is seen as truncated, not cut.
        // SAFETY: allocated and freed here; only the `count` bytes readlink wrote are read.
        let buffer = UnsafeMutableBufferPointer<CChar>.allocate(capacity: max(size, 1) + 1)
        defer { buffer.deallocate() }
        // A freshly allocated buffer of at least two elements always has a base address.
        let count = try FileSystem.call("readlink", path) { readlink(path, buffer.baseAddress!, buffer.count) }
        guard count < buffer.count else { throw .invalidArgument("\(path) changed while it was being read") }
        return buffer.prefix(count).map { UInt8(bitPattern: $0) }
    }
}

extension MesaRepository {
    /// Stores a directory's files as blobs (streamed into chunks) and its trees, as ``DirectorySnapshot`` reads it.
    /// - Returns: the root tree id (the empty tree for a directory that records nothing).
    package func writeTree(fromDirectory path: String) throws(TreeError) -> ObjectID {
        let sink = DirectorySnapshot.Sink(
            blob: { (file, _) throws(TreeError) in try self.writeBlob(fileAt: file) },
            link: { (target) throws(TreeError) in try self.writeBlob(target) },
            tree: { (body) throws(TreeError) in try self.storeTree(body: body) })
        if let id = try DirectorySnapshot.snapshot(path, relative: "", sink: sink) { return id }
        return try storeTree(body: [])
    }
}
