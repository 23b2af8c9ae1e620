package import MesaStore
package import MesaWire

// The bridge between a local ContentStore and the sync protocol's records (MesaKit may not import MesaStore, and
// MesaStore does not know MesaWire): records travel as stored, without recompression, and records received are
// stored only once MesaStore has verified their ids (`ContentStore.putVerified`).

extension SyncRecord {
    /// A stored record as it travels in a sync stream.
    package init(_ record: StoredRecord) {
        self.init(
            key: record.key, codec: record.codec.rawValue, rawLength: record.rawLength, stored: record.stored,
            checksum: record.checksum)
    }
}

extension StoredRecord {
    /// A received record in the store's terms.
    /// - Throws: ``StoreError/corruptRecord(_:reason:)`` for a codec the store does not know.
    package init(_ record: SyncRecord) throws(StoreError) {
        guard let codec = Codec(rawValue: record.codec) else {
            throw .corruptRecord(record.key, reason: "unknown codec \(record.codec)")
        }
        self.init(
            key: record.key, codec: codec, rawLength: record.rawLength, stored: record.stored, checksum: record.checksum)
    }
}
