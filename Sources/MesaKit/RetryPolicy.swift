/// When and how fast MesaKit repeats a failed request: exponential back-off with jitter.
///
/// Retried: connection failures (could not resolve or connect, connection reset, nothing received, timeouts) and
/// `5xx` answers other than `501`, for idempotent methods (`GET`, `HEAD`, `PUT`, `DELETE`). `POST` and `PATCH` are
/// retried only when libcurl reports that no connection was made (`CURLE_COULDNT_RESOLVE_HOST`,
/// `CURLE_COULDNT_CONNECT`), because then the server cannot have seen them.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts in all, the first included; `1` never retries.
    public var maxAttempts: Int
    /// The delay before the first retry.
    public var initialDelay: Duration
    /// The largest delay between attempts.
    public var maxDelay: Duration
    /// The factor by which the delay grows after each retry.
    public var multiplier: Double
    /// The fraction of each delay that is random, `0...1`: `0.5` waits between half and all of the delay.
    public var jitter: Double

    /// Creates a policy.
    public init(
        maxAttempts: Int = 4,
        initialDelay: Duration = .milliseconds(200),
        maxDelay: Duration = .seconds(5),
        multiplier: Double = 2,
        jitter: Double = 0.5
    ) {
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// Four attempts, 200 ms doubling up to 5 s, half of each delay random.
    public static let `default` = RetryPolicy()

    /// One attempt, no retry.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The delay before retry number `retry` (1 for the first retry), with jitter drawn from `generator`.
    public func delay(beforeRetry retry: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        var seconds = initialDelay.seconds
        for _ in 1..<max(1, min(retry, 64)) { seconds = min(seconds * multiplier, maxDelay.seconds) }
        seconds = min(seconds, maxDelay.seconds)
        let fraction = min(max(jitter, 0), 1)
        let random = fraction == 0 ? 0 : Double.random(in: 0...fraction, using: &generator)
        return .seconds(max(0, seconds * (1 - random)))
    }

    /// The delay before retry number `retry`, with system randomness.
    public func delay(beforeRetry retry: Int) -> Duration {
        var generator = SystemRandomNumberGenerator()
        return delay(beforeRetry: retry, using: &generator)
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
