public import MesaWire

/// Everything that can go wrong in MesaKit.
///
/// ``api(status:code:message:details:)`` carries Mesa's error body as the server sent it (`NOT_FOUND`,
/// `MERGE_CONFLICT` with `details.conflict_paths`, ...); ``transport(function:code:message:)`` names the libcurl
/// function and code that failed.
///
/// MesaKit's methods throw it as a typed error. Handle it with one `catch` and a `switch error` inside: Swift 6.3.1
/// crashes compiling some pattern clauses such as `catch KitError.api(409, "MERGE_CONFLICT", let message, _)` over
/// typed throws.
public enum KitError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server answered with an error status and Mesa's error body.
    case api(status: Int, code: String, message: String, details: [String: JSONValue]?)
    /// The server answered with an unexpected status and no Mesa error body (a proxy's page, for example).
    case unexpectedResponse(status: Int, body: String)
    /// libcurl failed: `function` is the C function (`curl_multi_perform` for a transfer's own failure), `code` its
    /// `CURLcode` or `CURLMcode`, `message` libcurl's explanation (e.g. "Failed to connect to ... Connection refused").
    case transport(function: String, code: Int, message: String)
    /// A response body is not the JSON the API documents.
    case decoding(type: String, message: String)
    /// An argument the SDK refuses before sending anything.
    case invalidArgument(String)
    /// ``Tokens/create(scopes:repos:ttlSeconds:)`` was called with a token as the credential: tokens cannot mint
    /// tokens; give the client an API key.
    case tokenCannotMintTokens
    /// The credential provider failed to produce a credential.
    case credentialUnavailable(String)
    /// The task was cancelled, or the stream dropped; the transfer was stopped.
    case cancelled
    /// The server's sync protocol versions (`serverMinimum...serverMaximum`) exclude this client's `client`
    /// version; nothing was transferred.
    case incompatibleProtocol(client: Int, serverMinimum: Int, serverMaximum: Int)
    /// A sync frame stream is not valid: malformed, oversized, corrupt in transit, or cut before its end frame
    /// (``SyncStreamError/truncated``). A stream is never taken as a shorter answer.
    case syncStream(SyncStreamError)
    /// The server failed after a sync stream began and said so in an error frame (Mesa's error code and message).
    case streamError(code: String, message: String)
    /// The records given to a push could not be read; the push was aborted and nothing it carried was applied.
    case pushSourceFailed(String)

    /// A sentence naming what failed and, where it helps, what to do.
    public var description: String {
        switch self {
        case .api(let status, let code, let message, _):
            "Mesa API error \(status) \(code): \(message)"
        case .unexpectedResponse(let status, let body):
            "unexpected HTTP \(status) without a Mesa error body: \(body.prefix(200))"
        case .transport(let function, let code, let message):
            "transport error: \(function) failed with code \(code): \(message)"
        case .decoding(let type, let message):
            "could not decode \(type) from the response: \(message)"
        case .invalidArgument(let message):
            "invalid argument: \(message)"
        case .tokenCannotMintTokens:
            "the credential is an access token, and tokens cannot mint tokens: create the client with an API key"
        case .credentialUnavailable(let message):
            "no credential: \(message)"
        case .cancelled:
            "the request was cancelled"
        case .incompatibleProtocol(let client, let minimum, let maximum):
            "the server speaks sync protocol versions \(minimum)...\(maximum) and this client speaks \(client): "
                + "upgrade the \(client < minimum ? "client" : "server")"
        case .syncStream(let error):
            "invalid sync stream: \(error)"
        case .streamError(let code, let message):
            "the server failed while streaming (\(code)): \(message)"
        case .pushSourceFailed(let message):
            "the records to push could not be read: \(message)"
        }
    }

    /// The server's error code for ``api(status:code:message:details:)`` and ``streamError(code:message:)``, `nil`
    /// otherwise.
    public var apiCode: String? {
        switch self {
        case .api(_, let code, _, _), .streamError(let code, _): code
        default: nil
        }
    }

    /// The HTTP status for ``api(status:code:message:details:)`` and ``unexpectedResponse(status:body:)``.
    public var status: Int? {
        switch self {
        case .api(let status, _, _, _), .unexpectedResponse(let status, _): status
        case .transport, .decoding, .invalidArgument, .tokenCannotMintTokens, .credentialUnavailable, .cancelled,
            .incompatibleProtocol, .syncStream, .streamError, .pushSourceFailed:
            nil
        }
    }
}
