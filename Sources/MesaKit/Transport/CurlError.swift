import CCurl

/// A failed libcurl call: the C function, its numeric code and libcurl's text for it.
///
/// This is the one helper through which every `CURLcode` and `CURLMcode` of MesaKit is checked, on the line right
/// after the call (STYLE.md section 4). It never leaves MesaKit: ``KitError/init(_:)`` turns it into
/// ``KitError/transport(function:code:message:)`` at the module edge.
struct CurlError: Error, Sendable, Equatable {
    /// The C function that failed, e.g. `curl_easy_setopt(CURLOPT_URL)` or `curl_multi_poll`.
    var function: String
    /// The `CURLcode` or `CURLMcode` value.
    var code: Int
    /// libcurl's description of the code, or the transfer's error buffer when it said more.
    var message: String

    /// Checks an easy-interface result.
    /// - Throws: a ``CurlError`` naming `operation` unless `code` is `CURLE_OK`.
    static func check(_ code: CURLcode, operation: @autoclosure () -> String) throws(CurlError) {
        guard code != CURLE_OK else { return }
        throw CurlError(
            function: operation(),
            code: Int(code.rawValue),
            message: String(cString: curl_easy_strerror(code))
        )
    }

    /// Checks a multi-interface result.
    /// - Throws: a ``CurlError`` naming `operation` unless `code` is `CURLM_OK`.
    static func check(_ code: CURLMcode, operation: @autoclosure () -> String) throws(CurlError) {
        guard code != CURLM_OK else { return }
        throw CurlError(
            function: operation(),
            code: Int(code.rawValue),
            message: String(cString: curl_multi_strerror(code))
        )
    }
}
