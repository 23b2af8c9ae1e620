package import MesaCore
package import MesaSync
import Synchronization

// The prefetch scheduler (DESIGN.md section 5, "Prefetch").
//
// MesaFS reports every directory read (readdir at offset 0) without waiting for the scheduler, and counts every
// file read that reaches it (the kernel's page cache missed). For each directory read it asks the repository's
// object source for: (1) the trees below the directory, in bulk, to the configured depth, unless an earlier request
// for an ancestor already covered them; (2) when the mount is reading content (file reads since the previous
// directory read, or within the walk window), the chunks of the directory's files up to `smallFileBytes` (at most
// `directoryByteBudget` in all) in one batch; (3) when the walk detector sees a recursive walk, the manifests of
// the whole subtree in one request at once (what `find` and `ls -lR` need), and, once the walk reads content (as
// `grep -r` and `tar` do), the subtree's content streamed in walk order within a byte budget, once per subtree.
// Gating content on reads keeps a listing walk from pulling the repository's bytes over the link it needs for
// metadata. Requests run as tasks, at most `maxConcurrency` at once; a request over that is dropped rather than
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
    /// Recursive walks detected (each fetches its subtree's manifests once).
    package var walksDetected = 0
    /// Detected walks whose content was streamed (they read files).
    package var walksStreamed = 0
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
    private var walkedSubtrees: Set<ObjectID> = []
    /// When each directory was last listed (to find where a detected walk started).
    private var listedAt: [InodeNumber: ContinuousClock.Instant] = [:]
    /// Detected walks whose content waits for the walk to read a file: the subtree and its source.
    private var walksAwaitingContent: [ObjectID: any ObjectSource] = [:]
    /// Walks whose content was streamed (their directories need no small-file batches).
    private var streamingWalks: Set<ObjectID> = []
    /// The manifests request of each detected walk, which its content stream waits for.
    private var walkManifests: [ObjectID: Task<Void, Never>] = [:]
    private nonisolated let contentReads = Atomic<Int>(0)
    private var contentReadsSeen = 0
    private var lastContentRead: ContinuousClock.Instant?
    private var running: [Int: Task<Void, Never>] = [:]
    private var nextTask = 0
    private nonisolated let pending = Atomic<Int>(0)
    private nonisolated let inbox = Mutex<(visits: [(DirectoryVisit, ContinuousClock.Instant)], draining: Bool)>(
        ([], false))
    /// The counters.
    package private(set) var statistics = PrefetchStatistics()

    /// The time visits are stamped with.
    package nonisolated let clock: PrefetchClock

    /// Creates a scheduler.
    package init(configuration: PrefetchConfiguration, clock: PrefetchClock = PrefetchClock()) {
        self.configuration = configuration
        self.clock = clock
        walks = WalkDetector(threshold: configuration.walkDirectoryCount, window: configuration.walkWindow)
    }

    /// Counts a file read that reached the filesystem (no locks, no waiting: called on every read).
    package nonisolated func noteContentRead() {
        contentReads.add(1, ordering: .relaxed)
    }

    /// Reports a directory read without waiting: the scheduler handles it on its own time. Visits queue in an
    /// inbox that one task drains, so a walk listing thousands of directories a second costs one task per burst,
    /// not one per directory.
    package nonisolated func report(_ visit: DirectoryVisit) {
        pending.add(1, ordering: .relaxed)
        let now = clock.now
        let startDrain = inbox.withLock { inbox in
            inbox.visits.append((visit, now))
            defer { inbox.draining = true }
            return !inbox.draining
        }
        guard startDrain else { return }
        Task { await self.drainInbox() }
    }

    private func drainInbox() {
        while true {
            let visits = inbox.withLock { inbox in
                let taken = inbox.visits
                inbox.visits.removeAll(keepingCapacity: true)
                if taken.isEmpty { inbox.draining = false }
                return taken
            }
            if visits.isEmpty { return }
            for (visit, time) in visits {
                directoryRead(visit, at: time)
                pending.subtract(1, ordering: .relaxed)
            }
        }
    }

    /// Handles a directory read: starts the requests it calls for.
    package func directoryRead(_ visit: DirectoryVisit, at now: ContinuousClock.Instant) {
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
        let reads = contentReads.load(ordering: .relaxed)
        if reads != contentReadsSeen {
            contentReadsSeen = reads
            lastContentRead = now
        }
        let readingContent = lastContentRead.map { now - $0 <= configuration.walkWindow } ?? false
        let files = visit.listing.entries.filter { $0.kind == .regular || $0.kind == .executable }.map(\.id)
        // A directory inside a walk whose content is streaming gets its files from the stream.
        let streamed = visit.chain.contains { streamingWalks.contains($0.tree) }
        if readingContent, !streamed, !files.isEmpty {
            let request = PrefetchRequest.files(
                files, maxFileBytes: configuration.smallFileBytes, maxBytes: configuration.directoryByteBudget)
            start(request, on: visit.source)
        }
        listedAt[directory.inode] = now
        if listedAt.count > 100_000 { listedAt = listedAt.filter { now - $0.value <= configuration.walkWindow } }
        if let root = walks.record(visit.chain.map(\.inode), at: now),
            var index = visit.chain.firstIndex(where: { $0.inode == root.last })
        {
            // The detector sees the walk's recent directories; the walk started higher up if the directories above
            // were listed just before (`find .` at the repository root lists the root, then dives).
            while index > 0, let listed = listedAt[visit.chain[index - 1].inode],
                now - listed <= configuration.walkWindow
            {
                index -= 1
            }
            if !visit.chain[...index].contains(where: { walkedSubtrees.contains($0.tree) }) {
                startWalk(visit.chain[index], source: visit.source)
            }
        }
        if readingContent {
            // Only a walk this directory is inside: content read elsewhere says nothing about an old listing walk.
            for (tree, source) in walksAwaitingContent where visit.chain.contains(where: { $0.tree == tree }) {
                walksAwaitingContent[tree] = nil
                streamingWalks.insert(tree)
                statistics.walksStreamed += 1
                let manifests = walkManifests.removeValue(forKey: tree)
                let request = PrefetchRequest.subtree(
                    tree, maxBytes: configuration.walkByteBudget, maxFileBytes: configuration.walkMaxFileBytes)
                start(request, on: source, evenWhenBusy: true, after: manifests)
            }
        }
    }

    /// A detected walk under `link`: its manifests at once, its content once it reads files.
    private func startWalk(_ link: DirectoryVisit.Link, source: any ObjectSource) {
        if walksAwaitingContent.count > 1_000 {
            walksAwaitingContent = [:]
            walkManifests = [:]
        }
        walkedSubtrees.insert(link.tree)
        statistics.walksDetected += 1
        walkManifests[link.tree] = start(.manifests(below: link.tree), on: source, evenWhenBusy: true)
        walksAwaitingContent[link.tree] = source
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

    /// Starts a request as a task, unless `maxConcurrency` are running (a walk's requests start regardless: they
    /// replace many directory requests). A request given `after` starts once that task finished.
    @discardableResult
    private func start(
        _ request: PrefetchRequest, on source: any ObjectSource, evenWhenBusy: Bool = false,
        after predecessor: Task<Void, Never>? = nil
    ) -> Task<Void, Never>? {
        guard evenWhenBusy || running.count < configuration.maxConcurrency else {
            statistics.droppedBusy += 1
            return nil
        }
        let id = nextTask
        nextTask += 1
        statistics.started += 1
        let task = Task {
            await predecessor?.value
            let outcome: Result<FetchSummary, SyncError>
            do throws(SyncError) {
                outcome = .success(try await source.prefetch(request))
            } catch {
                outcome = .failure(error)
            }
            self.finished(id, outcome)
        }
        running[id] = task
        return task
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
