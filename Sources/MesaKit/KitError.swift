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
        }
    }

    /// The server's error code for ``api(status:code:message:details:)``, `nil` otherwise.
    public var apiCode: String? {
        guard case .api(_, let code, _, _) = self else { return nil }
        return code
    }

    /// The HTTP status for ``api(status:code:message:details:)`` and ``unexpectedResponse(status:body:)``.
    public var status: Int? {
        switch self {
        case .api(let status, _, _, _), .unexpectedResponse(let status, _): status
        case .transport, .decoding, .invalidArgument, .tokenCannotMintTokens, .credentialUnavailable, .cancelled: nil
        }
    }
}
