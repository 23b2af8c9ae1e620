import Foundation
import Hummingbird
import Logging
import MesaTree
import MesaWire
import NIOCore

/// Turns every error that escapes a route into Mesa's JSON error body with a deliberate status.
///
/// Hummingbird's own errors (no route: 404, body too large: 413, bad method) keep their status but get the JSON
/// body; decoding failures become 400; metadata errors map to 404, 409 or 500; anything unexpected is a 500 logged at
/// `error` with its cause.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let apiError = Self.map(error, logger: context.logger)
            return try apiError.response(from: request, context: context)
        }
    }

    static func map(_ error: any Error, logger: Logger) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as HTTPError:
            let code: String
            switch error.status {
            case .notFound: code = "NOT_FOUND"
            case .contentTooLarge: code = "PAYLOAD_TOO_LARGE"
            case .methodNotAllowed: code = "METHOD_NOT_ALLOWED"
            case .unauthorized: code = "UNAUTHORIZED"
            default: code = error.status.code < 500 ? "BAD_REQUEST" : "INTERNAL"
            }
            let message = error.body ?? (error.status == .notFound ? "no such route" : error.status.reasonPhrase)
            return APIError(error.status, code, message)
        case let error as TreeError:
            let mapped = APIError(error)
            if mapped.status == .internalServerError {
                logger.error("tree model failed", metadata: ["error": "\(error)"])
            }
            return mapped
        case is NIOTooManyBytesError:
            return APIError(.contentTooLarge, "PAYLOAD_TOO_LARGE", "the request body is larger than the server accepts")
        case let error as DecodingError:
            return .badRequest("the request body is not valid: \(Self.describe(error))")
        case let error as MetadataError:
            switch error {
            case .conflict(let message): return .conflict(message)
            case .notFound(let message): return .notFound(message)
            case .database(let message):
                logger.error("metadata store failed", metadata: ["error": "\(message)"])
                return .internalError("the metadata store failed")
            }
        default:
            logger.error("unexpected error", metadata: ["error": "\(error)"])
            return .internalError("internal error: \(error)")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, _): "missing field '\(key.stringValue)'"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            "wrong type at '\(context.codingPath.map(\.stringValue).joined(separator: "."))'"
        case .dataCorrupted(let context): context.debugDescription
        @unknown default: "\(error)"
        }
    }
}
