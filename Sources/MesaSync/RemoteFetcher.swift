package import MesaCore
package import MesaStore

/// The seam to the remote: bulk calls of the sync protocol (docs/Protocol.md) that a ``StoreObjectSource`` makes
/// when its disk cache misses.
///
/// Contract: every fetch stores what it receives into `cache` (ids verified, records as stored, through
/// `ContentStore.putStored`) before returning, and returns what it stored. A record the remote does not have is
/// not an error here: it is simply not stored, and the source reports ``SyncError/objectNotFound(_:)``. Transport
/// failures throw ``SyncError/remote(operation:message:)``. Implementations never block the cooperative pool (the
/// network runs on the transport's own thread; store writes happen there too).
package protocol RemoteFetcher: Sendable {
    /// Resolves a revision (`POST sync/resolve`).
    func resolve(_ revision: Revision) async throws(SyncError) -> Resolution

    /// Resolves a path in one round trip (`POST sync/lookup`): stores every tree from the root to the target, the
    /// target's manifest and, for small files, its chunks.
    /// - Returns: the resolution and the target entry (`nil` when the path does not exist).
    func lookup(revision: Revision, path: [FileName], into cache: ContentStore) async throws(SyncError) -> LookupResult

    /// Stores every tree under `roots` down to `depth` levels (0: the roots only; `nil`: all) (`POST sync/trees`).
    func fetchTrees(roots: [ObjectID], depth: Int?, into cache: ContentStore) async throws(SyncError) -> FetchSummary

    /// Stores the records asked for (`POST sync/objects`): chunks, manifests, trees, commits.
    func fetchRecords(keys: [RecordKey], into cache: ContentStore) async throws(SyncError) -> FetchSummary

    /// Stores the manifests under `tree` and the chunks of its files, skipping files over `maxFileBytes` and
    /// stopping after `maxBytes` of chunks (`POST sync/objects` with `subtree`).
    func fetchSubtree(
        tree: ObjectID, maxBytes: Int64, maxFileBytes: Int64, into cache: ContentStore
    ) async throws(SyncError) -> FetchSummary
}

/// The answer to a one-round-trip path lookup.
package struct LookupResult: Sendable, Hashable {
    /// What the revision resolved to.
    package var resolution: Resolution
    /// The entry at the path, or `nil` when it does not exist (the empty path names the root tree).
    package var entry: SourceEntry?
    /// The size of a file or symlink target.
    package var size: Int64?

    /// Creates a result.
    package init(resolution: Resolution, entry: SourceEntry?, size: Int64?) {
        self.resolution = resolution
        self.entry = entry
        self.size = size
    }
}
