import Foundation
import MesaCore
public import MesaWire

/// A client of Mesa's HTTP API (`mesa serve`, or Mesa itself).
///
/// ```swift
/// let mesa = Mesa(apiKey: "mesa_...")            // org from whoami, server from MESA_SERVICE_DOMAIN
/// let repo = try await mesa.repos.create(name: "agent-scratch")
/// let token = try await mesa.tokens.create(scopes: [.read, .write], repos: ["\(repo.org)/\(repo.name)"])
/// ```
///
/// Every request reads the credential from the client's ``CredentialProvider``, so a long-running client can swap
/// tokens with ``MutableCredential``. Transfers run on one libcurl event-loop thread per client, reuse connections,
/// run in parallel, and are retried per ``Configuration/retry``. Copies of a `Mesa` share one client.
public struct Mesa: Sendable {
    let client: RESTClient

    /// Creates a client from an API key (`mesa_...`) or an access token.
    /// - Parameters:
    ///   - apiKey: an API key, or a token minted from one.
    ///   - org: the org slug; `nil` takes the credential's org from `whoami` on first need.
    ///   - baseURL: a full URL (`http://127.0.0.1:7411`) or a bare domain (`example.com` means
    ///     `https://api.example.com`); `nil` reads `MESA_SERVICE_DOMAIN` the same way, and falls back to
    ///     ``defaultBaseURL``. See ``baseURL(serviceDomain:)``.
    ///   - configuration: retries, timeouts and limits.
    public init(apiKey: String, org: String? = nil, baseURL: String? = nil, configuration: Configuration = .default) {
        self.init(credentials: StaticCredential(apiKey), org: org, baseURL: baseURL, configuration: configuration)
    }

    /// Creates a client whose credential can change while it runs (see ``MutableCredential``).
    /// - Parameters: as ``init(apiKey:org:baseURL:configuration:)``, with a provider instead of a constant.
    public init(
        credentials: any CredentialProvider,
        org: String? = nil,
        baseURL: String? = nil,
        configuration: Configuration = .default
    ) {
        let domain = baseURL ?? ProcessInfo.processInfo.environment["MESA_SERVICE_DOMAIN"]
        client = RESTClient(
            baseURL: Self.baseURL(serviceDomain: domain),
            credentials: credentials,
            org: org,
            configuration: configuration
        )
    }

    /// The local server's address, used when no service domain is set.
    public static let defaultBaseURL = "http://127.0.0.1:7411"

    /// Resolves a service domain the way `MESA_SERVICE_DOMAIN` is read (DESIGN.md section 5).
    ///
    /// A full URL (anything with `://`) is used as it is, without a trailing slash; a bare domain `example.com`
    /// becomes `https://api.example.com`; `nil` or blank gives ``defaultBaseURL``. Requests go to the result plus
    /// `/v1` (not added twice when the URL already ends in `/v1`).
    public static func baseURL(serviceDomain: String?) -> String {
        let domain = (serviceDomain ?? "").trimmingCharacters(in: .whitespaces)
        var url: String
        if domain.isEmpty {
            url = defaultBaseURL
        } else if domain.contains("://") {
            url = domain
        } else {
            url = "https://api." + domain
        }
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// The client's transport, for tests that inspect its debug counters.
    package var transport: CurlTransport { client.transport }

    /// The API root requests go to: the base URL plus `/v1`.
    public var apiRoot: String { client.apiRoot }

    /// Who the credential is: org, key id and scopes (`GET /whoami`).
    public func whoami() async throws(KitError) -> WhoAmI {
        try await client.whoami()
    }

    /// The org's creation time and repo count (`GET /{org}`).
    public func org() async throws(KitError) -> OrgInfo {
        try await client.json(.get, [try await client.org()])
    }

    /// The org slug requests use: the one given at creation, else the credential's org (one `whoami`, cached).
    public func orgSlug() async throws(KitError) -> String {
        try await client.org()
    }

    /// The org's repositories.
    public var repos: Repos { Repos(client: client) }

    /// The bookmarks of `repo`.
    public func bookmarks(_ repo: String) -> Bookmarks { Bookmarks(client: client, repo: repo) }

    /// The changes of `repo`.
    public func changes(_ repo: String) -> Changes { Changes(client: client, repo: repo) }

    /// The files and directories of `repo` at a change.
    public func content(_ repo: String) -> Content { Content(client: client, repo: repo) }

    /// Diffs between changes of `repo`.
    public func diff(_ repo: String) -> Diffs { Diffs(client: client, repo: repo) }

    /// The org's API keys (admin scope).
    public var apiKeys: APIKeys { APIKeys(client: client) }

    /// The org's webhook targets (admin scope).
    public var webhookTargets: WebhookTargets { WebhookTargets(client: client) }

    /// Access tokens signed locally from the client's API key.
    public var tokens: Tokens { Tokens(client: client) }

    // The sync-protocol client, `sync(_ repo:) -> Sync`, is in Sync/Sync.swift.
}

extension Mesa {
    /// Retries, timeouts and limits of a ``Mesa`` client.
    public struct Configuration: Sendable {
        /// When failed requests are repeated.
        public var retry: RetryPolicy
        /// Time allowed to connect to the server.
        public var connectTimeout: Duration
        /// A transfer that receives and sends nothing for this long fails (a stalled server or network); a stream
        /// paused because its reader lags is not stalled.
        public var stallTimeout: Duration
        /// A limit on each whole request, `nil` for none (large downloads can take long).
        public var requestTimeout: Duration?
        /// Parallel connections to the server; further requests queue.
        public var maxConnectionsPerHost: Int
        /// The bound of each response's buffer before the transfer pauses for a slow reader.
        public var maxBufferedBytesPerTransfer: Int

        /// Creates a configuration.
        public init(
            retry: RetryPolicy = .default,
            connectTimeout: Duration = .seconds(10),
            stallTimeout: Duration = .seconds(30),
            requestTimeout: Duration? = nil,
            maxConnectionsPerHost: Int = 16,
            maxBufferedBytesPerTransfer: Int = 1 << 20
        ) {
            self.retry = retry
            self.connectTimeout = connectTimeout
            self.stallTimeout = stallTimeout
            self.requestTimeout = requestTimeout
            self.maxConnectionsPerHost = maxConnectionsPerHost
            self.maxBufferedBytesPerTransfer = maxBufferedBytesPerTransfer
        }

        /// The defaults: ``RetryPolicy/default``, 10 s to connect, 30 s of stall, 16 connections, 1 MiB per stream.
        public static let `default` = Configuration()

        /// The transport settings these stand for.
        var transport: TransportConfiguration {
            var transport = TransportConfiguration()
            transport.connectTimeout = connectTimeout
            transport.lowSpeedLimit = 1
            transport.lowSpeedTime = stallTimeout
            transport.maxConnectionsPerHost = max(1, maxConnectionsPerHost)
            transport.maxBufferedBytesPerTransfer = max(64 << 10, maxBufferedBytesPerTransfer)
            transport.userAgent = "mesa-kit/\(MesaVersion.current)"
            return transport
        }
    }
}
