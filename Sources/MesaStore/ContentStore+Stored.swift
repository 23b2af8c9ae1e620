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
    package var stored: [UInt8] { didSet { checksum = nil } }
    /// The CRC-32C of ``stored`` when already known (read from a verified record, or verified in transit), so
    /// storing it does not compute it again; `nil` to compute. Cleared whenever `stored` changes.
    package var checksum: UInt32?

    /// Creates a stored record.
    package init(key: RecordKey, codec: Codec, rawLength: UInt32, stored: [UInt8], checksum: UInt32? = nil) {
        self.key = key
        self.codec = codec
        self.rawLength = rawLength
        self.stored = stored
        self.checksum = checksum
    }

    /// Records are equal when their contents are; a known checksum is only a cache.
    package static func == (lhs: StoredRecord, rhs: StoredRecord) -> Bool {
        lhs.key == rhs.key && lhs.codec == rhs.codec && lhs.rawLength == rhs.rawLength && lhs.stored == rhs.stored
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
        let (payload, checksum) = try record.withBytes { (raw) throws(StoreError) -> ([UInt8], UInt32?) in
            let payload = Array(try verifiedPayload(key, location: location, record: raw))
            // Verified just now: the header's checksum is the payload's.
            return (payload, (try? RecordHeader(decoding: raw))?.payloadChecksum)
        }
        return StoredRecord(
            key: key, codec: location.codec, rawLength: location.rawLength, stored: payload, checksum: checksum)
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
        var encoded: [(header: RecordHeader, head: [UInt8], payload: [UInt8])] = []
        encoded.reserveCapacity(records.count)
        for record in records {
            guard record.stored.count <= Int(UInt32.max) else { throw .invalidArgument("a record holds at most 4 GiB") }
            let header = RecordHeader(
                key: record.key, codec: record.codec, rawLength: record.rawLength,
                storedLength: UInt32(record.stored.count),
                payloadChecksum: record.checksum ?? PayloadChecksum.of(record.stored))
            encoded.append((header, header.encoded(), record.stored))
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
    /// - Parameter verified: sees each record's decompressed bytes once they are verified (a fetch keeps chunks
    ///   and trees it is about to use instead of reading them back).
    @discardableResult
    package func putVerified(
        _ records: [StoredRecord], verified: (RecordKey, [UInt8]) -> Void = { _, _ in }
    ) throws(StoreError) -> Int {
        for record in records {
            guard record.key.kind != .manifest else {
                throw .invalidArgument("manifests are verified one by one, through their chunks")
            }
            let bytes = try record.decoded()
            if let reason = try idMismatch(record.key, bytes) {
                throw .corruptRecord(record.key, reason: reason)
            }
            verified(record.key, bytes)
        }
        return try putStored(records)
    }
}
