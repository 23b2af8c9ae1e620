package import Logging
package import MesaStore
package import NIOPosix

/// What every route needs: the metadata store, the content store, authentication, and the blocking pool on which
/// every SQLite, libgit2 and disk call runs (never on Swift's cooperative pool; STYLE.md section 5.7).
package final class ServerServices: Sendable {
    /// Orgs, keys, repos, changes, bookmarks, references.
    package let metadata: any MetadataStore
    /// Chunks, manifests and git objects of every org.
    package let store: ContentStore
    /// Credential checks.
    package let authenticator: Authenticator
    /// Threads for blocking work.
    package let pool: NIOThreadPool
    /// The server's logger.
    package let logger: Logger
    /// Per-repo git object graphs with their change and bookmark tables.
    package let repositories: RepositoryRegistry
    /// Reclaims records no repo references.
    package let collector: GarbageCollector
    /// The largest request body a route reads (a sync push streams and has its own bound).
    package let maxBodyBytes: Int
    /// Seals and opens upstream credentials.
    package let secrets: UpstreamSecrets
    /// The directory of the repos' upstream mirrors (scratch bare git repositories).
    package let upstreamMirrors: String
    /// Whether `file://` upstreams are accepted (``UpstreamConfiguration/allowFileURLs``).
    package let allowFileUpstreams: Bool

    /// Creates the services; the pool must be started.
    /// - Parameters:
    ///   - stagedGrace: seconds a pushed record stays staged (kept) before garbage collection may take it.
    ///   - secrets: the sealer of upstream credentials.
    ///   - upstreamMirrors: where the upstream mirrors are kept.
    package init(
        metadata: any MetadataStore, store: ContentStore, pool: NIOThreadPool, logger: Logger,
        secrets: UpstreamSecrets, upstreamMirrors: String, allowFileUpstreams: Bool = false,
        stagedGrace: Double = ServerConfiguration.default.stagedGrace,
        maxBodyBytes: Int = ServerConfiguration.default.maxBodyBytes
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.secrets = secrets
        self.upstreamMirrors = upstreamMirrors
        self.allowFileUpstreams = allowFileUpstreams
        self.metadata = metadata
        self.store = store
        repositories = RepositoryRegistry(store: store, metadata: metadata)
        collector = GarbageCollector(metadata: metadata, store: store, grace: stagedGrace)
        authenticator = Authenticator(metadata: metadata)
        self.pool = pool
        self.logger = logger
    }

    /// Closes the content store and stops the pool, blocking the calling thread (tests and tools; the server uses
    /// ``MesaServerApplication/close(_:)``).
    package func closeSynchronously() throws {
        try store.close()
        try pool.syncShutdownGracefully()
    }

    /// Runs blocking work on the pool and returns its result.
    package func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }
}
