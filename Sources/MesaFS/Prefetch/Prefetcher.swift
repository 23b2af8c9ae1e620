package import MesaCore
package import MesaSync
import Synchronization

// The prefetch scheduler (DESIGN.md section 5, "Prefetch").
//
// MesaFS reports every directory read (readdir at offset 0) without waiting for the scheduler. For each one it
// asks the repository's object source for: (1) the trees below the directory, in bulk, to the configured depth,
// unless an earlier request for an ancestor already covered them; (2) the manifests of the directory's files in one
// request, then the chunks of those up to `smallFileBytes` (at most `directoryByteBudget` in all) in one more;
// (3) when the walk detector sees a recursive walk, the whole subtree's content streamed within a byte budget, once
// per subtree. Requests run as tasks, at most `maxConcurrency` at once; a request over that is dropped rather than
// queued (the reader that wanted it will fetch on demand), and nothing is requested while the disk cache is above
// its pressure limit. State lives in this actor because only async code touches it (STYLE.md section 5.6).

/// One directory read, as the prefetcher needs it.
package struct DirectoryVisit: Sendable {
    /// A directory from the repository root down to the one read: its inode and its tree.
    package struct Link: Sendable, Hashable {
        /// The directory's inode.
        package var inode: InodeNumber
        /// Its tree.
        package var tree: ObjectID
    }

    /// The repository's source.
    package var source: any ObjectSource
    /// The chain from the repository root to the directory read (the last link).
    package var chain: [Link]
    /// The directory's listing.
    package var listing: SourceTree
}

/// Counters of the prefetcher (`mesa stats`).
package struct PrefetchStatistics: Sendable, Hashable, Codable {
    /// Requests started.
    package var started = 0
    /// Requests that finished.
    package var completed = 0
    /// Requests that failed (the reader fetches on demand instead).
    package var failed = 0
    /// Requests dropped because `maxConcurrency` were running.
    package var droppedBusy = 0
    /// Directory reads that requested nothing because the cache was above its pressure limit.
    package var skippedForPressure = 0
    /// Recursive walks detected (each streams its subtree once).
    package var walksDetected = 0
    /// Records the requests brought in.
    package var records = 0
    /// Their bytes.
    package var bytes: Int64 = 0
}

/// Schedules prefetch requests from directory reads. See the file's design note.
package actor Prefetcher {
    private enum Depth: Hashable {
        case whole
        case levels(Int)
    }

    /// The settings.
    package let configuration: PrefetchConfiguration
    private var walks: WalkDetector
    private var requestedTrees: [InodeNumber: Depth] = [:]
    private var streamedSubtrees: Set<ObjectID> = []
    private var running: [Int: Task<Void, Never>] = [:]
    private var nextTask = 0
    private nonisolated let pending = Atomic<Int>(0)
    /// The counters.
    package private(set) var statistics = PrefetchStatistics()

    /// Creates a scheduler.
    package init(configuration: PrefetchConfiguration) {
        self.configuration = configuration
        walks = WalkDetector(threshold: configuration.walkDirectoryCount, window: configuration.walkWindow)
    }

    /// Reports a directory read without waiting: the scheduler handles it on its own time.
    package nonisolated func report(_ visit: DirectoryVisit) {
        pending.add(1, ordering: .relaxed)
        let now = ContinuousClock.now
        Task {
            await self.directoryRead(visit, at: now)
            self.pending.subtract(1, ordering: .relaxed)
        }
    }

    /// Handles a directory read: starts the requests it calls for.
    package func directoryRead(_ visit: DirectoryVisit, at now: ContinuousClock.Instant = .now) {
        guard configuration.enabled, let directory = visit.chain.last else { return }
        if visit.source.statistics().cachePressure > configuration.cachePressureLimit {
            statistics.skippedForPressure += 1
            return
        }
        if !isCovered(visit.chain), visit.listing.entries.contains(where: { $0.kind == .directory }) {
            requestedTrees[directory.inode] = configuration.maxDepth.map { .levels($0) } ?? .whole
            if requestedTrees.count > 100_000 { requestedTrees = [:] }
            start(.trees(below: directory.tree, depth: configuration.maxDepth), on: visit.source)
        }
        let files = visit.listing.entries.filter { $0.kind == .regular || $0.kind == .executable }.map(\.id)
        if !files.isEmpty {
            let request = PrefetchRequest.files(
                files, maxFileBytes: configuration.smallFileBytes, maxBytes: configuration.directoryByteBudget)
            start(request, on: visit.source)
        }
        if let root = walks.record(visit.chain.map(\.inode), at: now), let link = visit.chain.first(where: {
            $0.inode == root.last
        }), streamedSubtrees.insert(link.tree).inserted {
            statistics.walksDetected += 1
            let request = PrefetchRequest.subtree(
                link.tree, maxBytes: configuration.walkByteBudget, maxFileBytes: configuration.walkMaxFileBytes)
            start(request, on: visit.source)
        }
    }

    /// Waits until every reported visit was handled and no request is running (tests; shutdown).
    package func idle() async {
        while true {
            if let task = running.values.first {
                await task.value
            } else if pending.load(ordering: .relaxed) > 0 {
                try? await Task.sleep(for: .milliseconds(1))
            } else {
                return
            }
        }
    }

    /// Whether an earlier tree request for the directory or an ancestor reaches as deep as one for it would.
    private func isCovered(_ chain: [DirectoryVisit.Link]) -> Bool {
        for (index, link) in chain.enumerated() {
            guard let requested = requestedTrees[link.inode] else { continue }
            let distance = chain.count - 1 - index
            switch (requested, configuration.maxDepth) {
            case (.whole, _): return true
            case (.levels(let levels), let maxDepth?): if levels - distance >= maxDepth { return true }
            case (.levels, nil): continue
            }
        }
        return false
    }

    private func start(_ request: PrefetchRequest, on source: any ObjectSource) {
        guard running.count < configuration.maxConcurrency else {
            statistics.droppedBusy += 1
            return
        }
        let id = nextTask
        nextTask += 1
        statistics.started += 1
        running[id] = Task {
            let outcome: Result<FetchSummary, SyncError>
            do throws(SyncError) {
                outcome = .success(try await source.prefetch(request))
            } catch {
                outcome = .failure(error)
            }
            self.finished(id, outcome)
        }
    }

    private func finished(_ id: Int, _ outcome: Result<FetchSummary, SyncError>) {
        running[id] = nil
        switch outcome {
        case .success(let summary):
            statistics.completed += 1
            statistics.records += summary.records
            statistics.bytes += summary.bytes
        case .failure:
            statistics.failed += 1
        }
    }
}
