package import MesaCore

/// How MesaFS sees repository content: trees, file manifests and byte ranges, by git id.
///
/// Implementations are thread-safe and never block the cooperative pool: disk and decompression work runs on a
/// ``BlockingPool``, network transfers on the transport's own threads. Every method may be called concurrently;
/// concurrent requests for one chunk share one load. Errors are ``SyncError``; a waiting caller whose task is
/// cancelled gets ``SyncError/cancelled`` at once while the shared load goes on.
package protocol ObjectSource: Sendable {
    /// Resolves a revision to its change, commit, root tree and commit time (for the remote: one request).
    func resolve(_ revision: Revision) async throws(SyncError) -> Resolution

    /// A tree's entries: from memory, else the disk cache, else the remote (which sends the trees below it too).
    func tree(_ id: ObjectID) async throws(SyncError) -> SourceTree

    /// A tree if it is in memory now; never blocks and never fetches.
    func cachedTree(_ id: ObjectID) -> SourceTree?

    /// A manifest if the memory cache holds it now; never blocks and never fetches.
    func cachedManifest(_ id: ObjectID) -> Manifest?

    /// The manifest (chunk list and size) of a blob.
    func manifest(ofBlob id: ObjectID) async throws(SyncError) -> Manifest

    /// The manifest of the file at `path` (from the repository root) of `revision`, whose blob is `id`: as
    /// ``manifest(ofBlob:)``, but a remote miss is one path lookup that brings a small file's content along, so a
    /// lookup followed by a read (`cat a/b/c`) costs one round trip, not two.
    func manifest(ofBlob id: ObjectID, at path: [FileName], of revision: Revision) async throws(SyncError) -> Manifest

    /// The manifests of many blobs, with everything missing fetched in one batch.
    func manifests(ofBlobs ids: [ObjectID]) async throws(SyncError) -> [ObjectID: Manifest]

    /// Bytes of a blob, touching only the chunks that cover `range` (clamped to the blob's size).
    /// - Parameters:
    ///   - readAhead: bytes after `range` whose chunks should be loaded in the background (a sequential reader's
    ///     window, see ``ReadAheadWindow``); 0 for none.
    func read(_ blob: ObjectID, range: Range<Int64>, readAhead: Int64) async throws(SyncError) -> ByteSlices

    /// The bytes of `range` if everything needed is in memory now, else `nil`: never blocks, never fetches.
    func readIfInMemory(_ blob: ObjectID, range: Range<Int64>, readAhead: Int64) -> ByteSlices?

    /// Loads content ahead of use (bulk trees, a directory's small files, a subtree's content).
    func prefetch(_ request: PrefetchRequest) async throws(SyncError) -> FetchSummary

    /// Counters for `mesa stats` and tests.
    func statistics() -> SourceStatistics
}

extension ObjectSource {
    /// A source without a memory cache holds no manifest in memory.
    package func cachedManifest(_ id: ObjectID) -> Manifest? { nil }

    /// A source without a memory cache has nothing to answer from at once.
    package func readIfInMemory(_ blob: ObjectID, range: Range<Int64>, readAhead: Int64) -> ByteSlices? { nil }

    /// A source with no cheaper path lookup answers from ``manifest(ofBlob:)``.
    package func manifest(
        ofBlob id: ObjectID, at path: [FileName], of revision: Revision
    ) async throws(SyncError) -> Manifest {
        try await manifest(ofBlob: id)
    }
}

/// Content to load ahead of use.
package enum PrefetchRequest: Sendable, Hashable {
    /// Every tree below `tree`, down to `depth` levels (`nil`: all).
    case trees(below: ObjectID, depth: Int?)
    /// The manifests of these blobs, and the chunks of those at most `maxFileBytes` long, in order, until
    /// `maxBytes` of chunks.
    case files([ObjectID], maxFileBytes: Int64, maxBytes: Int64)
    /// The manifests of every file under `tree`, in one request (a recursive walk's sizes: `find`, `ls -lR`).
    case manifests(below: ObjectID)
    /// The chunks of every file under `tree` in walk order, at most `maxBytes`, skipping files over
    /// `maxFileBytes` (a recursive walk that reads content, such as `grep -r`).
    case subtree(ObjectID, maxBytes: Int64, maxFileBytes: Int64)
}

/// What a fetch or prefetch moved.
package struct FetchSummary: Sendable, Hashable {
    /// Records obtained (from the remote, or loaded into memory for a local source).
    package var records: Int
    /// Their uncompressed bytes.
    package var bytes: Int64
    /// Manifests the fetch decoded on the way (a fetcher may leave this empty), so the source can keep them in
    /// memory without reading them back from the store.
    package var manifests: [ObjectID: Manifest] = [:]
    /// Trees the fetch decoded on the way (may be empty), for the same reason.
    package var trees: [ObjectID: SourceTree] = [:]
    /// Chunks the fetch decompressed and verified on the way (may be empty): a reader waiting for them gets these
    /// bytes instead of reading back and decompressing what was just stored.
    package var chunks: [ChunkID: [UInt8]] = [:]

    /// Creates a summary.
    package init(records: Int = 0, bytes: Int64 = 0) {
        self.records = records
        self.bytes = bytes
    }

    /// Adds another summary.
    package static func + (lhs: FetchSummary, rhs: FetchSummary) -> FetchSummary {
        var sum = FetchSummary(records: lhs.records + rhs.records, bytes: lhs.bytes + rhs.bytes)
        sum.manifests = lhs.manifests.merging(rhs.manifests) { first, _ in first }
        sum.trees = lhs.trees.merging(rhs.trees) { first, _ in first }
        sum.chunks = lhs.chunks.merging(rhs.chunks) { first, _ in first }
        return sum
    }
}

/// Counters of an object source.
package struct SourceStatistics: Sendable, Hashable, Codable {
    /// Chunk reads served from memory.
    package var chunkMemoryHits: Int64 = 0
    /// Chunk reads served from the disk cache (or local store).
    package var chunkStoreHits: Int64 = 0
    /// Chunk reads that joined a load another reader had started.
    package var chunkSharedWaits: Int64 = 0
    /// Chunks loaded for read-ahead.
    package var readAheadChunks: Int64 = 0
    /// Trees served from memory.
    package var treeMemoryHits: Int64 = 0
    /// Trees decoded from the disk cache.
    package var treeStoreHits: Int64 = 0
    /// Requests made to the remote.
    package var remoteRequests: Int64 = 0
    /// Records the remote delivered.
    package var remoteRecords: Int64 = 0
    /// Uncompressed bytes the remote delivered.
    package var remoteBytes: Int64 = 0
    /// Prefetch requests carried out.
    package var prefetches: Int64 = 0
    /// Bytes held by the memory cache now.
    package var memoryBytes: Int64 = 0
    /// The disk cache's unpinned bytes over its bound (0 when unbounded): prefetch backs off above a limit.
    package var cachePressure: Double = 0

    /// Creates zeroed counters.
    package init() {}
}
