import Dispatch
import MesaCore
import MesaStore
import MesaSync
import MesaWire

// The bridge between a local ContentStore and the sync protocol's records (MesaKit may not import MesaStore, and
// MesaStore does not know MesaWire): records travel as stored, without recompression, and records received are
// stored only once MesaStore has verified their ids (`ContentStore.putVerified`).

/// Runs blocking work (disk reads, libgit2) on a dedicated serial queue, never on Swift's cooperative pool (STYLE.md
/// section 5.7).
enum Blocking {
    private static let queue = DispatchQueue(label: "mesa.cli.blocking")

    /// Runs `work` on the blocking queue and returns its result.
    static func run<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work() }) }
        }
    }
}

/// The records of `keys`, read from a store in batches on the blocking queue, in the order given (a push's order).
struct StoreRecords: AsyncSequence, Sendable {
    typealias Element = SyncRecord

    /// Records read per hop to the blocking queue: at most 8 MiB of chunks (256 KiB each at most).
    static let batchSize = 32

    let store: ContentStore
    let keys: [RecordKey]

    func makeAsyncIterator() -> Iterator { Iterator(store: store, keys: keys) }

    struct Iterator: AsyncIteratorProtocol {
        let store: ContentStore
        let keys: [RecordKey]
        var batch: [SyncRecord] = []
        var index = 0
        var nextKey = 0

        mutating func next() async throws -> SyncRecord? {
            if index == batch.count {
                guard nextKey < keys.count else { return nil }
                let slice = Array(keys[nextKey..<Swift.min(keys.count, nextKey + StoreRecords.batchSize)])
                let store = store
                batch = try await Blocking.run { try slice.map { SyncRecord(try store.stored($0)) } }
                nextKey += slice.count
                index = 0
            }
            defer { index += 1 }
            return batch[index]
        }
    }
}
