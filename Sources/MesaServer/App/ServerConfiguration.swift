import Foundation

/// How `mesa serve` runs.
package struct ServerConfiguration: Sendable {
    /// Metadata database, content store and `admin.key`.
    package var dataDirectory: String
    /// The address to listen on.
    package var host: String
    /// The port; 0 picks a free one (the real port is printed).
    package var port: Int
    /// The org created on first start.
    package var orgSlug: String
    /// Create and print a new admin key even though the org exists.
    package var newAdminKey: Bool
    /// Threads for blocking work (SQLite, libgit2, disk).
    package var blockingThreads: Int
    /// Seconds between garbage collections of unreferenced records (0: never in the background).
    package var collectionInterval: Double
    /// Seconds a pushed record stays staged before garbage collection may take it (an interrupted push resumes
    /// within this time without sending it again).
    package var stagedGrace: Double
    /// Seconds a client has to send a request's head before the connection is closed.
    package var headerTimeout: Double
    /// The largest request head (request line and header fields) accepted, in bytes.
    package var maxHeaderBytes: Int
    /// The largest request body accepted, in bytes (a sync push is streamed and bounded by the sync limits instead).
    package var maxBodyBytes: Int
    /// Where `GET /download/mesa-linux-<arch>` finds release binaries (`--release-dir`); `nil`: only the running
    /// executable, when it is a packaged build (InstallRoutes.swift).
    package var releaseDirectory: String? = nil
    /// Webhook retries and timeouts.
    package var webhooks: WebhookConfiguration = .default
    /// Upstream sync retries and concurrency.
    package var upstream: UpstreamConfiguration = .default
    /// The 32-byte key that seals upstream credentials (`--secret-key-file`); `nil`: `upstream.key` in the data
    /// directory, made on first use.
    package var secretKeyFile: String? = nil

    /// The defaults of DESIGN.md section 4: `127.0.0.1:7411`, org `local`, data in `~/.local/share/mesa/server`.
    package static var `default`: ServerConfiguration {
        let home = ProcessInfo.processInfo.environment["HOME"] ?? "/root"
        return ServerConfiguration(
            dataDirectory: home + "/.local/share/mesa/server", host: "127.0.0.1", port: 7411, orgSlug: "local",
            newAdminKey: false, blockingThreads: 16, collectionInterval: 3600, stagedGrace: 3600, headerTimeout: 30,
            maxHeaderBytes: 64 << 10, maxBodyBytes: 64 << 20)
    }

    /// Validates an org slug: `^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$` (MESA-API.md).
    package static func isValidOrgSlug(_ slug: String) -> Bool {
        let bytes = Array(slug.utf8)
        guard let first = bytes.first, let last = bytes.last, bytes.count <= 100 else { return false }
        func alphanumeric(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (97...122).contains(byte) }
        return alphanumeric(first) && alphanumeric(last) && bytes.allSatisfy { alphanumeric($0) || $0 == 45 }
    }
}
