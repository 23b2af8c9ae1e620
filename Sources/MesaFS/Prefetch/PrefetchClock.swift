import Synchronization

/// The prefetcher's time: the continuous clock, moved ahead by ``advance(by:)``. Walk detection counts visits within a
/// window of this time; tests step past the window instead of sleeping (a loaded machine makes sleeps unreliable).
package final class PrefetchClock: Sendable {
    private let offset = Mutex<Duration>(.zero)

    /// The continuous clock, not moved.
    package init() {}

    /// The current time.
    package var now: ContinuousClock.Instant { ContinuousClock.now + offset.withLock { $0 } }

    /// Moves the time ahead.
    package func advance(by duration: Duration) {
        offset.withLock { $0 += duration }
    }
}
