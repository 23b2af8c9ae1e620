package import MesaCore

/// How a ``ContentStore`` is opened.
package struct StoreConfiguration: Sendable {
    /// Segments are sealed once they reach about this size (DESIGN.md section 3: 64 MiB).
    package var segmentSize: Int64 = 64 << 20
    /// zstd level for new records.
    package var compressionLevel: Int32 = 1
    /// Cache mode: the bound on the footprint of unpinned records; `nil` for an unbounded (server) store.
    package var maxUnpinnedBytes: Int64?
    /// Eviction removes least-recently-used records until unpinned bytes are at most this fraction of the bound.
    package var evictionTargetFraction: Double = 0.9
    /// Compaction rewrites a sealed segment once at least this fraction of its bytes are dead.
    package var compactionDeadFraction: Double = 0.5

    /// The server's configuration: unbounded, zstd level 1, 64 MiB segments.
    package static let `default` = StoreConfiguration()

    /// A client cache bounded to `maxUnpinnedBytes` of unpinned content.
    package static func cache(maxUnpinnedBytes: Int64) -> StoreConfiguration {
        var configuration = StoreConfiguration()
        configuration.maxUnpinnedBytes = maxUnpinnedBytes
        return configuration
    }
}

/// A snapshot of a store's size and activity counters.
package struct StoreStats: Sendable, Equatable, Codable {
    /// Live records.
    package var records: Int
    /// Footprint (header, id and stored payload) of live records.
    package var bytes: Int64
    /// Uncompressed size of live records.
    package var rawBytes: Int64
    /// Pinned live records.
    package var pinnedRecords: Int
    /// Footprint of pinned live records.
    package var pinnedBytes: Int64
    /// Footprint of unpinned live records: what the cache bound applies to.
    package var unpinnedBytes: Int64
    /// Segment files on disk.
    package var segments: Int
    /// Total size of the segment files, dead records included.
    package var diskBytes: Int64
    /// `get` calls that found their record.
    package var hits: Int64
    /// `get` calls that did not.
    package var misses: Int64
    /// Records removed by eviction.
    package var evictions: Int64
    /// Footprint of records removed by eviction.
    package var evictedBytes: Int64
    /// The cache bound, if any.
    package var maxUnpinnedBytes: Int64?
    /// True when pinned content alone exceeds the cache bound (eviction cannot help).
    package var pinsExceedBound: Bool
}

/// What ``ContentStore/verify()`` found.
package struct VerifyReport: Sendable, Equatable {
    /// Records checked.
    package var checked: Int
    /// Records that failed, with the reason.
    package var corrupt: [Problem]

    /// One failed record.
    package struct Problem: Sendable, Equatable {
        package var key: RecordKey
        package var reason: String
    }
}

