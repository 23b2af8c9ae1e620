import Foundation
import Logging
import MesaWire
import Synchronization

// The upstream sync runner (docs/Protocol.md, "Upstream remotes"). Routes only queue a job (a row in
// `upstream_syncs`) and bump the signal; this task claims due jobs (the oldest queued job of each repo with none in
// progress, so a repo's syncs run one at a time and in order), runs each attempt on the blocking pool, and records the
// outcome. A failed attempt is queued again after the shared exponential back-off (``RetryBackoff``) until
// `maxAttempts`, then the job fails with the last error. The loop sleeps until the signal moves (a job queued or
// finished) or the next retry is due. Jobs are rows, so a restart loses none: the ones in progress when the server
// stopped are queued again when it opens its data, the same resume-from-the-table pattern as the webhook outbox.

/// How upstream syncs are run and retried.
package struct UpstreamConfiguration: Sendable, Equatable {
    /// The wait before retrying a failed attempt, doubling up to its cap.
    package var backoff: RetryBackoff
    /// Attempts before a job fails.
    package var maxAttempts: Int
    /// Syncs running at once (each of a different repo).
    package var concurrency: Int
    /// Whether `file://` upstreams are accepted (`--allow-file-upstreams`): they reach the server's own disk, so any
    /// caller with write scope could read or write git repositories there; off unless the operator allows it.
    package var allowFileURLs = false

    /// 10 s doubling to 10 minutes, 6 attempts, 4 at once.
    package static let `default` = UpstreamConfiguration(
        backoff: RetryBackoff(base: 10, max: 600),
        maxAttempts: 6,
        concurrency: 4
    )
}

/// Runs queued upstream syncs until cancelled.
package final class UpstreamSyncRunner: Sendable {
    private let services: ServerServices
    private let configuration: UpstreamConfiguration
    private let logger: Logger
    private let running = Mutex(0)

    /// Creates a runner; ``run()`` runs the jobs.
    package init(services: ServerServices, configuration: UpstreamConfiguration) {
        self.services = services
        self.configuration = configuration
        var logger = services.logger
        logger[metadataKey: "component"] = "upstream"
        self.logger = logger
    }

    /// Claims and runs due jobs until cancelled.
    package func run() async {
        let signal = services.metadata.upstreamSignal
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let version = signal.version(of: upstreamSignalKey)
                var wait = 60.0
                do {
                    let room = configuration.concurrency - running.withLock { $0 }
                    let now = Date().timeIntervalSince1970
                    let claimed =
                        room <= 0
                        ? []
                        : try await services.blocking { [services] in
                            try services.metadata.claimDueUpstreamSyncs(at: now, limit: room)
                        }
                    for job in claimed {
                        running.withLock { $0 += 1 }
                        group.addTask {
                            await self.attempt(job)
                            self.running.withLock { $0 -= 1 }
                            signal.bump(upstreamSignalKey)
                        }
                    }
                    let next = try await services.blocking { [services] in
                        try services.metadata.nextUpstreamSyncAttempt()
                    }
                    if let next { wait = min(wait, max(next - Date().timeIntervalSince1970, 0.01)) }
                } catch {
                    logger.error("upstream sync scheduling failed", metadata: ["error": "\(error)"])
                    wait = 1
                }
                await signal.wait(
                    for: upstreamSignalKey,
                    after: version,
                    timeout: .milliseconds(Int64(wait * 1000))
                )
            }
        }
    }

    /// Runs one attempt of a claimed job and records how it ended.
    private func attempt(_ job: UpstreamSyncRow) async {
        let outcome: UpstreamSyncAttemptOutcome
        do {
            let refs = try await services.blocking { [services] in
                try UpstreamSyncOperations.run(job, services: services)
            }
            outcome = .completed(refs)
            logger.info(
                "upstream sync completed",
                metadata: ["sync.id": "\(job.id)", "repo.id": "\(job.repoID)", "sync.refs": "\(refs.count)"]
            )
        } catch {
            let permanent = (error as? UpstreamSyncFailure)?.isPermanent ?? false
            let retry =
                !permanent && job.attempt < configuration.maxAttempts
                ? Date().timeIntervalSince1970 + configuration.backoff.delay(afterFailedAttempts: job.attempt) : nil
            outcome = .failed(error: Self.describe(error), retryAt: retry)
            logger.log(
                level: retry == nil ? .warning : .info,
                retry == nil ? "upstream sync failed" : "upstream sync attempt failed",
                metadata: ["sync.id": "\(job.id)", "repo.id": "\(job.repoID)", "error": "\(Self.describe(error))"]
            )
        }
        do {
            try await services.blocking { [services] in
                try services.metadata.finishUpstreamSync(id: job.id, outcome: outcome, at: Date().timeIntervalSince1970)
            }
        } catch {
            // The job stays in progress until the next start queues it again.
            logger.error("cannot record an upstream sync", metadata: ["sync.id": "\(job.id)", "error": "\(error)"])
        }
    }

    /// An error as the job's `error` text.
    static func describe(_ error: any Error) -> String {
        if let error = error as? APIError { return error.message }
        return "\(error)"
    }
}
