import Foundation
package import Hummingbird
import HummingbirdCore
package import Logging
import MesaCore
import MesaStore
import MesaWire
import NIOCore
import NIOPosix

/// Builds and runs `mesa serve`: the data directory, first-start bootstrap, the router and the HTTP server.
package enum MesaServerApplication {
    /// What opening a data directory produced.
    package struct Opened: Sendable {
        /// The services the routes use.
        package var services: ServerServices
        /// A newly created admin key, to be printed once; `nil` when none was created.
        package var newAdminKey: String?
        /// Where the new admin key was saved.
        package var adminKeyPath: String?
    }

    /// Opens the data directory: the metadata database (migrated), the content store and, on first start (or with
    /// `newAdminKey`), the org and an admin key written alone to `admin.key` with mode 0600.
    package static func open(_ configuration: ServerConfiguration, logger: Logger) throws -> Opened {
        guard ServerConfiguration.isValidOrgSlug(configuration.orgSlug) else {
            throw APIError.badRequest("org '\(configuration.orgSlug)' must match ^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
        }
        let directory = configuration.dataDirectory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let metadata = try SQLiteMetadataStore(path: directory + "/metadata.sqlite")
        let store = try ContentStore(path: directory + "/store")
        let pool = NIOThreadPool(numberOfThreads: configuration.blockingThreads)
        pool.start()
        let services = ServerServices(
            metadata: metadata, store: store, pool: pool, logger: logger,
            secrets: UpstreamSecrets(keyPath: configuration.secretKeyFile ?? directory + "/upstream.key"),
            upstreamMirrors: directory + "/upstream", allowFileUpstreams: configuration.upstream.allowFileURLs,
            stagedGrace: configuration.stagedGrace,
            maxBodyBytes: configuration.maxBodyBytes)
        try ReferenceRebuild.run(services: services)
        // Syncs a stopped server left in progress run again (UpstreamSyncRunner.swift).
        let requeued = try metadata.requeueInterruptedUpstreamSyncs()
        if requeued > 0 {
            logger.notice("queued interrupted upstream syncs again", metadata: ["syncs": "\(requeued)"])
        }

        var newKey: String?
        let org: OrgRow
        if let existing = try metadata.org(slug: configuration.orgSlug) {
            org = existing
        } else {
            org = try metadata.createOrg(slug: configuration.orgSlug, name: configuration.orgSlug)
            newKey = try createAdminKey(org: org, metadata: metadata)
        }
        if newKey == nil, configuration.newAdminKey { newKey = try createAdminKey(org: org, metadata: metadata) }
        var keyPath: String?
        if let newKey {
            let isDefault = configuration.orgSlug == "local" || !FileManager.default.fileExists(atPath: directory + "/admin.key")
            let path = directory + (isDefault ? "/admin.key" : "/admin-\(org.slug).key")
            try writeSecret(newKey + "\n", to: path)
            keyPath = path
        }
        return Opened(services: services, newAdminKey: newKey, adminKeyPath: keyPath)
    }

    private static func createAdminKey(org: OrgRow, metadata: any MetadataStore) throws -> String {
        try metadata.createAPIKey(
            orgID: org.id, name: "admin", scopes: [.admin, .write, .read], repoIDs: nil, expiresAt: nil, tags: [:]
        ).key
    }

    private static func writeSecret(_ text: String, to path: String) throws {
        let descriptor = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw APIError.internalError("cannot write \(path): errno \(errno)") }
        defer { Glibc.close(descriptor) }
        _ = fchmod(descriptor, 0o600)
        let written = text.utf8CString.withUnsafeBufferPointer { Glibc.write(descriptor, $0.baseAddress, text.utf8.count) }
        guard written == text.utf8.count else { throw APIError.internalError("cannot write \(path): errno \(errno)") }
    }

    /// The router with every route; tests drive it with `app.test(.router)`.
    /// - Parameter releases: the `mesa` binaries `/install.sh` installs (InstallRoutes.swift).
    package static func router(
        services: ServerServices, releases: ReleaseCatalog = ReleaseCatalog(directory: nil)
    ) -> Router<MesaRequestContext> {
        let router = Router(context: MesaRequestContext.self)
        router.add(middleware: ErrorMiddleware())
        router.get("healthz") { _, _ in try JSONResponse.make(["status": "ok"]) }
        InstallRoutes.register(on: router, releases: releases, services: services)
        let v1 = router.group("v1")
        v1.add(middleware: AuthMiddleware(services: services))
        OrgRoutes.register(on: v1, services: services)
        WebhookRoutes.register(on: v1, services: services)
        RepoRoutes.register(on: v1, services: services)
        UpstreamRoutes.register(on: v1, services: services)
        ChangeRoutes.register(on: v1, services: services)
        SyncRoutes.register(on: v1, services: services)
        return router
    }

    /// Builds the application listening where `configuration` says.
    /// - Parameter onListening: called with `http://HOST:PORT` (the real port) once the socket is bound.
    package static func application(
        _ configuration: ServerConfiguration, services: ServerServices,
        onListening: @escaping @Sendable (String) -> Void
    ) -> some ApplicationProtocol {
        let host = configuration.host
        let headTimeout = TimeAmount.nanoseconds(Int64(configuration.headerTimeout * 1e9))
        let decoder = HTTP1Channel.Configuration.DecoderConfiguration(
            maxHeaderFieldSize: configuration.maxHeaderBytes, maxHeaderListSize: configuration.maxHeaderBytes,
            maxHeaderFieldCount: 200)
        return Application(
            router: router(services: services, releases: ReleaseCatalog(directory: configuration.releaseDirectory)),
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [RequestHeadGuard(timeout: headTimeout)], idleTimeout: .seconds(120),
                    httpDecoderConfiguration: decoder)),
            configuration: .init(address: .hostname(host, port: configuration.port), serverName: "mesa"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? configuration.port
                onListening("http://\(host):\(port)")
            },
            logger: services.logger
        )
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully and closes the stores.
    /// - Parameter webhookSender: sends webhook deliveries; without one, events wait in the outbox.
    package static func run(
        _ configuration: ServerConfiguration, services: ServerServices, webhookSender: (any WebhookSender)? = nil,
        onListening: @escaping @Sendable (String) -> Void
    ) async throws {
        let dispatcher = webhookSender.map { sender in
            WebhookDispatcher(
                services: services, sender: sender, configuration: configuration.webhooks,
                baseURL: "http://\(configuration.host):\(configuration.port)")
        }
        let app = application(configuration, services: services) { url in
            dispatcher?.setBaseURL(url)
            onListening(url)
        }
        let upstream = UpstreamSyncRunner(services: services, configuration: configuration.upstream)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            if let dispatcher { group.addTask { await dispatcher.run() } }
            group.addTask { await upstream.run() }
            if configuration.collectionInterval > 0 {
                group.addTask { await collectGarbage(every: configuration.collectionInterval, services: services) }
            }
            // The server stops on SIGTERM or SIGINT; the collector, the webhook dispatcher and the upstream sync runner
            // stop with it.
            try await group.next()
            group.cancelAll()
        }
        try await close(services)
    }

    /// Runs garbage collection every `interval` seconds until cancelled; a failed run is logged and retried later.
    static func collectGarbage(every interval: Double, services: ServerServices) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: .seconds(interval))
            } catch {
                return
            }
            do {
                let report = try await services.blocking { try services.collector.collect() }
                services.logger.info(
                    "garbage collected",
                    metadata: [
                        "gc.removed": "\(report.removedRecords)", "gc.bytes": "\(report.removedBytes)",
                        "gc.expired": "\(report.expiredStaged)",
                    ])
            } catch {
                services.logger.error("garbage collection failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Closes what ``open(_:logger:)`` opened, after the server stopped.
    package static func close(_ services: ServerServices) async throws {
        try services.store.close()
        try await services.pool.shutdownGracefully()
    }
}

#if canImport(Glibc)
import Glibc
#endif
