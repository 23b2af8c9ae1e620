import MesaCore
package import MesaStore
package import MesaTree
import Synchronization

// The object source over a ContentStore: memory first, then the store (the disk cache, or the repository's own
// store for a local source), then the remote through a RemoteFetcher.
//
// Every load goes through a FlightTable, so concurrent readers of one tree, manifest or chunk share one store read
// and at most one remote request; the load runs in an unstructured task so that an interrupted reader stops
// waiting without cancelling it for the others. Store reads (pread plus zstd) run on the BlockingPool, the chunks of
// one read split into a few pool jobs so that a large read decompresses on every core. Memory is two LRU caches with
// separate budgets: metadata (trees, manifests) and chunks, so a large sequential read cannot push out the trees a
// `find` needs. A read touches only the chunks that cover its range; a sequential reader's window (ReadAheadWindow)
// loads the chunks after it in the background.

/// An ``ObjectSource`` over a ``ContentStore``, with a memory cache and, for a remote repository, a
/// ``RemoteFetcher`` called when the store misses.
package final class StoreObjectSource: ObjectSource {
    /// Where content that is not in the store comes from.
    package enum Backing: Sendable {
        /// Everything is in the store already (a local repository, or offline use): revisions resolve through the
        /// repository's catalog, and a missing record is an error. `defaultBookmark` is the bookmark an empty
        /// revision names.
        case local(MesaRepository, defaultBookmark: String)
        /// The store is a cache of a remote: misses and revisions go to the fetcher.
        case remote(any RemoteFetcher)
    }

    /// The store: the disk cache, or a local repository's store.
    package let store: ContentStore
    /// Where misses go.
    package let backing: Backing
    /// The memory and fetch settings.
    package let configuration: SourceConfiguration
    let pool: BlockingPool
    let memory: Mutex<MemoryCache>
    let counters = Mutex(SourceStatistics())
    let chunkFlights = FlightTable<ChunkID, [UInt8]>()
    let treeFlights = FlightTable<ObjectID, SourceTree>()
    let manifestFlights = FlightTable<ObjectID, Manifest>()

    struct MemoryCache {
        var trees: LRUCache<ObjectID, SourceTree>
        var manifests: LRUCache<ObjectID, Manifest>
        var chunks: LRUCache<ChunkID, [UInt8]>

        var bytes: Int64 { Int64(trees.totalCost + manifests.totalCost + chunks.totalCost) }
    }

    /// Creates a source.
    /// - Parameters:
    ///   - store: where records are read from (and where the fetcher stores what it fetches).
    ///   - backing: local, or remote through a fetcher.
    ///   - pool: threads for store reads.
    ///   - configuration: memory bound and fetch depth.
    package init(
        store: ContentStore,
        backing: Backing,
        pool: BlockingPool = .shared,
        configuration: SourceConfiguration = .default
    ) {
        self.store = store
        self.backing = backing
        self.pool = pool
        self.configuration = configuration
        let metadata = Int(Double(configuration.memoryBytes) * configuration.metadataFraction)
        memory = Mutex(
            MemoryCache(
                trees: LRUCache(capacity: metadata / 2), manifests: LRUCache(capacity: metadata / 2),
                chunks: LRUCache(capacity: Int(configuration.memoryBytes) - metadata)))
    }

    /// A source over a local repository: everything is in its store.
    package static func local(
        _ repository: MesaRepository,
        defaultBookmark: String = "main",
        pool: BlockingPool = .shared,
        configuration: SourceConfiguration = .default
    ) -> StoreObjectSource {
        StoreObjectSource(
            store: repository.store, backing: .local(repository, defaultBookmark: defaultBookmark), pool: pool,
            configuration: configuration)
    }

    var fetcher: (any RemoteFetcher)? {
        if case .remote(let fetcher) = backing { return fetcher }
        return nil
    }

    // MARK: Revisions

    /// Resolves through the fetcher (remote), or the repository's catalog on a pool thread (local).
    package func resolve(_ revision: Revision) async throws(SyncError) -> Resolution {
        switch backing {
        case .remote(let fetcher):
            return try await fetcher.resolve(revision)
        case .local(let repository, let defaultBookmark):
            return try await pool.run { () throws(SyncError) -> Resolution in
                try Self.resolve(revision, in: repository, defaultBookmark: defaultBookmark)
            }
        }
    }

    /// Resolves a revision through a repository's catalog (blocking: call it on a pool thread). An empty revision
    /// names `defaultBookmark`; a repository without it shows the virtual root change (the empty tree).
    package static func resolve(
        _ revision: Revision,
        in repository: MesaRepository,
        defaultBookmark: String
    ) throws(SyncError) -> Resolution {
        do throws(TreeError) {
            let change: ChangeID
            switch revision.kind {
            case .defaultBookmark:
                change = try repository.catalog.bookmark(named: defaultBookmark)?.change ?? .root
            case .bookmark(let name):
                guard let bookmark = try repository.catalog.bookmark(named: name) else {
                    throw .bookmarkNotFound(name)
                }
                change = bookmark.change
            case .change(let id):
                change = id
            }
            guard let record = try repository.change(change) else {
                return Resolution(
                    revision: revision, change: .root, commit: nil, rootTree: TreeCodec.emptyTreeID, commitTime: 0)
            }
            let commit = try repository.commit(record.commit)
            return Resolution(
                revision: revision, change: change, commit: record.commit, rootTree: commit.tree,
                commitTime: commit.committer.time)
        } catch {
            if case .bookmarkNotFound = error { throw .revisionNotFound(revision) }
            if case .changeNotFound = error { throw .revisionNotFound(revision) }
            throw SyncError(error)
        }
    }

    // MARK: Statistics

    /// The counters, the memory cache's size and the disk cache's pressure.
    package func statistics() -> SourceStatistics {
        var statistics = counters.withLock { $0 }
        statistics.memoryBytes = memory.withLock { $0.bytes }
        let store = self.store.stats()
        if let bound = store.maxUnpinnedBytes, bound > 0 {
            statistics.cachePressure = Double(store.unpinnedBytes) / Double(bound)
        }
        return statistics
    }

    /// Counts a remote fetch and keeps the trees and manifests it decoded in memory (a walk's bulk metadata is then
    /// served without reading it back from the store).
    func countRemote(_ summary: FetchSummary) {
        if !summary.manifests.isEmpty || !summary.trees.isEmpty {
            memory.withLock { memory in
                for (id, manifest) in summary.manifests where !memory.manifests.contains(id) {
                    memory.manifests.insert(manifest, for: id, cost: Self.memoryCost(of: manifest))
                }
                for (id, tree) in summary.trees where !memory.trees.contains(id) {
                    memory.trees.insert(tree, for: id, cost: tree.cost)
                }
            }
        }
        counters.withLock { counters in
            counters.remoteRequests += 1
            counters.remoteRecords += Int64(summary.records)
            counters.remoteBytes += summary.bytes
        }
    }
}


extension EntryKind {
    /// The kind of a git tree entry mode.
    package init(_ mode: FileMode) {
        switch mode {
        case .regular: self = .regular
        case .executable: self = .executable
        case .symlink: self = .symlink
        case .directory: self = .directory
        case .submodule: self = .submodule
        }
    }
}
