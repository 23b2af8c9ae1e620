import CFuse
import MesaFS

#if canImport(Glibc)
import Glibc
#endif

/// MesaFS values as the C structures libfuse wants.
enum FuseConversions {
    /// A `struct stat`.
    static func stat(_ attributes: FileAttributes) -> Glibc.stat {
        var result = Glibc.stat()
        result.st_ino = UInt(attributes.inode.rawValue)
        result.st_mode = attributes.mode
        result.st_nlink = UInt(attributes.linkCount)
        result.st_uid = attributes.uid
        result.st_gid = attributes.gid
        result.st_size = Int(attributes.size)
        result.st_blocks = Int(attributes.blocks)
        result.st_blksize = Int(attributes.blockSize)
        let time = timespec(tv_sec: Int(attributes.modificationTime), tv_nsec: 0)
        result.st_mtim = time
        result.st_ctim = time
        result.st_atim = time
        return result
    }

    /// A `struct fuse_entry_param`.
    static func entryParameter(_ entry: EntryAttributes) -> fuse_entry_param {
        var parameter = fuse_entry_param()
        parameter.ino = entry.attributes.inode.rawValue
        parameter.generation = 0
        parameter.attr = stat(entry.attributes)
        parameter.attr_timeout = entry.timeout
        parameter.entry_timeout = entry.timeout
        return parameter
    }
}
