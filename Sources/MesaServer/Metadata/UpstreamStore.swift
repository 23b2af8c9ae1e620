package import MesaWire

// Upstream remotes in the metadata store (docs/Protocol.md, "Upstream remotes"). Two tables:
//
// - `repo_upstreams`: a repo's remote URL and, when it has one, its credential sealed with the server's key
//   (UpstreamSecrets.swift): only the kind of credential is readable without the key.
// - `upstream_syncs`: the sync jobs. A job is queued by the route, claimed (`in_progress`, attempt counted) by the
//   runner, and finished as `completed` with per-ref outcomes or, after a failed attempt, queued again with a later
//   `next_attempt_at` (or `failed` once the attempts are spent). A repo's jobs run one at a time, oldest first: a
//   repo with a job in progress has none claimed, and a later job never overtakes an earlier one that waits for its
//   retry. Everything is in SQLite, so jobs survive a restart; one in progress when the server stopped is queued again
//   when it opens its data (``UpstreamStore/requeueInterruptedUpstreamSyncs()``).

/// A repo's upstream remote, with its sealed credential.
package struct UpstreamRow: Sendable, Equatable {
    package var repoID: String
    package var url: String
    /// `token`, `username_password`, or `nil` for a public remote.
    package var authKind: String?
    /// The credential sealed by ``UpstreamSecrets`` (`nil` for a public remote).
    package var sealedAuth: [UInt8]?
    package var updatedAt: Double

    /// Creates a row.
    package init(repoID: String, url: String, authKind: String?, sealedAuth: [UInt8]?, updatedAt: Double) {
        self.repoID = repoID
        self.url = url
        self.authKind = authKind
        self.sealedAuth = sealedAuth
        self.updatedAt = updatedAt
    }
}

/// Which way a sync goes.
package enum UpstreamDirection: String, Sendable {
    /// The remote's branches into bookmarks.
    case pull
    /// Bookmarks to the remote's branches.
    case push
}

/// Where a sync job is.
package enum UpstreamSyncStatus: String, Sendable {
    case queued
    case inProgress = "in_progress"
    case completed
    case failed
}

/// A sync job.
package struct UpstreamSyncRow: Sendable, Equatable {
    /// The queue order (and the list cursor).
    package var sequence: Int64
    package var id: String
    package var repoID: String
    package var direction: UpstreamDirection
    package var status: UpstreamSyncStatus
    /// Attempts started.
    package var attempt: Int
    package var globs: UpstreamRefGlobs
    /// Per-ref outcomes, once completed.
    package var refs: [UpstreamSyncRef]?
    /// Why the last attempt failed.
    package var error: String?
    package var createdAt: Double
    package var startedAt: Double?
    package var finishedAt: Double?
    /// When a queued job may next be attempted.
    package var nextAttemptAt: Double
}

/// How an attempt of a sync ended.
package enum UpstreamSyncAttemptOutcome: Sendable, Equatable {
    /// Done, with what happened to each ref.
    case completed([UpstreamSyncRef])
    /// Failed; tried again at `retryAt`, or given up (`failed`) when `nil`.
    case failed(error: String, retryAt: Double?)
}

/// Upstream remotes and their sync jobs (implemented by ``SQLiteMetadataStore``).
package protocol UpstreamStore: Sendable {
    /// Wakes the sync runner: bumped under ``upstreamSignalKey`` when a job is queued or finishes.
    var upstreamSignal: RevisionSignal { get }

    /// A repo's upstream, if it has one.
    func upstream(repoID: String) throws(MetadataError) -> UpstreamRow?
    /// Sets (or with `nil` removes) a repo's upstream.
    func setUpstream(_ row: UpstreamRow?, repoID: String) throws(MetadataError)

    /// Queues a sync of a repo.
    func createUpstreamSync(
        repoID: String,
        direction: UpstreamDirection,
        globs: UpstreamRefGlobs,
        at time: Double
    ) throws(MetadataError) -> UpstreamSyncRow
    /// One sync of a repo.
    func upstreamSync(repoID: String, id: String) throws(MetadataError) -> UpstreamSyncRow?
    /// A repo's most recent sync.
    func latestUpstreamSync(repoID: String) throws(MetadataError) -> UpstreamSyncRow?
    /// A repo's syncs, newest first; `cursor` is the sequence of the last row of the previous page.
    func upstreamSyncs(repoID: String, limit: Int, cursor: Int64?) throws(MetadataError) -> MetadataPage<
        UpstreamSyncRow
    >

    /// Claims up to `limit` due jobs, the oldest queued job of each repo that has none in progress: each becomes
    /// `in_progress` with its attempt counted, in one transaction.
    func claimDueUpstreamSyncs(at time: Double, limit: Int) throws(MetadataError) -> [UpstreamSyncRow]
    /// When the earliest queued job of a repo without a job in progress becomes due.
    func nextUpstreamSyncAttempt() throws(MetadataError) -> Double?
    /// Records how an attempt ended.
    func finishUpstreamSync(id: String, outcome: UpstreamSyncAttemptOutcome, at time: Double) throws(MetadataError)
    /// Queues again every job left in progress by a server that stopped (run when the data is opened).
    /// - Returns: how many were queued again.
    @discardableResult
    func requeueInterruptedUpstreamSyncs() throws(MetadataError) -> Int
}

/// The ``RevisionSignal`` key the sync runner waits on.
package let upstreamSignalKey = "upstream-syncs"
