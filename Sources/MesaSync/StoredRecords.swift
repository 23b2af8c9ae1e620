package import MesaCore
package import MesaStore
package import MesaWire

// Records travel as stored, without recompression: a push reads them from the store in batches, off the cooperative
// pool, in the order the push needs. Used by the mount's uploads and by `mesa import`.

/// The records of `keys`, read from a store in batches on the blocking pool, in the order given (a push's order).
package struct StoredRecords: AsyncSequence, Sendable {
    package typealias Element = SyncRecord

    /// Records read per hop to the pool: at most 8 MiB of chunks (256 KiB each at most).
    static let batchSize = 32

    let store: ContentStore
    let keys: [RecordKey]
    let pool: BlockingPool

    /// The records of `keys` in `store`, read on `pool`.
    package init(store: ContentStore, keys: [RecordKey], pool: BlockingPool = .shared) {
        self.store = store
        self.keys = keys
        self.pool = pool
    }

    package func makeAsyncIterator() -> Iterator { Iterator(records: self) }

    package struct Iterator: AsyncIteratorProtocol {
        let records: StoredRecords
        var batch: [SyncRecord] = []
        var index = 0
        var nextKey = 0

        package mutating func next() async throws -> SyncRecord? {
            if index == batch.count {
                let keys = records.keys
                guard nextKey < keys.count else { return nil }
                let slice = Array(keys[nextKey..<Swift.min(keys.count, nextKey + StoredRecords.batchSize)])
                let store = records.store
                batch = try await records.pool.run { () throws(SyncError) -> [SyncRecord] in
                    do throws(StoreError) {
                        return try slice.map { key throws(StoreError) in SyncRecord(try store.stored(key)) }
                    } catch {
                        throw SyncError(error)
                    }
                }
                nextKey += slice.count
                index = 0
            }
            defer { index += 1 }
            return batch[index]
        }
    }
}
