package import MesaCore
import MesaStore
import MesaTree
import Synchronization

// Manifests: the chunk lists of blobs, loaded in batches and shared by concurrent readers.

extension StoreObjectSource {
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

    func loadManifests(_ ids: [ObjectID]) async {
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
    func storedManifests(_ ids: [ObjectID]) async throws(SyncError) -> [ObjectID: Manifest] {
        let store = self.store
        let isCache = fetcher != nil
        return try await pool.run { () throws(SyncError) -> [ObjectID: Manifest] in
            var manifests: [ObjectID: Manifest] = [:]
            for id in ids {
                manifests[id] = try Self.readStored(RecordKey(.manifest, object: id), in: store, isCache: isCache) {
                    () throws(StoreError) in try store.manifest(forBlob: id)
                }
            }
            return manifests
        }
    }
}
