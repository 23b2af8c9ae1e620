import Synchronization
package import MesaCore

// Taking back what failed work stored. A server request stores records before it knows whether it will succeed (a
// push streams them; a merge computes objects before it finds a conflict). `logNewRecords` runs a piece of work on
// the calling thread and logs each record its puts newly store, with the use stamp the put gave it; the thread's own
// later uses of such a record move the stamp along. `takeBack` then removes the logged records whose stamp is still
// the record's last use: any other writer that found one present (and may reference it) touched it, and it stays.
// Puts made by other threads during the work are not logged: what they leave is garbage collection's.

/// Records a piece of work newly stored, each with its last use stamp.
package struct NewRecords: Sendable {
    /// The logged records and their stamps.
    package fileprivate(set) var stamps: [RecordKey: UInt64] = [:]

    /// An empty log.
    package init() {}

    /// How many records are logged.
    package var count: Int { stamps.count }

    /// Adds another log's records (the later stamp wins).
    package mutating func formUnion(_ other: NewRecords) {
        stamps.merge(other.stamps) { _, newer in newer }
    }
}

extension ContentStore {
    /// Runs `body` on the calling thread, adding to `log` every record its puts newly store (also when it throws).
    /// Logs do not nest on one thread.
    package func logNewRecords<T, E: Error>(into log: inout NewRecords, _ body: () throws(E) -> T) throws(E) -> T {
        let thread = pthread_self()
        state.withLock { state in
            precondition(state.writeLogs[thread] == nil, "write logs do not nest on one thread")
            state.writeLogs[thread] = [:]
        }
        defer {
            let logged = state.withLock { state in state.writeLogs.removeValue(forKey: thread) ?? [:] }
            log.stamps.merge(logged) { _, newer in newer }
        }
        return try body()
    }

    /// Removes the logged records no one else used since they were logged.
    /// - Returns: the records removed and their stored bytes.
    @discardableResult
    package func takeBack(_ log: NewRecords) -> (records: Int, bytes: Int64) {
        guard log.count > 0 else { return (0, 0) }
        return state.withLock { state in
            var removed = (records: 0, bytes: Int64(0))
            guard !state.closed else { return removed }
            for (key, stamp) in log.stamps where state.entries[key]?.lastAccess == stamp {
                guard let entry = state.remove(key) else { continue }
                removed.records += 1
                removed.bytes += entry.location.recordSize(kind: key.kind)
            }
            return removed
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
