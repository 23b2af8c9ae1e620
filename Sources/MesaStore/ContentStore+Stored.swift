package import MesaCore
import Synchronization

// Records in their stored form, for the sync protocol: the server sends what it stored (no recompression) and stores
// what a client pushed once its id is verified, and a client does the same with what it fetched.

/// A record as stored: codec, uncompressed length and the stored bytes.
package struct StoredRecord: Sendable, Equatable {
    /// The record's key.
    package var key: RecordKey
    /// How the bytes are stored.
    package var codec: Codec
    /// The uncompressed length.
    package var rawLength: UInt32
    /// The stored (possibly compressed) bytes.
    package var stored: [UInt8]

    /// Creates a stored record.
    package init(key: RecordKey, codec: Codec, rawLength: UInt32, stored: [UInt8]) {
        self.key = key
        self.codec = codec
        self.rawLength = rawLength
        self.stored = stored
    }

    /// The uncompressed bytes.
    /// - Throws: ``StoreError/corruptRecord(_:reason:)`` when the bytes do not decompress to `rawLength`.
    package func decoded() throws(StoreError) -> [UInt8] {
        try stored.withBytes { (payload) throws(StoreError) in
            try ContentStore.decode(payload, codec: codec, rawLength: Int(rawLength), key: key)
        }
    }
}

extension ContentStore {
    /// Reads a record in its stored form, its checksum verified.
    package func stored(_ key: RecordKey) throws(StoreError) -> StoredRecord {
        let (location, segment) = try locate(key)
        let record = try segment.file.read(count: Int(location.recordSize(kind: key.kind)), at: location.offset)
        let payload = try record.withBytes { (raw) throws(StoreError) in
            Array(try verifiedPayload(key, location: location, record: raw))
        }
        return StoredRecord(key: key, codec: location.codec, rawLength: location.rawLength, stored: payload)
    }

    /// Stores a record in the form given, without recompressing it. The caller has verified that the content
    /// hashes to the key (``StoredRecord/decoded()`` gives the bytes to hash).
    /// - Returns: `true` when the record was new.
    @discardableResult
    package func putStored(_ record: StoredRecord) throws(StoreError) -> Bool {
        try putStored([record]) == 1
    }

    /// Stores several records in the form given (see ``putStored(_:)-(StoredRecord)``): headers and checksums are
    /// computed first, then one lock round appends every new record in one write, so a fetch of many small records
    /// (a subtree's manifests) does not take the store's lock per record.
    /// - Returns: how many records were new.
    @discardableResult
    package func putStored(_ records: [StoredRecord]) throws(StoreError) -> Int {
        guard !records.isEmpty else { return 0 }
        var encoded: [(header: RecordHeader, bytes: [UInt8])] = []
        encoded.reserveCapacity(records.count)
        for record in records {
            guard record.stored.count <= Int(UInt32.max) else { throw .invalidArgument("a record holds at most 4 GiB") }
            let header = RecordHeader(
                key: record.key, codec: record.codec, rawLength: record.rawLength,
                storedLength: UInt32(record.stored.count), payloadChecksum: CRC32C.checksum(record.stored))
            encoded.append((header, header.encoded() + record.stored))
        }
        let stored = try append(records: encoded)
        if stored > 0, configuration.maxUnpinnedBytes != nil { try evictIfNeeded() }
        return stored
    }

    /// Verifies received records (each id recomputed from its decompressed bytes, outside the store's lock) and
    /// stores them with ``putStored(_:)-([StoredRecord])``. Chunks, trees, commits and tags only: a manifest is
    /// verified through its chunks (``putVerified(_:)``).
    /// - Returns: how many records were new.
    /// - Throws: ``StoreError/corruptRecord(_:reason:)`` for the first record that fails; nothing of the batch is
    ///   stored then.
    @discardableResult
    package func putVerified(_ records: [StoredRecord]) throws(StoreError) -> Int {
        for record in records {
            guard record.key.kind != .manifest else {
                throw .invalidArgument("manifests are verified one by one, through their chunks")
            }
            if let reason = try idMismatch(record.key, try record.decoded()) {
                throw .corruptRecord(record.key, reason: reason)
            }
        }
        return try putStored(records)
    }
}
