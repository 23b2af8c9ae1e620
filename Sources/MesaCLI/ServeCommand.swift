import ArgumentParser
import Foundation
import Logging
import MesaServer

/// `mesa serve`: the remote, with an embedded SQLite metadata store and a local content store.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Mesa remote: Mesa's HTTP API and the sync protocol over a local data directory."
    )

    @Option(help: "The data directory (metadata, content, admin.key); default ~/.local/share/mesa/server.")
    var dataDir: String?

    @Option(help: "The address to listen on, HOST:PORT (port 0 picks a free port).")
    var listen = "127.0.0.1:7411"

    @Option(help: "The org created on first start.")
    var org = "local"

    @Flag(help: "Create and print a new admin key even though the org already exists.")
    var newAdminKey = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(help: "Seconds between garbage collections of records no repo references (0: never).")
    var gcInterval: Double = ServerConfiguration.default.collectionInterval

    @Option(help: "Seconds a pushed record stays staged before garbage collection may reclaim it.")
    var gcGrace: Double = ServerConfiguration.default.stagedGrace

    @Option(help: "A directory of mesa-linux-<arch> binaries (scripts/package.sh) that /install.sh installs.")
    var releaseDir: String?

    @Option(help: "Seconds before a failed webhook delivery is retried; each further retry waits twice as long.")
    var webhookRetryBase: Double = WebhookConfiguration.default.retryBase

    @Option(help: "The longest wait between two attempts of a webhook delivery, in seconds.")
    var webhookRetryMax: Double = WebhookConfiguration.default.retryMax

    @Option(help: "Seconds after which an undelivered webhook delivery is given up.")
    var webhookRetryHorizon: Double = WebhookConfiguration.default.retryHorizon

    @Option(help: "Seconds one webhook delivery attempt may take.")
    var webhookTimeout: Double = WebhookConfiguration.default.timeout

    @Flag(help: "Accept file:// upstream remotes (they reach this machine's disk: any caller with write scope could read or write git repositories there).")
    var allowFileUpstreams = false

    @Option(help: "A 32-byte key file that seals upstream credentials (default: upstream.key in the data directory).")
    var secretKeyFile: String?

    @Option(help: "Seconds before a failed upstream sync is tried again; each further retry waits twice as long.")
    var upstreamRetryBase: Double = UpstreamConfiguration.default.backoff.base

    @Option(help: "The longest wait between two attempts of an upstream sync, in seconds.")
    var upstreamRetryMax: Double = UpstreamConfiguration.default.backoff.max

    @Option(help: "Attempts of an upstream sync before it fails.")
    var upstreamMaxAttempts: Int = UpstreamConfiguration.default.maxAttempts

    func validate() throws {
        if let releaseDir {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: releaseDir, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--release-dir \(releaseDir) is not a directory.")
            }
        }
        guard ListenAddress(listen) != nil else {
            throw ValidationError("--listen must be HOST:PORT with a port from 0 to 65535, such as 127.0.0.1:7411.")
        }
        guard ServerConfiguration.isValidOrgSlug(org) else {
            throw ValidationError("--org must be lower-case letters, digits and inner dashes, such as 'local'.")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is unknown.") }
        guard gcInterval >= 0, gcGrace >= 0, gcInterval.isFinite, gcGrace.isFinite else {
            throw ValidationError("--gc-interval and --gc-grace must be zero or more seconds.")
        }
        let webhookTimes = [webhookRetryBase, webhookRetryMax, webhookRetryHorizon, webhookTimeout]
        guard webhookTimes.allSatisfy({ $0 > 0 && $0.isFinite }), webhookRetryMax >= webhookRetryBase else {
            throw ValidationError(
                "--webhook-retry-base, --webhook-retry-max, --webhook-retry-horizon and --webhook-timeout must be "
                    + "positive seconds, with --webhook-retry-max at least --webhook-retry-base.")
        }
        let upstreamTimes = [upstreamRetryBase, upstreamRetryMax]
        guard upstreamTimes.allSatisfy({ $0 > 0 && $0.isFinite }), upstreamRetryMax >= upstreamRetryBase,
            upstreamMaxAttempts >= 1
        else {
            throw ValidationError(
                "--upstream-retry-base and --upstream-retry-max must be positive seconds, with --upstream-retry-max at "
                    + "least --upstream-retry-base, and --upstream-max-attempts at least 1.")
        }
    }

    func run() async throws {
        var configuration = ServerConfiguration.default
        if let dataDir { configuration.dataDirectory = dataDir }
        // validate() checked the address.
        let address = ListenAddress(listen)!
        configuration.host = address.host
        configuration.port = address.port
        configuration.orgSlug = org
        configuration.newAdminKey = newAdminKey
        configuration.collectionInterval = gcInterval
        configuration.stagedGrace = gcGrace
        configuration.releaseDirectory = releaseDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        configuration.webhooks.retryBase = webhookRetryBase
        configuration.webhooks.retryMax = webhookRetryMax
        configuration.webhooks.retryHorizon = webhookRetryHorizon
        configuration.webhooks.timeout = webhookTimeout
        configuration.upstream.backoff = RetryBackoff(base: upstreamRetryBase, max: upstreamRetryMax)
        configuration.upstream.maxAttempts = upstreamMaxAttempts
        configuration.upstream.allowFileURLs = allowFileUpstreams
        configuration.secretKeyFile = secretKeyFile.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        var logger = Logger(label: "mesa.server")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info

        let opened = try MesaServerApplication.open(configuration, logger: logger)
        var output = BufferedOutput()
        if let key = opened.newAdminKey {
            output.write("admin key: \(key)\n")
            output.write("(saved to \(opened.adminKeyPath ?? configuration.dataDirectory); it is not shown again)\n")
            output.flush()
        }
        try await MesaServerApplication.run(
            configuration, services: opened.services, webhookSender: CurlWebhookSender()
        ) { url in
            var output = BufferedOutput()
            output.write("listening on \(url)\n")
            output.flush()
        }
    }
}

/// `HOST:PORT`.
struct ListenAddress {
    var host: String
    var port: Int

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port), colon > text.startIndex
        else { return nil }
        host = String(text[..<colon])
        self.port = port
    }
}
