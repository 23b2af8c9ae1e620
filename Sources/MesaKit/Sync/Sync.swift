public import MesaCore
public import MesaWire
import Synchronization

extension Mesa {
    /// The sync protocol of one repository (`/{org}/{repo}/sync/`, docs/Protocol.md): what a mount or an importer
    /// needs in few round trips, with content as stored.
    ///
    /// ```swift
    /// let sync = mesa.sync("app")
    /// let head = try await sync.resolve(["bookmark:main"])           // later polls: 304 -> changed == false
    /// for try await record in try await sync.trees(roots: [root]) { ... }
    /// let missing = try await sync.have(keys: planned)                 // batched by the server's limit
    /// let outcome = try await sync.push(records: recordsInPushOrder, transaction: transaction)
    /// ```
    ///
    /// The first call asks for the server's capabilities and refuses, before any transfer, a server whose protocol
    /// versions exclude ``SyncCapabilities/currentVersion``. Keep one value for a repository: it remembers the
    /// capabilities and the `ETag` of each resolve query. Fetched records arrive as a ``SyncRecordStream`` whose
    /// frames are checked in transit; their ids are verified where they are stored (MesaStore's
    /// `ContentStore.putVerified`), since that needs them decompressed.
    public struct Sync: Sendable {
        let client: RESTClient
        /// The repository's name.
        public let repo: String
        private let session = Session()

        init(client: RESTClient, repo: String) {
            self.client = client
            self.repo = repo
        }

        /// What one `Sync` value remembers between calls.
        private final class Session: Sendable {
            struct Tagged {
                var tag: String
                var resolutions: [RevisionResolution]
            }

            struct State {
                var capabilities: SyncCapabilities?
                var tags: [[String]: Tagged] = [:]
            }

            let state = Mutex(State())
        }

        /// The media type of frame streams.
        public static let contentType = "application/x-mesa-sync"

        // MARK: Capabilities

        /// The server's protocol versions, limits and features (`GET sync/capabilities`), remembered for later calls.
        /// - Throws: ``KitError/incompatibleProtocol(client:serverMinimum:serverMaximum:)`` when the server's range
        ///   `min_protocol_version...protocol_version` does not include this client's version.
        public func capabilities() async throws(KitError) -> SyncCapabilities {
            let org = try await client.org()
            let capabilities: SyncCapabilities = try await client.json(.get, [org, repo, "sync", "capabilities"])
            let ours = SyncCapabilities.currentVersion
            guard capabilities.minimumProtocolVersion <= ours, ours <= capabilities.protocolVersion else {
                throw .incompatibleProtocol(
                    client: ours, serverMinimum: capabilities.minimumProtocolVersion,
                    serverMaximum: capabilities.protocolVersion)
            }
            session.state.withLock { $0.capabilities = capabilities }
            return capabilities
        }

        /// The remembered capabilities, asked for on first need.
        func negotiated() async throws(KitError) -> SyncCapabilities {
            if let known = session.state.withLock({ $0.capabilities }) { return known }
            return try await capabilities()
        }

        // MARK: Resolve

        /// Resolves revisions (`bookmark:<name>`, `change-id:<id>`, or `""` for the default bookmark) to change,
        /// commit and root tree (`POST sync/resolve`).
        ///
        /// A repeated query sends the `ETag` of the previous answer as `If-None-Match`; when nothing moved the server
        /// answers 304 with no body, and the result repeats the remembered resolutions with `changed == false`: the
        /// mount's cheap poll.
        /// - Parameters:
        ///   - conditional: `false` to ask without the remembered tag.
        ///   - wait: with a remembered tag, how long the server may hold the request until something moves (a long
        ///     poll; servers with the `resolve-wait` feature). Keep it below the stall timeout.
        public func resolve(
            _ revisions: [String], conditional: Bool = true, wait: Duration? = nil
        ) async throws(KitError) -> ResolveResult {
            _ = try await negotiated()
            let org = try await client.org()
            let remembered = conditional ? session.state.withLock { $0.tags[revisions] } : nil
            let waitMilliseconds = remembered == nil ? nil : wait.map { Int($0 / .milliseconds(1)) }
            let response = try await client.send(
                .post, [org, repo, "sync", "resolve"],
                body: try RESTClient.encodeJSON(ResolveRequest(revisions: revisions, waitMilliseconds: waitMilliseconds)),
                headers: remembered.map { [HTTPField("If-None-Match", $0.tag)] } ?? [],
                accepting: remembered == nil ? [] : [304])
            if response.status == 304, let remembered {
                _ = try await response.body.collect(upTo: 64 << 10)
                return ResolveResult(resolutions: remembered.resolutions, changed: false)
            }
            let answer = try await RESTClient.decode(ResolveResponse.self, from: response)
            if let tag = response.head.header("ETag") {
                session.state.withLock { $0.tags[revisions] = .init(tag: tag, resolutions: answer.resolutions) }
            }
            return ResolveResult(resolutions: answer.resolutions, changed: true)
        }

        // MARK: Fetching

        /// Everything needed to read one path in one round trip (`POST sync/lookup`): the header (resolution,
        /// target type, id, mode, size), then every tree from the root to the target, the target's manifest, and
        /// its chunks when the file is at most `inlineMaxBytes`.
        public func lookup(revision: String = "", path: String, inlineMaxBytes: Int = 256 << 10) async throws(KitError)
            -> LookupResult
        {
            var reader = try await open(
                "lookup", try RESTClient.encodeJSON(LookupRequest(revision: revision, path: path, inlineMaxBytes: inlineMaxBytes)))
            guard case .json(let bytes)? = try await reader.nextFrame() else {
                throw .syncStream(.malformed("a lookup answer starts with its JSON header"))
            }
            let header = try RESTClient.decodeJSON(LookupHeader.self, from: bytes)
            return LookupResult(header: header, records: SyncRecordStream(first: reader))
        }

        /// Every tree under `roots` to `depth` levels below them (`nil`: all), skipping and not descending into
        /// `have` (`POST sync/trees`).
        public func trees(roots: [ObjectID], depth: Int? = nil, have: [ObjectID] = []) async throws(KitError)
            -> SyncRecordStream
        {
            let request = TreesRequest(roots: roots.map(\.hex), depth: depth, have: have.isEmpty ? nil : have.map(\.hex))
            return SyncRecordStream(first: try await open("trees", try RESTClient.encodeJSON(request)))
        }

        /// The records named by `keys`, then, with `subtree`, every manifest under that tree and the chunks of its
        /// files within the budget (`POST sync/objects`). More keys than the server's `max_keys_per_request` are
        /// asked for in several requests, one after the other, as the stream is read.
        public func objects(keys: [RecordKey], subtree: SubtreeContent? = nil) async throws(KitError)
            -> SyncRecordStream
        {
            let limit = max(1, try await negotiated().limits.maxKeysPerRequest)
            var batches = stride(from: 0, to: keys.count, by: limit).map { Array(keys[$0..<min(keys.count, $0 + limit)]) }
            if batches.isEmpty { batches = [[]] }
            let bodies = try batches.enumerated().map { (index, batch) throws(KitError) in
                try RESTClient.encodeJSON(
                    ObjectsRequest(keys: batch.map(\.description), subtree: index == 0 ? subtree : nil))
            }
            let first = try await open("objects", bodies[0])
            let sync = self
            return SyncRecordStream(first: first) { (index: Int) throws(KitError) -> FrameReader? in
                guard index < bodies.count else { return nil }
                return try await sync.open("objects", bodies[index])
            }
        }

        /// Which of `keys` the server lacks for this org (`POST sync/have`), in the order given; asked in batches of
        /// the server's `max_keys_per_request`.
        public func have(keys: [RecordKey]) async throws(KitError) -> [RecordKey] {
            let limit = max(1, try await negotiated().limits.maxKeysPerRequest)
            let org = try await client.org()
            var missing: [RecordKey] = []
            var start = 0
            while start < keys.count {
                let batch = keys[start..<min(keys.count, start + limit)]
                let answer: HaveResponse = try await client.json(
                    .post, [org, repo, "sync", "have"], body: HaveRequest(keys: batch.map(\.description)))
                for text in answer.missing {
                    guard let key = RecordKey(parsing: text) else {
                        throw .decoding(type: "HaveResponse", message: "'\(text)' is not a record key")
                    }
                    missing.append(key)
                }
                start += limit
            }
            return missing
        }

        /// Sends a fetch query and starts reading its frame stream.
        func open(_ call: String, _ body: [UInt8]) async throws(KitError) -> FrameReader {
            let limits = try await negotiated().limits
            let org = try await client.org()
            let response = try await client.send(
                .post, [org, repo, "sync", call], body: body, accept: Self.contentType)
            return FrameReader(body: response.body, limits: limits)
        }
    }

    /// The sync protocol of `repo`: resolve, lookup, trees, objects, have and a streaming push.
    public func sync(_ repo: String) -> Sync { Sync(client: client, repo: repo) }
}

/// The answer to ``Mesa/Sync/resolve(_:conditional:)``.
public struct ResolveResult: Sendable, Equatable {
    /// One resolution per revision, in order (the remembered ones when nothing changed).
    public var resolutions: [RevisionResolution]
    /// `false` when the server answered 304: nothing moved since the previous answer to the same query.
    public var changed: Bool

    /// Creates a result.
    public init(resolutions: [RevisionResolution], changed: Bool) {
        self.resolutions = resolutions
        self.changed = changed
    }
}

/// The answer to ``Mesa/Sync/lookup(revision:path:inlineMaxBytes:)``: the header, then the records as they arrive.
public struct LookupResult: Sendable {
    /// The resolution and the target's type, id, mode and size (`type` is `nil` when the path does not exist).
    public var header: LookupHeader
    /// The trees from the root to the target, its manifest, and its chunks when small.
    public var records: SyncRecordStream
}
