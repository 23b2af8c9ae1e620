import Synchronization

// Single flight: concurrent requests for one key share one load.
//
// The first caller to `claim` a key owns its flight and must `finish` it; later callers get the same flight and
// wait. A waiter whose task is cancelled stops waiting at once (a FUSE interrupt answers EINTR without waiting for
// the load), while the load itself goes on for the other waiters: owners start it in an unstructured task, so no
// one caller's cancellation can cancel it.

/// One load that several callers wait for.
final class Flight<Value: Sendable>: Sendable {
    private struct State {
        var result: Result<Value, SyncError>?
        var waiters: [Int: CheckedContinuation<Result<Value, SyncError>, Never>] = [:]
        var cancelled: Set<Int> = []
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    /// Delivers the result to every waiter, and to every later one.
    func complete(_ result: Result<Value, SyncError>) {
        let waiters = state.withLock { state in
            state.result = result
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: result) }
    }

    /// Waits for the result.
    /// - Throws: the load's error, or ``SyncError/cancelled`` as soon as the calling task is cancelled.
    func value() async throws(SyncError) -> Value {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Result<Value, SyncError>, Never>) in
                let immediate = state.withLock { state -> Result<Value, SyncError>? in
                    if let result = state.result { return result }
                    if state.cancelled.remove(id) != nil { return .failure(.cancelled) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Result<Value, SyncError>, Never>? in
                guard state.result == nil else { return nil }
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                state.cancelled.insert(id)
                return nil
            }
            waiter?.resume(returning: .failure(.cancelled))
        }
        return try result.get()
    }
}

/// The flights in progress, by key.
final class FlightTable<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// A caller's share of a flight.
    struct Claim {
        /// The key.
        var key: Key
        /// The flight to wait on.
        var flight: Flight<Value>
        /// Whether this caller started the flight and must finish it.
        var isOwner: Bool
    }

    private let flights = Mutex<[Key: Flight<Value>]>([:])

    /// Joins the flights in progress for `keys` and starts new ones for the others (owned by the caller).
    func claim(_ keys: [Key]) -> [Claim] {
        flights.withLock { flights in
            keys.map { key in
                if let flight = flights[key] { return Claim(key: key, flight: flight, isOwner: false) }
                let flight = Flight<Value>()
                flights[key] = flight
                return Claim(key: key, flight: flight, isOwner: true)
            }
        }
    }

    /// Joins the flight in progress for `key`, or starts one owned by the caller.
    func claim(_ key: Key) -> Claim {
        flights.withLock { flights in
            if let flight = flights[key] { return Claim(key: key, flight: flight, isOwner: false) }
            let flight = Flight<Value>()
            flights[key] = flight
            return Claim(key: key, flight: flight, isOwner: true)
        }
    }

    /// Whether a load of `key` is in progress.
    func isInFlight(_ key: Key) -> Bool { flights.withLock { $0[key] != nil } }

    /// Ends the flight of `key` with `result`. Callers put a successful value in their cache first, so a caller
    /// arriving after the flight ended finds it there.
    func finish(_ key: Key, with result: Result<Value, SyncError>) {
        let flight = flights.withLock { $0.removeValue(forKey: key) }
        flight?.complete(result)
    }
}
