package import MesaCore
import MesaStore
import MesaTree
import Synchronization

// Content: a read maps its byte range to chunks and loads only the missing ones; a sequential reader's window
// loads the chunks after it in the background. Store reads run on the BlockingPool.

extension StoreObjectSource {
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
    static func slices(of manifest: Manifest, _ range: Range<Int64>, from chunks: [ChunkID: [UInt8]]) -> ByteSlices {
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
    static func memoryCost(of manifest: Manifest) -> Int { 64 + manifest.chunks.count * 48 }

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
    func chunks(_ references: [ChunkRef]) async throws(SyncError) -> [ChunkID: [UInt8]] {
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
    func startReadAhead(_ manifest: Manifest, after offset: Int64, length: Int64) {
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
    func loadChunks(_ references: [ChunkRef], readAhead: Bool) async {
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
    func storedChunks(_ references: [ChunkRef]) async -> [(ChunkRef, Result<[UInt8]?, SyncError>)] {
        guard !references.isEmpty else { return [] }
        let store = self.store
        let pool = self.pool
        let isCache = fetcher != nil
        let groups = max(1, min(configuration.readParallelism, references.count))
        let groupSize = (references.count + groups - 1) / groups
        return await withTaskGroup(of: (Int, [(ChunkRef, Result<[UInt8]?, SyncError>)]).self) { group in
            for (number, start) in stride(from: 0, to: references.count, by: groupSize).enumerated() {
                let slice = Array(references[start..<min(references.count, start + groupSize)])
                group.addTask {
                    do throws(SyncError) {
                        let loaded = try await pool.run { () throws(SyncError) in
                            slice.map { Self.storedChunk($0, store, isCache: isCache) }
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

    /// One chunk from the store (blocking): its bytes, `nil` when absent, or the failure. In a cache, a damaged
    /// chunk is dropped and reads as absent (fetched again), as ``readStored(_:in:isCache:_:)`` does.
    static func storedChunk(
        _ reference: ChunkRef, _ store: ContentStore, isCache: Bool
    ) -> (ChunkRef, Result<[UInt8]?, SyncError>) {
        let key = RecordKey(chunk: reference.id)
        do throws(SyncError) {
            guard let bytes = try readStored(key, in: store, isCache: isCache, { () throws(StoreError) in
                try store.chunk(reference.id)
            }) else { return (reference, .success(nil)) }
            guard bytes.count == Int(reference.length) else {
                if isCache {
                    _ = try? store.remove([key])
                    return (reference, .success(nil))
                }
                return (reference, .failure(.corruptObject(key, reason: "length differs from the manifest")))
            }
            return (reference, .success(bytes))
        } catch {
            return (reference, .failure(error))
        }
    }

    /// A record read from the store; `nil` when the store does not hold it. A cache (a store a fetcher fills) never
    /// serves a record that fails its checksum or id check, and never fails on one either: it drops the record, so
    /// the caller fetches it again, and the damage is gone. A local repository's store reports it
    /// (``SyncError/corruptObject(_:reason:)``).
    static func readStored<Value>(
        _ key: RecordKey, in store: ContentStore, isCache: Bool, _ read: () throws(StoreError) -> Value
    ) throws(SyncError) -> Value? {
        do throws(StoreError) {
            return try read()
        } catch {
            switch error {
            case .notFound: return nil
            case .corruptRecord where isCache:
                _ = try? store.remove([key])
                return nil
            default: throw SyncError(error)
            }
        }
    }
}
