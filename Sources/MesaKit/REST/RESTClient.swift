import Foundation
import Logging
import MesaWire
import Synchronization

/// What every resource of a ``Mesa`` client shares: the API root, the credential provider, the transport, the
/// retry policy, and the org and key id learned from `whoami`.
///
/// ``send(_:_:query:body:upload:contentType:accept:headers:accepting:credential:)`` is the one path every request
/// takes (credential, retries, error bodies), the sync protocol's frame streams included.
final class RESTClient: Sendable {
    /// The base URL with `/v1`, without a trailing slash.
    let apiRoot: String
    let credentials: any CredentialProvider
    let configuration: Mesa.Configuration
    let transport: CurlTransport
    private let explicitOrg: String?
    private let learned = Mutex(Learned())
    private let logger = Logger(label: "mesa.kit")

    private struct Learned {
        var org: String?
        /// The key id `whoami` named for a credential (an API key that does not embed its id).
        var keyIDs: [String: String] = [:]
    }

    init(baseURL: String, credentials: any CredentialProvider, org: String?, configuration: Mesa.Configuration) {
        var root = baseURL
        while root.hasSuffix("/") { root.removeLast() }
        apiRoot = root.hasSuffix("/v1") ? root : root + "/v1"
        self.credentials = credentials
        explicitOrg = org
        self.configuration = configuration
        transport = CurlTransport(configuration: configuration.transport)
    }

    // MARK: Identity

    /// The credential to send now.
    func currentCredential() async throws(KitError) -> String {
        let credential: String
        do {
            credential = try await credentials.credential()
        } catch {
            throw .credentialUnavailable("\(error)")
        }
        guard !credential.isEmpty else {
            throw .credentialUnavailable("the credential provider returned an empty string")
        }
        return credential
    }

    /// `GET /whoami`; also remembers the org for later requests.
    func whoami() async throws(KitError) -> WhoAmI {
        let credential = try await currentCredential()
        let who: WhoAmI = try await json(.get, ["whoami"], credential: credential)
        learned.withLock { learned in
            if learned.org == nil { learned.org = who.org.slug }
            if let keyID = who.keyID, !keyID.isEmpty { learned.keyIDs[credential] = keyID }
        }
        return who
    }

    /// The org slug: the one given to the client, else the credential's org from `whoami` (asked once).
    func org() async throws(KitError) -> String {
        if let explicitOrg { return explicitOrg }
        if let known = learned.withLock({ $0.org }) { return known }
        return try await whoami().org.slug
    }

    /// The key id of `credential` (an API key) as `whoami` reports it, asked once per credential.
    func keyID(of credential: String) async throws(KitError) -> String {
        if let known = learned.withLock({ $0.keyIDs[credential] }) { return known }
        let who: WhoAmI = try await json(.get, ["whoami"], credential: credential)
        guard let keyID = who.keyID, !keyID.isEmpty else {
            throw .decoding(type: "WhoAmI", message: "whoami named no key id for this API key")
        }
        learned.withLock { $0.keyIDs[credential] = keyID }
        return keyID
    }

    // MARK: Requests

    /// Sends a request with the current credential, retrying as ``Mesa/Configuration/retry`` allows, and returns a
    /// successful (`2xx`) response with its body still streaming.
    /// - Parameters:
    ///   - segments: path segments after `/v1`, each percent-encoded here.
    ///   - query: query items; `nil` values are left out.
    ///   - body: the request body.
    ///   - upload: a body produced while it is sent (the sync push); once libcurl has taken a byte of it the
    ///     request is never retried, since those bytes cannot be produced again.
    ///   - contentType: the body's media type (JSON for REST; the sync protocol's frames use their own).
    ///   - accept: the `Accept` header, if any.
    ///   - headers: more header fields (`If-None-Match`).
    ///   - accepting: statuses outside `2xx` returned as answers rather than thrown (`304`, a push's `409`).
    ///   - credential: a credential to use instead of asking the provider.
    /// - Throws: ``KitError/api(status:code:message:details:)`` for an error answer, and the transport's errors.
    func send(
        _ method: HTTPMethod,
        _ segments: [String],
        query: [(name: String, value: String?)] = [],
        body: [UInt8]? = nil,
        upload: UploadBody? = nil,
        contentType: String = "application/json",
        accept: String? = nil,
        headers extraHeaders: [HTTPField] = [],
        accepting: Set<Int> = [],
        credential fixedCredential: String? = nil
    ) async throws(KitError) -> HTTPResponse {
        let url = apiRoot + PercentEncoding.path(segments) + PercentEncoding.query(query)
        let policy = configuration.retry
        var attempt = 1
        while true {
            let credential: String
            if let fixedCredential { credential = fixedCredential } else { credential = try await currentCredential() }
            var headers = [HTTPField("Authorization", "Bearer \(credential)")]
            if let accept { headers.append(HTTPField("Accept", accept)) }
            if body != nil || upload != nil { headers.append(HTTPField("Content-Type", contentType)) }
            headers += extraHeaders
            let request = HTTPRequest(
                method: method,
                url: url,
                headers: headers,
                body: body,
                upload: upload,
                timeout: configuration.requestTimeout
            )
            let response: HTTPResponse
            do {
                response = try await transport.send(request)
            } catch {
                guard attempt < policy.maxAttempts, policy.allowsRetry(after: error, method: method),
                    (upload?.bytesTaken ?? 0) == 0
                else {
                    throw error
                }
                logger.debug(
                    "retrying after a transport error",
                    metadata: [
                        "http.method": "\(method.rawValue)", "retry.attempt": "\(attempt)", "kit.error": "\(error)",
                    ]
                )
                try await pause(policy.delay(beforeRetry: attempt))
                attempt += 1
                continue
            }
            if (200..<300).contains(response.status) || accepting.contains(response.status) { return response }
            if attempt < policy.maxAttempts, policy.allowsRetry(status: response.status, method: method),
                (upload?.bytesTaken ?? 0) == 0
            {
                logger.debug(
                    "retrying after a server error",
                    metadata: [
                        "http.method": "\(method.rawValue)", "http.status": "\(response.status)",
                        "retry.attempt": "\(attempt)",
                    ]
                )
                // Reading a small error body to its end keeps the connection reusable; a large one is cut off.
                _ = try? await response.body.collect(upTo: 64 << 10)
                try await pause(policy.delay(beforeRetry: attempt))
                attempt += 1
                continue
            }
            throw await Self.error(from: response)
        }
    }

    /// Sends a request and decodes its JSON answer.
    func json<Response: Decodable>(
        _ method: HTTPMethod,
        _ segments: [String],
        query: [(name: String, value: String?)] = [],
        credential: String? = nil
    ) async throws(KitError) -> Response {
        let response = try await send(method, segments, query: query, credential: credential)
        return try await Self.decode(Response.self, from: response)
    }

    /// Sends a request with a JSON body and decodes its JSON answer.
    func json<Response: Decodable>(
        _ method: HTTPMethod,
        _ segments: [String],
        query: [(name: String, value: String?)] = [],
        body: some Encodable
    ) async throws(KitError) -> Response {
        let bytes = try Self.encodeJSON(body)
        let response = try await send(method, segments, query: query, body: bytes)
        return try await Self.decode(Response.self, from: response)
    }

    /// A request body as JSON (slashes unescaped).
    static func encodeJSON(_ body: some Encodable) throws(KitError) -> [UInt8] {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .withoutEscapingSlashes
            return Array(try encoder.encode(body))
        } catch {
            throw .invalidArgument("the request body could not be encoded as JSON: \(error)")
        }
    }

    /// Decodes JSON bytes of an answer (or of a sync stream's JSON frame).
    static func decodeJSON<Value: Decodable>(_ type: Value.Type, from bytes: [UInt8]) throws(KitError) -> Value {
        do {
            return try JSONDecoder().decode(Value.self, from: Data(bytes))
        } catch {
            throw .decoding(type: String(describing: Value.self), message: "\(error)")
        }
    }

    private func pause(_ delay: Duration) async throws(KitError) {
        do {
            try await Task.sleep(for: delay)
        } catch {
            throw .cancelled
        }
    }

    /// The largest JSON answer read into memory (a list page of 100 changes is far below it).
    static let maxJSONBytes = 64 << 20

    static func decode<Response: Decodable>(
        _ type: Response.Type,
        from response: HTTPResponse
    ) async throws(KitError) -> Response {
        let bytes = try await response.body.collect(upTo: maxJSONBytes)
        return try decodeJSON(Response.self, from: bytes)
    }

    /// The error an unsuccessful response stands for: Mesa's error body when it has one.
    static func error(from response: HTTPResponse) async -> KitError {
        let bytes: [UInt8]
        do {
            bytes = try await response.body.collect(upTo: 1 << 20)
        } catch {
            return error
        }
        if let body = try? JSONDecoder().decode(ErrorBody.self, from: Data(bytes)) {
            return .api(
                status: response.status,
                code: body.error.code,
                message: body.error.message,
                details: body.error.details
            )
        }
        return .unexpectedResponse(status: response.status, body: String(decoding: bytes, as: UTF8.self))
    }
}
