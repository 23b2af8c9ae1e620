import MesaCore

// Storing records received from elsewhere (a sync fetch, a push's merge material) only once their ids are verified:
// the bytes are decompressed and hashed (SHA-256 for chunks, git's SHA-1 for trees, commits and tags, the blob id of
// the content for manifests), then stored as they came, without recompressing.

extension ContentStore {
    /// Verifies a received record and stores it as it is.
    ///
    /// A manifest is checked against its chunks, which must be in this store already (a verifying receiver that
    /// gets a manifest before its chunks holds it back: ``VerifyingReceiver``).
    /// - Returns: `true` when the record was new.
    /// - Throws: ``StoreError/corruptRecord(_:reason:)`` when the bytes do not decompress or do not hash to the key;
    ///   nothing is stored then.
    @discardableResult
    package func putVerified(_ record: StoredRecord) throws(StoreError) -> Bool {
        let bytes = try record.decoded()
        if let reason = try idMismatch(record.key, bytes) {
            throw .corruptRecord(record.key, reason: reason)
        }
        return try putStored(record)
    }
}

/// Verifies and stores the records of a fetch in the order they arrive, holding back each manifest until every
/// chunk it lists is stored (answers may send a file's manifest before its chunks).
package struct VerifyingReceiver {
    /// The store records go to.
    package let store: ContentStore
    /// Manifests waiting, with how many distinct chunks each still lacks.
    private var waiting: [RecordKey: (record: StoredRecord, missing: Int)] = [:]
    /// For each awaited chunk, the manifests waiting for it.
    private var waiters: [ChunkID: [RecordKey]] = [:]

    /// Creates a receiver for `store`.
    package init(store: ContentStore) {
        self.store = store
    }

    /// Verifies and stores one record (a manifest whose chunks are not all stored waits).
    /// - Returns: how many records were newly stored by this call (a chunk may release waiting manifests).
    /// - Throws: ``StoreError/corruptRecord(_:reason:)`` for a record that fails verification.
    package mutating func receive(_ record: StoredRecord) throws(StoreError) -> Int {
        if record.key.kind == .manifest, waiting[record.key] == nil,
            let manifest = Manifest(decoding: try record.decoded())
        {
            let missing = Set(manifest.chunks.map(\.id)).filter { !store.contains(RecordKey(chunk: $0)) }
            if !missing.isEmpty {
                waiting[record.key] = (record, missing.count)
                for chunk in missing { waiters[chunk, default: []].append(record.key) }
                return 0
            }
        }
        var stored = try store.putVerified(record) ? 1 : 0
        guard let chunk = record.key.chunkID, let keys = waiters.removeValue(forKey: chunk) else { return stored }
        for key in keys {
            guard var entry = waiting[key] else { continue }
            entry.missing -= 1
            if entry.missing > 0 {
                waiting[key] = entry
            } else {
                waiting[key] = nil
                if try store.putVerified(entry.record) { stored += 1 }
            }
        }
        return stored
    }

    /// The manifests still waiting for chunks that never came: not stored (the caller fetches their chunks and
    /// passes the manifests again, or drops them).
    package var unverified: [StoredRecord] { waiting.values.map(\.record) }
}
