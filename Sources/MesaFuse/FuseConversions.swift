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
        let time = timespec(
            tv_sec: Int(attributes.modificationTime), tv_nsec: Int(attributes.modificationNanoseconds))
        result.st_mtim = time
        result.st_ctim = time
        result.st_atim = attributes.accessTime.map {
            timespec(tv_sec: Int($0.seconds), tv_nsec: Int($0.nanoseconds))
        } ?? time
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

    /// The changes a `setattr` asks for: the fields of `attributes` that `toSet` names (`FUSE_SET_ATTR_*`).
    static func attributeChanges(_ attributes: Glibc.stat?, toSet: Int32) -> AttributeChanges {
        guard let attributes else { return AttributeChanges() }
        var changes = AttributeChanges()
        if toSet & FUSE_SET_ATTR_MODE != 0 { changes.mode = attributes.st_mode & 0o7777 }
        if toSet & FUSE_SET_ATTR_UID != 0 { changes.uid = attributes.st_uid }
        if toSet & FUSE_SET_ATTR_GID != 0 { changes.gid = attributes.st_gid }
        if toSet & FUSE_SET_ATTR_SIZE != 0 { changes.size = Int64(attributes.st_size) }
        if toSet & FUSE_SET_ATTR_ATIME_NOW != 0 {
            changes.accessTime = .now
        } else if toSet & FUSE_SET_ATTR_ATIME != 0 {
            changes.accessTime = .at(timestamp(attributes.st_atim))
        }
        if toSet & FUSE_SET_ATTR_MTIME_NOW != 0 {
            changes.modificationTime = .now
        } else if toSet & FUSE_SET_ATTR_MTIME != 0 {
            changes.modificationTime = .at(timestamp(attributes.st_mtim))
        }
        return changes
    }

    /// A `timespec` as a timestamp (nanoseconds clamped into one second).
    static func timestamp(_ time: timespec) -> Timestamp {
        Timestamp(seconds: Int64(time.tv_sec), nanoseconds: UInt32(clamping: min(max(time.tv_nsec, 0), 999_999_999)))
    }
}
