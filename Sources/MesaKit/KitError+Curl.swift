extension KitError {
    /// The module edge for libcurl failures: a ``CurlError`` becomes ``KitError/transport(function:code:message:)``.
    init(_ error: CurlError) {
        self = .transport(function: error.function, code: error.code, message: error.message)
    }
}
