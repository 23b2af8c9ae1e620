import Foundation
package import HTTPTypes
package import Hummingbird
package import MesaWire

/// An error answered with Mesa's JSON error body: `{"error": {"code", "message", "details"?}}`.
///
/// Every refusal the server makes goes through this type, including router 404s, authentication failures and
/// body-decoding errors (``ErrorMiddleware`` converts the rest), so strict clients always find the body they parse.
package struct APIError: HTTPResponseError, Sendable {
    package var status: HTTPResponse.Status
    package var code: String
    package var message: String
    package var details: [String: JSONValue]?

    /// Creates an error.
    package init(_ status: HTTPResponse.Status, _ code: String, _ message: String, details: [String: JSONValue]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    /// 400 `BAD_REQUEST`.
    package static func badRequest(_ message: String) -> APIError { APIError(.badRequest, "BAD_REQUEST", message) }
    /// 401 with a specific code.
    package static func unauthorized(_ code: String, _ message: String) -> APIError {
        APIError(.unauthorized, code, message)
    }
    /// 403 `FORBIDDEN`.
    package static func forbidden(_ message: String) -> APIError { APIError(.forbidden, "FORBIDDEN", message) }
    /// 404 `NOT_FOUND`.
    package static func notFound(_ message: String) -> APIError { APIError(.notFound, "NOT_FOUND", message) }
    /// 409 `CONFLICT` or another conflict code.
    package static func conflict(_ message: String, code: String = "CONFLICT", details: [String: JSONValue]? = nil)
        -> APIError
    {
        APIError(.conflict, code, message, details: details)
    }
    /// 500 `INTERNAL`.
    package static func internalError(_ message: String) -> APIError { APIError(.internalServerError, "INTERNAL", message) }

    package func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = ErrorBody(code: code, message: message, details: details)
        return try JSONResponse.make(body, status: status)
    }
}

/// Builds JSON responses with the server's encoder settings.
package enum JSONResponse {
    /// Encodes `value` as the body of a response with `status`.
    package static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
