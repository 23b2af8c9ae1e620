import Foundation
package import Hummingbird

/// The request context of every route: Hummingbird's core storage plus the authenticated caller.
package struct MesaRequestContext: RequestContext {
    package var coreContext: CoreRequestContextStorage
    /// Set by ``AuthMiddleware`` for every `/v1` route.
    package var principal: Principal?

    package init(source: Source) {
        coreContext = .init(source: source)
        principal = nil
        maxUploadSize = ServerConfiguration.default.maxBodyBytes
    }

    /// Bodies larger than this are refused with 413 (push bodies are streamed and bounded separately); set from the
    /// server's configuration by ``AuthMiddleware``.
    package var maxUploadSize: Int

    /// The caller; routes behind ``AuthMiddleware`` always have one.
    package func caller() throws(APIError) -> Principal {
        guard let principal else { throw .unauthorized("UNAUTHORIZED", "authentication is required") }
        return principal
    }

    /// A path parameter, percent-decoded (a bookmark `feat/x` arrives as `feat%2Fx`).
    /// - Throws: 400 when missing, not valid percent-encoding, or holding a NUL byte: SQLite would take `app%00x` for
    ///   `app`, so such a name must never reach a lookup.
    package func segment(_ name: String) throws(APIError) -> String {
        guard let raw = parameters.get(name), let decoded = raw.removingPercentEncoding, !decoded.utf8.contains(0) else {
            throw .badRequest("the path parameter '\(name)' is missing, not valid percent-encoding, or holds a NUL byte")
        }
        return decoded
    }
}
