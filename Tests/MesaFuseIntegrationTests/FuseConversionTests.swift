import CFuse
import Glibc
import MesaFS
import Testing

@testable import MesaFuse

/// What the FUSE callbacks copy out of libfuse's arguments: `setattr` keeps exactly the fields `to_set` names.
struct FuseConversionTests {
    static func stat(mode: UInt32 = 0, size: Int = 0, atime: timespec = timespec(), mtime: timespec = timespec())
        -> Glibc.stat
    {
        var value = Glibc.stat()
        value.st_mode = mode
        value.st_size = size
        value.st_uid = 1234
        value.st_gid = 5678
        value.st_atim = atime
        value.st_mtim = mtime
        return value
    }

    @Test func setattrKeepsOnlyTheNamedFields() {
        let attributes = Self.stat(
            mode: S_IFREG | 0o4755, size: 42, atime: timespec(tv_sec: 10, tv_nsec: 20),
            mtime: timespec(tv_sec: 1_700_000_000, tv_nsec: 123_456_789))
        #expect(FuseConversions.attributeChanges(attributes, toSet: 0) == AttributeChanges())
        #expect(
            FuseConversions.attributeChanges(attributes, toSet: FUSE_SET_ATTR_MODE)
                == AttributeChanges(mode: 0o4755))
        #expect(FuseConversions.attributeChanges(attributes, toSet: FUSE_SET_ATTR_SIZE) == AttributeChanges(size: 42))
        #expect(
            FuseConversions.attributeChanges(attributes, toSet: FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)
                == AttributeChanges(uid: 1234, gid: 5678))
        let times = FuseConversions.attributeChanges(attributes, toSet: FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)
        #expect(times.accessTime == .at(Timestamp(seconds: 10, nanoseconds: 20)))
        #expect(times.modificationTime == .at(Timestamp(seconds: 1_700_000_000, nanoseconds: 123_456_789)))
        let now = FuseConversions.attributeChanges(
            attributes,
            toSet: FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)
        #expect(now == AttributeChanges(accessTime: .now, modificationTime: .now))
        #expect(FuseConversions.attributeChanges(nil, toSet: FUSE_SET_ATTR_SIZE) == AttributeChanges())
    }

    @Test func outOfRangeNanosecondsAreClamped() {
        #expect(FuseConversions.timestamp(timespec(tv_sec: 1, tv_nsec: 2_000_000_000)).nanoseconds == 999_999_999)
        #expect(FuseConversions.timestamp(timespec(tv_sec: 1, tv_nsec: -5)).nanoseconds == 0)
    }
}
