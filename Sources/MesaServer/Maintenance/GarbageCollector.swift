import Foundation
import MesaCore
package import MesaStore
import Synchronization

// Garbage collection of the server's store: records no repo references, and staged records past their grace
// period, are removed and their space compacted away.
//
// A run: (1) read the store's use clock; (2) delete staged references staged before `now - grace`; (3) read every
// key some repo references or holds staged; (4) remove each store record outside that set that was not used since
// the previous run's clock reading (`ContentStore.remove(_:unusedSince:)`, atomically against uses); (5) compact.
//
// Why (4) is safe against requests in flight: a writer that is about to reference a record it found present touches
// it first (MesaRepository.writeBlob, the push's checks of what it points at), and a record it stores is stamped by
// the put. Its reference row follows within the same blocking call. So a record taken in run k was untouched since
// before run k-1 began and unreferenced when run k read the references: a writer would have had to take a whole
// interval between touching a record and referencing it. Compaction rewrites segments at least half dead (the store's
// setting), so disk space follows removals in steps. Records written by a refused request are removed by the
// second run after the refusal; the first run after the server opens may take anything unreferenced (no request
// spans a restart).

/// What one garbage collection did.
package struct CollectionReport: Sendable, Equatable {
    /// Staged references deleted for being older than the grace period.
    package var expiredStaged: Int
    /// Records removed from the store.
    package var removedRecords: Int
    /// Stored bytes of the removed records.
    package var removedBytes: Int64
    /// Bytes of segment files reclaimed by compaction.
    package var reclaimedBytes: Int64
}

/// Collects the server store's unreferenced records (see the file's opening comment).
package final class GarbageCollector: Sendable {
    private let metadata: any MetadataStore
    private let store: ContentStore
    /// Staged records younger than this (seconds) are kept: an interrupted push resumes within it.
    package let grace: Double
    /// The use clock when the previous run began (or when the collector was made).
    private let previousClock: Mutex<UInt64>
    /// Runs are serialized.
    private let running = Mutex<Void>(())

    /// Creates a collector over the server's stores.
    package init(metadata: any MetadataStore, store: ContentStore, grace: Double) {
        self.metadata = metadata
        self.store = store
        self.grace = grace
        previousClock = Mutex(store.useClock)
    }

    /// Runs one collection (blocking: run it on the blocking pool).
    /// - Parameter now: seconds since the epoch, for the grace period.
    package func collect(now: Double = Date().timeIntervalSince1970) throws -> CollectionReport {
        try running.withLock { _ in
            let clock = store.useClock
            let cutoff = previousClock.withLock { $0 }
            let expired = try metadata.expireStaged(before: now - grace)
            let live = try metadata.allReferencedKeys()
            let candidates = store.keys(unusedSince: cutoff).filter { !live.contains($0) }
            let removed = try store.remove(candidates, unusedSince: cutoff)
            let reclaimed = removed.records > 0 ? try store.compact() : 0
            try store.sync()
            previousClock.withLock { $0 = clock }
            return CollectionReport(
                expiredStaged: expired, removedRecords: removed.records, removedBytes: removed.bytes,
                reclaimedBytes: reclaimed)
        }
    }
}
