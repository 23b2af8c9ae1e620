import CCurl

/// `curl_global_init`, run once per process through a `static let` token (STYLE.md section 5.12), never a C
/// constructor. libcurl documents the call as not thread-safe; Swift runs a `static let` initializer exactly once,
/// under its own lock, so concurrent first clients cannot race it.
enum CurlRuntime {
    /// The result of the one `curl_global_init` call.
    private static let token: Result<Void, CurlError> = Result(catching: { () throws(CurlError) in
        let code = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        try CurlError.check(code, operation: "curl_global_init")
    })

    /// Initializes libcurl on first use.
    /// - Throws: the failure of `curl_global_init`, again on every call if it failed.
    static func initialize() throws(CurlError) {
        try token.get()
    }
}
