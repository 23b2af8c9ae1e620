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
        let header = RecordHeader(
            key: record.key, codec: record.codec, rawLength: record.rawLength, storedLength: UInt32(record.stored.count),
            payloadChecksum: CRC32C.checksum(record.stored))
        let bytes = header.encoded() + record.stored
        let stored = try bytes.withBytes { (raw) throws(StoreError) in try append(record: raw, header: header) }
        if stored, configuration.maxUnpinnedBytes != nil { try evictIfNeeded() }
        return stored
    }
}
