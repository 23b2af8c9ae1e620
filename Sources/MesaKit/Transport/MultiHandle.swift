import CCurl

/// The one Swift owner of a `CURLM *`: created by the event loop, cleaned up when the loop is gone.
///
/// SAFETY: `@unchecked Sendable` because the handle is shared between the event-loop thread, which alone calls
/// `curl_multi_perform`, `curl_multi_poll`, `curl_multi_add_handle` and the rest, and any thread that calls
/// ``wakeup()``, which libcurl documents as callable from any thread (`curl_multi_wakeup(3)`). `deinit` runs
/// only after the loop thread has exited (the thread holds the loop, the loop holds this).
final class MultiHandle: @unchecked Sendable {
    /// The C handle; used only on the event-loop thread (see the type's SAFETY note).
    let raw: UnsafeMutableRawPointer

    /// Creates a multi handle with the connection limits of `configuration`.
    init(configuration: TransportConfiguration) throws(CurlError) {
        guard let raw = curl_multi_init() else {
            throw CurlError(
                function: "curl_multi_init",
                code: Int(CURLM_OUT_OF_MEMORY.rawValue),
                message: "returned NULL"
            )
        }
        self.raw = raw
        let hostCode = CCurl_multi_setopt_long(raw, CURLMOPT_MAX_HOST_CONNECTIONS, configuration.maxConnectionsPerHost)
        try CurlError.check(hostCode, operation: "curl_multi_setopt(CURLMOPT_MAX_HOST_CONNECTIONS)")
        let cacheCode = CCurl_multi_setopt_long(raw, CURLMOPT_MAXCONNECTS, configuration.maxCachedConnections)
        try CurlError.check(cacheCode, operation: "curl_multi_setopt(CURLMOPT_MAXCONNECTS)")
    }

    /// Wakes the loop thread out of `curl_multi_poll`; callable from any thread.
    ///
    /// A wakeup that fails (`CURLM_WAKEUP_FAILURE`: libcurl's wakeup socket refused the byte, which a 64-client
    /// load test on this machine provoked once) is not an error: the command is already in the inbox and the loop
    /// polls for at most one second, so it only waits that long.
    func wakeup() {
        _ = curl_multi_wakeup(raw)
    }

    deinit {
        curl_multi_cleanup(raw)
    }
}
