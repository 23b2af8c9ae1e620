/// How a ``StoreObjectSource`` uses memory and the remote.
package struct SourceConfiguration: Sendable, Hashable {
    /// The memory cache's bound in bytes (`MESA_CACHE_MAX_MEMORY_SIZE`, default 320 MB): decoded trees,
    /// manifests and decompressed chunks.
    package var memoryBytes: Int64 = 320_000_000
    /// The share of ``memoryBytes`` kept for trees and manifests, so a large file read cannot push them out.
    package var metadataFraction: Double = 0.25
    /// On a tree miss, the levels below the missing tree fetched in the same request (`nil`: all;
    /// `MESA_PREFETCH_MAX_DEPTH`). A cold walk to depth `d` then costs about `d / (depth + 1)` round trips.
    package var treeFetchDepth: Int? = 3

    /// Read-ahead goes out in requests of at least this many bytes (less only at the end of a file).
    package var readAheadBatchBytes: Int64 = 4 << 20

    /// The content of a detected recursive walk is fetched in batches of about this many bytes...
    package var streamBatchBytes: Int64 = 2 << 20
    /// ...with at most this many batches in flight (together about a bandwidth-delay product of a fast link).
    package var streamConcurrency = 4

    /// The pool jobs one read's chunks are split across (about the number of cores).
    package var readParallelism = 2

    /// The defaults: 320 MB of memory, trees fetched three levels deep, reads split across two pool jobs.
    package static let `default` = SourceConfiguration()

    /// Creates the defaults.
    package init() {}
}
