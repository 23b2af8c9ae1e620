/// An HTTP method MesaKit sends.
package enum HTTPMethod: String, Sendable {
    case get = "GET"
    case head = "HEAD"
    case post = "POST"
    case put = "PUT"
    case patch = "PATCH"
    case delete = "DELETE"

    /// Whether repeating the request has the effect of sending it once (RFC 9110 section 9.2.2), so a retry after
    /// a lost response is safe.
    package var isIdempotent: Bool {
        switch self {
        case .get, .head, .put, .delete: true
        case .post, .patch: false
        }
    }
}

/// One header field.
package struct HTTPField: Sendable, Equatable {
    /// The field name as sent or received.
    package var name: String
    /// The field value, without surrounding whitespace.
    package var value: String

    /// Creates a field.
    package init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A request for ``CurlTransport``: everything is in memory, so a retry can send it again, except a streamed
/// ``upload`` body, which a retry may reuse only while libcurl has taken none of its bytes.
package struct HTTPRequest: Sendable {
    /// The method.
    package var method: HTTPMethod
    /// The absolute URL, already percent-encoded.
    package var url: String
    /// Header fields beyond the ones the transport adds (`User-Agent`, and `Expect:` cleared).
    package var headers: [HTTPField]
    /// The body, or `nil` for none.
    package var body: [UInt8]?
    /// A body produced while it is sent (chunked transfer encoding); when set, ``body`` is ignored.
    package var upload: UploadBody?
    /// A limit on the whole transfer, or `nil` to rely on the connect timeout and the low-speed limit only.
    package var timeout: Duration?

    /// Creates a request.
    package init(
        method: HTTPMethod,
        url: String,
        headers: [HTTPField] = [],
        body: [UInt8]? = nil,
        upload: UploadBody? = nil,
        timeout: Duration? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.upload = upload
        self.timeout = timeout
    }
}

/// The status line and header fields of a response (the final one: `1xx` interim responses are skipped).
package struct HTTPResponseHead: Sendable, Equatable {
    /// The status code.
    package var status: Int
    /// The header fields in arrival order.
    package var headers: [HTTPField]

    /// Creates a head.
    package init(status: Int, headers: [HTTPField]) {
        self.status = status
        self.headers = headers
    }

    /// The value of the first field named `name` (compared case-insensitively).
    package func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }
}

/// A response whose head has arrived and whose body streams from the event loop.
package struct HTTPResponse: Sendable {
    /// Status and header fields.
    package var head: HTTPResponseHead
    /// The body, delivered as libcurl receives it, with back-pressure.
    package var body: ByteStream

    /// The status code.
    package var status: Int { head.status }
}
