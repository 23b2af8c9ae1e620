/// Limits and timeouts of the libcurl transport.
package struct TransportConfiguration: Sendable {
    /// Time allowed to establish a connection (`CURLOPT_CONNECTTIMEOUT_MS`).
    package var connectTimeout: Duration = .seconds(10)
    /// A transfer slower than this many bytes per second for ``lowSpeedTime`` fails (`CURLOPT_LOW_SPEED_LIMIT`).
    /// A transfer paused for back-pressure is not measured.
    package var lowSpeedLimit: Int = 1
    /// See ``lowSpeedLimit`` (`CURLOPT_LOW_SPEED_TIME`, whole seconds).
    package var lowSpeedTime: Duration = .seconds(30)
    /// Parallel connections to one host (`CURLMOPT_MAX_HOST_CONNECTIONS`); further transfers queue.
    package var maxConnectionsPerHost: Int = 16
    /// Idle connections kept for reuse (`CURLMOPT_MAXCONNECTS`).
    package var maxCachedConnections: Int = 64
    /// The bound of each transfer's body buffer before the transfer pauses.
    package var maxBufferedBytesPerTransfer: Int = 1 << 20
    /// The `User-Agent` header.
    package var userAgent: String = "mesa-kit"

    /// The defaults above.
    package static let `default` = TransportConfiguration()

    /// Creates the default configuration.
    package init() {}
}
