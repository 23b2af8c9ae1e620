import MesaCore
import MesaStore
import MesaTree
import Synchronization

// Prefetch: bulk loads of trees, manifests and a subtree's content, scheduled by MesaFS's Prefetcher.

extension StoreObjectSource {
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
    func loadAbsent(_ references: [ChunkRef]) async -> FetchSummary {
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
    func streamContent(
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
    func warmLocally(_ request: PrefetchRequest) async throws(SyncError) -> FetchSummary {
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
}
