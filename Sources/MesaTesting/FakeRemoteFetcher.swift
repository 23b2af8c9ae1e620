package import MesaCore
package import MesaStore
package import MesaSync
package import MesaTree
import Synchronization

// A RemoteFetcher over another local repository (the "server"): every fetch copies records as stored into the
// client's cache, exactly as the sync protocol would, and is counted, so "mounting fetches no content" and "a range
// read fetches only its chunks" are measured, not assumed. Failures and delays are injected per call kind
// (mountpoint-s3's failure client).

/// A ``RemoteFetcher`` over a local repository, counting what it sends, with injected failures and delays.
package final class FakeRemoteFetcher: RemoteFetcher {
    /// The kinds of calls, for injection.
    package enum Call: Sendable, Hashable, CaseIterable {
        case resolve, lookup, trees, records, subtree
    }

    /// What was fetched so far.
    package struct Counts: Sendable, Hashable {
        /// Calls by kind.
        package var calls: [Call: Int] = [:]
        /// Records sent, by kind.
        package var records: [RecordKind: Int] = [:]
        /// Every chunk sent, in order (a chunk sent twice appears twice).
        package var chunks: [ChunkID] = []
        /// Uncompressed bytes sent.
        package var bytes: Int64 = 0

        /// Chunks sent.
        package var chunkCount: Int { records[.chunk] ?? 0 }
    }

    private struct Injection {
        var failing: Set<Call> = []
        var delays: [Call: Duration] = [:]
    }

    /// The server's repository.
    package let server: MesaRepository
    private let counts = Mutex(Counts())
    private let injection = Mutex(Injection())
    private let pool: BlockingPool

    /// Creates a fetcher serving `server`.
    package init(server: MesaRepository, pool: BlockingPool = .shared) {
        self.server = server
        self.pool = pool
    }

    /// The counts so far.
    package var snapshot: Counts { counts.withLock { $0 } }

    /// Zeroes the counts.
    package func resetCounts() { counts.withLock { $0 = Counts() } }

    /// Makes calls of these kinds fail (`remote` errors) until changed.
    package func fail(_ calls: Set<Call>) { injection.withLock { $0.failing = calls } }

    /// Delays calls of a kind before they are served.
    package func delay(_ call: Call, by duration: Duration?) { injection.withLock { $0.delays[call] = duration } }

    private func begin(_ call: Call) async throws(SyncError) {
        let (failing, delay) = injection.withLock { ($0.failing.contains(call), $0.delays[call]) }
        counts.withLock { $0.calls[call, default: 0] += 1 }
        if let delay { try? await Task.sleep(for: delay) }
        if failing { throw .remote(operation: "\(call)", message: "injected failure") }
    }

    /// Copies records into the cache, counting what was sent. Keys the server lacks are skipped, and so are keys
    /// the cache holds already (the protocol's `have` lists).
    private func send(_ keys: [RecordKey], into cache: ContentStore) async throws(SyncError) -> FetchSummary {
        let server = self.server
        let sent = try await pool.run { () throws(SyncError) -> [(RecordKey, Int64)] in
            var sent: [(RecordKey, Int64)] = []
            for key in keys where !cache.contains(key) {
                do throws(StoreError) {
                    let record = try server.store.stored(key)
                    try cache.putStored(record)
                    sent.append((key, Int64(record.rawLength)))
                } catch .notFound {
                    continue
                } catch {
                    throw SyncError(error)
                }
            }
            return sent
        }
        counts.withLock { counts in
            for (key, bytes) in sent {
                counts.records[key.kind, default: 0] += 1
                counts.bytes += bytes
                if let chunk = key.chunkID { counts.chunks.append(chunk) }
            }
        }
        return FetchSummary(records: sent.count, bytes: sent.reduce(0) { $0 + $1.1 })
    }

    /// Resolves through the server's catalog (counted as a `resolve` call).
    package func resolve(_ revision: Revision) async throws(SyncError) -> Resolution {
        try await begin(.resolve)
        let server = self.server
        return try await pool.run { () throws(SyncError) -> Resolution in
            try StoreObjectSource.resolve(revision, in: server, defaultBookmark: "main")
        }
    }

    /// Sends the trees along the path, the target's manifest and, up to 256 KiB, its chunks.
    package func lookup(
        revision: Revision, path: [FileName], into cache: ContentStore
    ) async throws(SyncError) -> LookupResult {
        try await begin(.lookup)
        let resolution = try await pool.run { [server] () throws(SyncError) -> Resolution in
            try StoreObjectSource.resolve(revision, in: server, defaultBookmark: "main")
        }
        var keys = [RecordKey(.tree, object: resolution.rootTree)]
        var entry = SourceEntry(name: FileName(bytes: []), kind: .directory, id: resolution.rootTree)
        var found = true
        for name in path {
            guard entry.kind == .directory, let next = try await serverTree(entry.id).entry(named: name) else {
                found = false
                break
            }
            entry = next
            keys.append(RecordKey(entry.kind == .directory ? .tree : .manifest, object: entry.id))
        }
        var size: Int64?
        if found, entry.kind.isBlob {
            let manifest = try await serverManifest(entry.id)
            size = manifest.size
            if manifest.size <= 256 << 10 { keys += manifest.chunks.map { RecordKey(chunk: $0.id) } }
        }
        _ = try await send(keys, into: cache)
        return LookupResult(resolution: resolution, entry: found ? entry : nil, size: size)
    }

    /// Sends the trees under the roots, level by level, to `depth`.
    package func fetchTrees(
        roots: [ObjectID], depth: Int?, into cache: ContentStore
    ) async throws(SyncError) -> FetchSummary {
        try await begin(.trees)
        var keys: [RecordKey] = []
        var level = roots
        var remaining = depth ?? Int.max
        while !level.isEmpty {
            var next: [ObjectID] = []
            for id in level where id != TreeCodec.emptyTreeID {
                keys.append(RecordKey(.tree, object: id))
                if remaining > 0 {
                    next += try await serverTree(id).entries.filter { $0.kind == .directory }.map(\.id)
                }
            }
            level = next
            if remaining == 0 { break }
            remaining -= 1
        }
        return try await send(keys, into: cache)
    }

    /// Sends the records asked for.
    package func fetchRecords(keys: [RecordKey], into cache: ContentStore) async throws(SyncError) -> FetchSummary {
        try await begin(.records)
        return try await send(keys, into: cache)
    }

    /// Sends every manifest under the tree and the chunks of files within the limits.
    package func fetchSubtree(
        tree: ObjectID, maxBytes: Int64, maxFileBytes: Int64, into cache: ContentStore
    ) async throws(SyncError) -> FetchSummary {
        try await begin(.subtree)
        var keys: [RecordKey] = []
        var budget = maxBytes
        var pending = [tree]
        while let id = pending.popLast() {
            for entry in try await serverTree(id).entries {
                if entry.kind == .directory {
                    pending.append(entry.id)
                } else if entry.kind.isBlob {
                    keys.append(RecordKey(.manifest, object: entry.id))
                    let manifest = try await serverManifest(entry.id)
                    guard manifest.size <= maxFileBytes, manifest.size <= budget else { continue }
                    budget -= manifest.size
                    keys += manifest.chunks.map { RecordKey(chunk: $0.id) }
                }
            }
        }
        return try await send(keys, into: cache)
    }

    private func serverTree(_ id: ObjectID) async throws(SyncError) -> SourceTree {
        let server = self.server
        return try await pool.run { () throws(SyncError) -> SourceTree in
            do throws(TreeError) {
                let entries = try server.tree(id)
                return SourceTree(
                    id: id,
                    entries: entries.map { SourceEntry(name: FileName($0.name), kind: EntryKind($0.mode), id: $0.id) })
            } catch {
                throw SyncError(error)
            }
        }
    }

    private func serverManifest(_ id: ObjectID) async throws(SyncError) -> Manifest {
        let server = self.server
        return try await pool.run { () throws(SyncError) -> Manifest in
            do throws(TreeError) {
                return try server.manifest(ofBlob: id)
            } catch {
                throw SyncError(error)
            }
        }
    }
}
