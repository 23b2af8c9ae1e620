import Foundation

/// Exponential back-off with a cap, shared by the server's retrying background work (webhook deliveries, upstream
/// syncs): `base` seconds after the first failure, doubling after each further one, never more than `max`.
package struct RetryBackoff: Sendable, Equatable {
    /// Seconds before the first retry.
    package var base: Double
    /// The longest wait, in seconds.
    package var max: Double

    /// Creates a back-off.
    package init(base: Double, max: Double) {
        self.base = base
        self.max = max
    }

    /// The wait before attempt number `attempt + 1`, after `attempt` failed ones.
    package func delay(afterFailedAttempts attempt: Int) -> Double {
        Swift.min(max, base * pow(2, Double(Swift.max(attempt - 1, 0))))
    }
}
