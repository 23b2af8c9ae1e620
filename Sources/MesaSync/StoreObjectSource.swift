package import MesaCore
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
    private let memory: Mutex<MemoryCache>
    private let counters = Mutex(SourceStatistics())
    private let chunkFlights = FlightTable<ChunkID, [UInt8]>()
    private let treeFlights = FlightTable<ObjectID, SourceTree>()
    private let manifestFlights = FlightTable<ObjectID, Manifest>()

    private struct MemoryCache {
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

    // MARK: Trees

    /// The tree if the memory cache holds it (marking it recently used).
    package func cachedTree(_ id: ObjectID) -> SourceTree? {
        memory.withLock { $0.trees.value(for: id) }
    }

    /// A tree from memory, the store, or the remote (with the trees below it to ``SourceConfiguration/treeFetchDepth``
    /// levels, in the same request); concurrent callers share one load.
    package func tree(_ id: ObjectID) async throws(SyncError) -> SourceTree {
        if id == TreeCodec.emptyTreeID { return SourceTree(id: id, entries: []) }
        if let tree = cachedTree(id) {
            counters.withLock { $0.treeMemoryHits += 1 }
            return tree
        }
        let claim = treeFlights.claim(id)
        if claim.isOwner {
            Task { await self.loadTree(id) }
        }
        return try await claim.flight.value()
    }

    private func loadTree(_ id: ObjectID) async {
        let result: Result<SourceTree, SyncError>
        do throws(SyncError) {
            result = .success(try await fetchedTree(id))
        } catch {
            result = .failure(error)
        }
        if case .success(let tree) = result {
            memory.withLock { $0.trees.insert(tree, for: id, cost: tree.cost) }
        }
        treeFlights.finish(id, with: result)
    }

    private func fetchedTree(_ id: ObjectID) async throws(SyncError) -> SourceTree {
        if let tree = try await storedTree(id) {
            counters.withLock { $0.treeStoreHits += 1 }
            return tree
        }
        guard let fetcher else { throw .objectNotFound(RecordKey(.tree, object: id)) }
        let summary = try await fetcher.fetchTrees(roots: [id], depth: configuration.treeFetchDepth, into: store)
        countRemote(summary)
        if let tree = summary.trees[id] { return tree }
        guard let tree = try await storedTree(id) else { throw .objectNotFound(RecordKey(.tree, object: id)) }
        return tree
    }

    /// Reads and decodes a tree from the store; `nil` when the store does not hold it.
    private func storedTree(_ id: ObjectID) async throws(SyncError) -> SourceTree? {
        let store = self.store
        return try await pool.run { () throws(SyncError) -> SourceTree? in
            let body: [UInt8]
            do throws(StoreError) {
                body = try store.get(RecordKey(.tree, object: id))
            } catch .notFound {
                return nil
            } catch {
                throw SyncError(error)
            }
            return try Self.decodeTree(body, id: id)
        }
    }

    /// Decodes a verified tree for the mount. Names go through the validator too: a server that sent a name the
    /// kernel must never see (`..`, `/`, `.git`, a control character) gets its tree refused as corrupt (EIO for that
    /// directory), whatever the server checked.
    static func decodeTree(_ body: [UInt8], id: ObjectID) throws(SyncError) -> SourceTree {
        let entries: [TreeEntry]
        do throws(TreeError) {
            entries = try TreeCodec.decode(body, id: id)
            for entry in entries { try TreeValidator.check(name: entry.name, at: entry.name) }
        } catch .invalid(let failure) {
            throw .corruptObject(RecordKey(.tree, object: id), reason: failure.description)
        } catch {
            throw SyncError(error)
        }
        return SourceTree(
            id: id,
            entries: entries.map { SourceEntry(name: FileName($0.name), kind: EntryKind($0.mode), id: $0.id) })
    }

    // MARK: Manifests

    /// The manifest if the memory cache holds it (marking it recently used).
    package func cachedManifest(_ id: ObjectID) -> Manifest? {
        memory.withLock { $0.manifests.value(for: id) }
    }

    /// One blob's manifest (see ``manifests(ofBlobs:)``).
    package func manifest(ofBlob id: ObjectID) async throws(SyncError) -> Manifest {
        guard let manifest = try await manifests(ofBlobs: [id])[id] else {
            throw .objectNotFound(RecordKey(.manifest, object: id))
        }
        return manifest
    }

    /// See ``ObjectSource/manifest(ofBlob:at:of:)``: memory, then the store, then one `lookup` request (trees on the
    /// path, the manifest, and a small file's chunks), then the ordinary manifest fetch if the lookup answered for a
    /// revision that moved meanwhile.
    package func manifest(
        ofBlob id: ObjectID, at path: [FileName], of revision: Revision
    ) async throws(SyncError) -> Manifest {
        if let manifest = memory.withLock({ $0.manifests.value(for: id) }) { return manifest }
        if let fetcher, !manifestFlights.isInFlight(id), try await storedManifests([id])[id] == nil {
            _ = try await fetcher.lookup(revision: revision, path: path, into: store)
            countRemote(FetchSummary())
        }
        return try await manifest(ofBlob: id)
    }

    /// Manifests from memory, then the store, then one remote request for all the rest; loads in progress are joined.
    package func manifests(ofBlobs ids: [ObjectID]) async throws(SyncError) -> [ObjectID: Manifest] {
        var found: [ObjectID: Manifest] = [:]
        var needed: [ObjectID] = []
        memory.withLock { memory in
            for id in Set(ids) {
                if let manifest = memory.manifests.value(for: id) { found[id] = manifest } else { needed.append(id) }
            }
        }
        guard !needed.isEmpty else { return found }
        let claims = manifestFlights.claim(needed)
        let owned = claims.filter(\.isOwner).map(\.key)
        if !owned.isEmpty {
            Task { await self.loadManifests(owned) }
        }
        for claim in claims { found[claim.key] = try await claim.flight.value() }
        return found
    }

    private func loadManifests(_ ids: [ObjectID]) async {
        var results: [ObjectID: Result<Manifest, SyncError>] = [:]
        do throws(SyncError) {
            var stored = try await storedManifests(ids)
            let missing = ids.filter { stored[$0] == nil }
            if !missing.isEmpty, let fetcher {
                let summary = try await fetcher.fetchRecords(
                    keys: missing.map { RecordKey(.manifest, object: $0) }, into: store)
                countRemote(summary)
                stored.merge(try await storedManifests(missing)) { first, _ in first }
            }
            for id in ids {
                let missing = SyncError.objectNotFound(RecordKey(.manifest, object: id))
                results[id] = stored[id].map { .success($0) } ?? .failure(missing)
            }
        } catch {
            for id in ids { results[id] = .failure(error) }
        }
        memory.withLock { memory in
            for case (let id, .success(let manifest)) in results {
                memory.manifests.insert(manifest, for: id, cost: Self.memoryCost(of: manifest))
            }
        }
        for (id, result) in results { manifestFlights.finish(id, with: result) }
    }

    /// The manifests among `ids` that the store holds.
    private func storedManifests(_ ids: [ObjectID]) async throws(SyncError) -> [ObjectID: Manifest] {
        let store = self.store
        return try await pool.run { () throws(SyncError) -> [ObjectID: Manifest] in
            var manifests: [ObjectID: Manifest] = [:]
            for id in ids {
                do throws(StoreError) {
                    manifests[id] = try store.manifest(forBlob: id)
                } catch .notFound {
                    continue
                } catch {
                    throw SyncError(error)
                }
            }
            return manifests
        }
    }

    // MARK: Content

    /// The bytes of `range` as slices of the covering chunks (no copy), loading missing chunks in one flight per
    /// read (store reads in parallel, one remote request for the misses) and starting the read-ahead.
    package func read(_ blob: ObjectID, range: Range<Int64>, readAhead: Int64) async throws(SyncError) -> ByteSlices {
        let manifest = try await manifest(ofBlob: blob)
        let lower = max(0, range.lowerBound)
        let upper = min(manifest.size, range.upperBound)
        guard lower < upper else { return ByteSlices() }
        let indices = manifest.chunkIndices(covering: lower..<upper)
        if readAhead > 0 {
            startReadAhead(manifest, after: upper, length: readAhead)
        }
        let chunks = try await chunks(indices.map { manifest.chunks[$0] })
        if let missing = indices.lazy.map({ manifest.chunks[$0].id }).first(where: { chunks[$0] == nil }) {
            throw .objectNotFound(RecordKey(chunk: missing))
        }
        return Self.slices(of: manifest, lower..<upper, from: chunks)
    }

    /// The bytes of `range` (within the blob) as slices of the covering chunks, all present in `chunks`.
    private static func slices(of manifest: Manifest, _ range: Range<Int64>, from chunks: [ChunkID: [UInt8]]) -> ByteSlices {
        var slices = ByteSlices()
        for index in manifest.chunkIndices(covering: range) {
            let reference = manifest.chunks[index]
            guard let bytes = chunks[reference.id] else { continue }
            let start = manifest.offset(ofChunk: index)
            let from = Int(max(range.lowerBound, start) - start)
            let to = Int(min(range.upperBound, start + Int64(reference.length)) - start)
            slices.append(bytes[from..<to])
        }
        return slices
    }

    /// What a manifest costs in the memory cache.
    private static func memoryCost(of manifest: Manifest) -> Int { 64 + manifest.chunks.count * 48 }

    /// The bytes of `range` when the manifest and every covering chunk are in memory now, else `nil`; never blocks
    /// and never fetches (a FUSE thread answers such a read at once, without a task). Starts the read-ahead as
    /// ``read(_:range:readAhead:)`` does.
    package func readIfInMemory(_ blob: ObjectID, range: Range<Int64>, readAhead: Int64) -> ByteSlices? {
        let found = memory.withLock { memory -> (Manifest, [ChunkID: [UInt8]])? in
            guard let manifest = memory.manifests.value(for: blob) else { return nil }
            let lower = max(0, range.lowerBound)
            let upper = min(manifest.size, range.upperBound)
            guard lower < upper else { return (manifest, [:]) }
            var chunks: [ChunkID: [UInt8]] = [:]
            for index in manifest.chunkIndices(covering: lower..<upper) {
                let id = manifest.chunks[index].id
                guard let bytes = memory.chunks.value(for: id) else { return nil }
                chunks[id] = bytes
            }
            return (manifest, chunks)
        }
        guard let (manifest, chunks) = found else { return nil }
        let lower = max(0, range.lowerBound)
        let upper = min(manifest.size, range.upperBound)
        guard lower < upper else { return ByteSlices() }
        let hits = Int64(chunks.count)
        counters.withLock { $0.chunkMemoryHits += hits }
        if readAhead > 0 { startReadAhead(manifest, after: upper, length: readAhead) }
        return Self.slices(of: manifest, lower..<upper, from: chunks)
    }

    /// The bytes of chunks: memory hits at once, the rest through shared flights.
    private func chunks(_ references: [ChunkRef]) async throws(SyncError) -> [ChunkID: [UInt8]] {
        var found: [ChunkID: [UInt8]] = [:]
        var needed: [ChunkRef] = []
        memory.withLock { memory in
            for reference in references where found[reference.id] == nil {
                if let bytes = memory.chunks.value(for: reference.id) {
                    found[reference.id] = bytes
                } else if !needed.contains(where: { $0.id == reference.id }) {
                    needed.append(reference)
                }
            }
        }
        let hits = Int64(found.count)
        counters.withLock { $0.chunkMemoryHits += hits }
        guard !needed.isEmpty else { return found }
        let claims = chunkFlights.claim(needed.map(\.id))
        let owned = needed.filter { reference in claims.contains { $0.key == reference.id && $0.isOwner } }
        let shared = Int64(claims.count - owned.count)
        if shared > 0 { counters.withLock { $0.chunkSharedWaits += shared } }
        if !owned.isEmpty {
            Task { await self.loadChunks(owned, readAhead: false) }
        }
        for claim in claims {
            if Task.isCancelled { throw .cancelled }
            found[claim.key] = try await claim.flight.value()
        }
        return found
    }

    /// Starts background loads of the chunks covering `length` bytes after `offset` that are neither in memory
    /// nor being loaded.
    private func startReadAhead(_ manifest: Manifest, after offset: Int64, length: Int64) {
        let indices = manifest.chunkIndices(covering: offset..<(offset + length))
        guard !indices.isEmpty else { return }
        let candidates = memory.withLock { memory in
            indices.map { manifest.chunks[$0] }.filter { !memory.chunks.contains($0.id) }
        }
        let wanted = candidates.filter { !chunkFlights.isInFlight($0.id) }
        guard !wanted.isEmpty else { return }
        // Requests of at least `readAheadBatchBytes` (or up to the end of the file): a sequential reader advances
        // the window by one kernel read at a time, and a request per read would be many small round trips.
        let reachesEnd = indices.last == manifest.chunks.count - 1
        let wantedBytes = wanted.reduce(Int64(0)) { $0 + Int64($1.length) }
        guard reachesEnd || wantedBytes >= min(configuration.readAheadBatchBytes, length / 2) else { return }
        let claims = chunkFlights.claim(wanted.map(\.id))
        let owned = wanted.filter { reference in claims.contains { $0.key == reference.id && $0.isOwner } }
        guard !owned.isEmpty else { return }
        let count = Int64(owned.count)
        counters.withLock { $0.readAheadChunks += count }
        Task { await self.loadChunks(owned, readAhead: true) }
    }

    /// Loads owned chunk flights: the store in parallel pool jobs, then one remote request for the misses.
    private func loadChunks(_ references: [ChunkRef], readAhead: Bool) async {
        var results: [ChunkID: Result<[UInt8], SyncError>] = [:]
        var missing: [ChunkRef] = []
        for (reference, result) in await storedChunks(references) {
            switch result {
            case .success(let bytes?): results[reference.id] = .success(bytes)
            case .success(nil): missing.append(reference)
            case .failure(let error): results[reference.id] = .failure(error)
            }
        }
        let storeHits = Int64(results.count)
        counters.withLock { $0.chunkStoreHits += storeHits }
        if !missing.isEmpty {
            if let fetcher {
                do throws(SyncError) {
                    let summary = try await fetcher.fetchRecords(
                        keys: missing.map { RecordKey(chunk: $0.id) }, into: store)
                    countRemote(summary)
                    // The fetch hands over what it verified; only the rest is read back from the store.
                    var unread: [ChunkRef] = []
                    for reference in missing {
                        if let bytes = summary.chunks[reference.id], bytes.count == Int(reference.length) {
                            results[reference.id] = .success(bytes)
                        } else {
                            unread.append(reference)
                        }
                    }
                    for (reference, result) in await storedChunks(unread) {
                        results[reference.id] = result.flatMap { bytes in
                            bytes.map { .success($0) } ?? .failure(.objectNotFound(RecordKey(chunk: reference.id)))
                        }
                    }
                } catch {
                    for reference in missing { results[reference.id] = .failure(error) }
                }
            } else {
                for reference in missing {
                    results[reference.id] = .failure(.objectNotFound(RecordKey(chunk: reference.id)))
                }
            }
        }
        memory.withLock { memory in
            for case (let id, .success(let bytes)) in results {
                memory.chunks.insert(bytes, for: id, cost: bytes.count + 64)
            }
        }
        for (id, result) in results { chunkFlights.finish(id, with: result) }
    }

    /// Reads chunks from the store; `nil` for a chunk the store does not hold. The chunks are split into at most
    /// ``SourceConfiguration/readParallelism`` contiguous groups, one pool job each, so a large read decompresses on
    /// every core without a pool hop (and a store lock round) per chunk. Results come in the order of `references`
    /// (file order), so the misses are fetched in file order.
    private func storedChunks(_ references: [ChunkRef]) async -> [(ChunkRef, Result<[UInt8]?, SyncError>)] {
        guard !references.isEmpty else { return [] }
        let store = self.store
        let pool = self.pool
        let groups = max(1, min(configuration.readParallelism, references.count))
        let groupSize = (references.count + groups - 1) / groups
        return await withTaskGroup(of: (Int, [(ChunkRef, Result<[UInt8]?, SyncError>)]).self) { group in
            for (number, start) in stride(from: 0, to: references.count, by: groupSize).enumerated() {
                let slice = Array(references[start..<min(references.count, start + groupSize)])
                group.addTask {
                    do throws(SyncError) {
                        let loaded = try await pool.run { () throws(SyncError) in
                            slice.map { Self.storedChunk($0, store) }
                        }
                        return (number, loaded)
                    } catch {
                        return (number, slice.map { ($0, .failure(error)) })
                    }
                }
            }
            var results: [(Int, [(ChunkRef, Result<[UInt8]?, SyncError>)])] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
    }

    /// One chunk from the store (blocking): its bytes, `nil` when absent, or the failure.
    private static func storedChunk(
        _ reference: ChunkRef, _ store: ContentStore
    ) -> (ChunkRef, Result<[UInt8]?, SyncError>) {
        let bytes: [UInt8]
        do throws(StoreError) {
            bytes = try store.chunk(reference.id)
        } catch .notFound {
            return (reference, .success(nil))
        } catch {
            return (reference, .failure(SyncError(error)))
        }
        guard bytes.count == Int(reference.length) else {
            let key = RecordKey(chunk: reference.id)
            return (reference, .failure(.corruptObject(key, reason: "length differs from the manifest")))
        }
        return (reference, .success(bytes))
    }

    // MARK: Prefetch

    /// Remote: the bulk fetch the request names, skipping chunks the store holds. Local: warms the memory cache
    /// with trees and manifests (content is on disk already).
    package func prefetch(_ request: PrefetchRequest) async throws(SyncError) -> FetchSummary {
        counters.withLock { $0.prefetches += 1 }
        guard let fetcher else { return try await warmLocally(request) }
        switch request {
        case .trees(let below, let depth):
            let summary = try await fetcher.fetchTrees(roots: [below], depth: depth, into: store)
            countRemote(summary)
            return summary
        case .files(let blobs, let maxFileBytes, let maxBytes):
            let manifests = try await self.manifests(ofBlobs: blobs)
            var budget = maxBytes
            var small: [ChunkRef] = []
            for blob in blobs {
                guard let manifest = manifests[blob], manifest.size <= maxFileBytes, manifest.size <= budget else {
                    continue
                }
                budget -= manifest.size
                small += manifest.chunks
            }
            return await loadAbsent(small)
        case .manifests(let tree):
            // A subtree request with no content budget: every manifest below, nothing else.
            let summary = try await fetcher.fetchSubtree(tree: tree, maxBytes: 0, maxFileBytes: 0, into: store)
            countRemote(summary)
            return summary
        case .subtree(let tree, let maxBytes, let maxFileBytes):
            return try await streamContent(below: tree, maxBytes: maxBytes, maxFileBytes: maxFileBytes)
        }
    }

    /// Loads the chunks that are neither in memory, nor on disk, nor already being loaded, through the chunk
    /// flights (so a reader that wants one of them meanwhile waits for this load instead of fetching it again), and
    /// waits for them.
    /// - Returns: the chunks this call fetched and their bytes.
    private func loadAbsent(_ references: [ChunkRef]) async -> FetchSummary {
        let candidates = memory.withLock { memory in references.filter { !memory.chunks.contains($0.id) } }
        let absent = Set(store.missing(candidates.map { RecordKey(chunk: $0.id) }).compactMap(\.chunkID))
        var unique = Set<ChunkID>()
        let wanted = candidates.filter { absent.contains($0.id) && unique.insert($0.id).inserted }
        guard !wanted.isEmpty else { return FetchSummary() }
        let claims = chunkFlights.claim(wanted.map(\.id))
        let owned = wanted.filter { reference in claims.contains { $0.key == reference.id && $0.isOwner } }
        guard !owned.isEmpty else { return FetchSummary() }
        await loadChunks(owned, readAhead: true)
        return FetchSummary(records: owned.count, bytes: owned.reduce(0) { $0 + Int64($1.length) })
    }

    /// Fetches the content of the files below `root` in the order a recursive walk reads it: depth first, each
    /// directory's entries in tree order (the order `readdir` lists them, which `grep -r`, `find` and `tar`
    /// follow). Batches of about ``SourceConfiguration/streamBatchBytes`` go out with up to
    /// ``SourceConfiguration/streamConcurrency`` in flight, each through the chunk flights: the walker waits for a
    /// batch that holds what it reads instead of fetching it again, and what the walker fetched first is skipped.
    /// Stops after `maxBytes` of content; files over `maxFileBytes` are left to their readers' read-ahead.
    private func streamContent(
        below root: ObjectID, maxBytes: Int64, maxFileBytes: Int64
    ) async throws(SyncError) -> FetchSummary {
        var budget = maxBytes
        var summary = FetchSummary()
        var batch: [ChunkRef] = []
        var batchBytes: Int64 = 0
        var running: [Task<FetchSummary, Never>] = []
        // One frame per directory on the path: its entries, where the walk is in them, and its files' manifests
        // (fetched once when the walk enters the directory, kept while it visits subdirectories).
        var stack: [(entries: [SourceEntry], next: Int, manifests: [ObjectID: Manifest])] = []
        func enter(_ tree: ObjectID) async throws(SyncError) {
            let entries = try await self.tree(tree).entries
            let files = entries.filter { $0.kind == .regular || $0.kind == .executable }.map(\.id)
            stack.append((entries, 0, try await manifests(ofBlobs: files)))
        }
        try await enter(root)
        func flush() async {
            let references = batch
            batch = []
            batchBytes = 0
            guard !references.isEmpty else { return }
            if running.count >= configuration.streamConcurrency {
                summary = summary + (await running.removeFirst().value)
            }
            running.append(Task { await self.loadAbsent(references) })
        }
        walk: while var frame = stack.popLast() {
            while frame.next < frame.entries.count {
                let entry = frame.entries[frame.next]
                frame.next += 1
                if entry.kind == .directory {
                    stack.append(frame)
                    try await enter(entry.id)
                    continue walk
                }
                guard let manifest = frame.manifests[entry.id], manifest.size <= maxFileBytes else { continue }
                if budget <= 0 { break walk }
                budget -= manifest.size
                batch += manifest.chunks
                batchBytes += manifest.size
                if batchBytes >= configuration.streamBatchBytes { await flush() }
            }
        }
        await flush()
        for task in running { summary = summary + (await task.value) }
        return summary
    }

    /// A local source has everything on disk; prefetch only decodes trees and manifests into memory ahead of use.
    private func warmLocally(_ request: PrefetchRequest) async throws(SyncError) -> FetchSummary {
        switch request {
        case .trees(let below, let depth):
            var level = [below]
            var loaded = 0
            var remaining = depth ?? Int.max
            while !level.isEmpty, remaining >= 0, loaded < 10_000 {
                var next: [ObjectID] = []
                for id in level {
                    let tree = try await tree(id)
                    loaded += 1
                    next += tree.entries.filter { $0.kind == .directory }.map(\.id)
                }
                level = next
                remaining -= 1
            }
            return FetchSummary(records: loaded)
        case .files(let blobs, _, _):
            return FetchSummary(records: try await manifests(ofBlobs: blobs).count)
        case .manifests, .subtree:
            return FetchSummary()
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
    private func countRemote(_ summary: FetchSummary) {
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
