import CCurl

extension RetryPolicy {
    /// libcurl codes meaning no connection was made, so the server has not seen the request.
    private static let nothingSentCodes: Set<Int> = [
        Int(CURLE_COULDNT_RESOLVE_HOST.rawValue), Int(CURLE_COULDNT_CONNECT.rawValue),
    ]

    /// libcurl codes of a connection that failed or timed out after the request may have been sent.
    private static let connectionCodes: Set<Int> = [
        Int(CURLE_PARTIAL_FILE.rawValue), Int(CURLE_OPERATION_TIMEDOUT.rawValue),
        Int(CURLE_SSL_CONNECT_ERROR.rawValue), Int(CURLE_GOT_NOTHING.rawValue), Int(CURLE_SEND_ERROR.rawValue),
        Int(CURLE_RECV_ERROR.rawValue),
    ]

    /// Whether a failed attempt of `method` may be repeated (the attempt budget aside).
    func allowsRetry(after error: KitError, method: HTTPMethod) -> Bool {
        guard case .transport(_, let code, _) = error else { return false }
        if Self.nothingSentCodes.contains(code) { return true }
        return method.isIdempotent && Self.connectionCodes.contains(code)
    }

    /// Whether an answer with `status` to `method` may be repeated (the attempt budget aside).
    func allowsRetry(status: Int, method: HTTPMethod) -> Bool {
        method.isIdempotent && (500...599).contains(status) && status != 501
    }
}
