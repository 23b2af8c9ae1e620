import Crypto
import Synchronization
package import MesaCore

// Eviction and compaction.
//
// Cache mode bounds the footprint of unpinned records. When a put (or an unpin) pushes it over the bound, the least
// recently used unpinned records are dropped from the index until the footprint is under the eviction target (90% of
// the bound by default, so eviction runs once per tenth of the cache, not on every put). Dropping is immediate for
// readers; the disk space comes back when compaction rewrites the segments that held them: each sealed segment whose
// dead fraction reaches the threshold has its live records copied, as stored (no recompression), to the active
// segment, which is synced before the old segment file is unlinked. A crash between the two leaves a duplicate that
// the next open resolves (the newer segment wins) and a later compaction reclaims.
//
// Recency is kept in memory (a logical clock per record). After a restart the order falls back to segment order,
// oldest first, which is the order records were written or last compacted in.

extension ContentStore {
    /// In cache mode, evicts least-recently-used unpinned records while over the bound, then compacts.
    ///
    /// Only one thread runs maintenance at a time; others return at once (the running one re-checks the bound).
    func evictIfNeeded() throws(StoreError) {
        guard let bound = configuration.maxUnpinnedBytes else { return }
        guard !maintenanceRunning.exchange(true, ordering: .acquiring) else { return }
        defer { maintenanceRunning.store(false, ordering: .releasing) }
        let target = Int64(Double(bound) * configuration.evictionTargetFraction)
        let evicted = try state.withLock { (state) throws(StoreError) -> Bool in
            guard state.liveBytes - state.pinnedBytes > bound else { return false }
            let pins = state.pinLog.pins
            let candidates = state.entries.filter { !pins.contains($0.key) }.sorted {
                $0.value.lastAccess < $1.value.lastAccess
            }
            for (key, _) in candidates {
                guard state.liveBytes - state.pinnedBytes > target, let entry = state.remove(key) else { break }
                state.evictions += 1
                state.evictedBytes += entry.location.recordSize(kind: key.kind)
            }
            // Evicted records in the active segment are reclaimed only once it is sealed.
            if state.activeHasRemovals { try seal(&state) }
            return true
        }
        if evicted { _ = try compactLocked(minimumDeadFraction: configuration.compactionDeadFraction) }
    }

    /// Rewrites every sealed segment whose dead fraction is at least `minimumDeadFraction` (0 rewrites every
    /// segment that has any dead bytes) and makes removals durable.
    /// - Returns: the number of bytes of segment files reclaimed.
    @discardableResult
    package func compact(minimumDeadFraction: Double? = nil) throws(StoreError) -> Int64 {
        while maintenanceRunning.exchange(true, ordering: .acquiring) { sched_yield() }
        defer { maintenanceRunning.store(false, ordering: .releasing) }
        return try compactLocked(minimumDeadFraction: minimumDeadFraction ?? configuration.compactionDeadFraction)
    }

    /// Compaction proper; the caller holds `maintenanceRunning`.
    private func compactLocked(minimumDeadFraction: Double) throws(StoreError) -> Int64 {
        let victims = try state.withLock { (state) throws(StoreError) -> [UInt32] in
            guard !state.closed else { throw .closed }
            if state.activeHasRemovals { try seal(&state) }
            return state.segments.keys.sorted().filter { number in
                guard number != state.active.number, let end = state.segmentEnds[number] else { return false }
                let capacity = end - Segment.headerSize
                let dead = capacity - (state.segmentLiveBytes[number] ?? 0)
                return dead > 0 && (capacity == 0 || Double(dead) >= minimumDeadFraction * Double(capacity))
            }
        }
        var reclaimed: Int64 = 0
        for number in victims { reclaimed += try rewrite(segment: number) }
        try sync()
        return reclaimed
    }

    /// Copies a sealed segment's live records into the active segment, then deletes the segment.
    private func rewrite(segment number: UInt32) throws(StoreError) -> Int64 {
        let snapshot = state.withLock { state -> (Segment, [(key: RecordKey, location: RecordLocation)], Int64)? in
            guard let segment = state.segments[number], number != state.active.number else { return nil }
            return (segment, state.liveEntries(of: number), state.segmentEnds[number] ?? 0)
        }
        guard let (segment, live, size) = snapshot else { return 0 }
        for (key, location) in live {
            let recordSize = Int(location.recordSize(kind: key.kind))
            let record = try segment.file.read(count: recordSize, at: location.offset)
            try record.withBytes { (raw) throws(StoreError) in
                let header: RecordHeader
                do {
                    _ = try verifiedPayload(key, location: location, record: raw)
                    header = try RecordHeader(decoding: raw)
                } catch {
                    // A corrupt record is dropped rather than copied; `verify` would have named it.
                    state.withLock { state in
                        if state.entries[key]?.location == location { state.remove(key) }
                    }
                    return
                }
                try state.withLock { (state) throws(StoreError) in
                    guard state.entries[key]?.location == location else { return }
                    let lastAccess = state.entries[key]?.lastAccess ?? 0
                    try append(record: raw, header: header, state: &state)
                    state.entries[key]?.lastAccess = lastAccess
                }
            }
        }
        // The copies must be durable before the originals disappear.
        let active = state.withLock { $0.active }
        try active.file.sync()
        state.withLock { state in
            state.segments[number] = nil
            state.segmentEnds[number] = nil
            state.segmentLiveBytes[number] = nil
            state.dirtyIndexes.remove(number)
        }
        try StoreDirectory.remove(segmentsDirectory + "/" + Segment.fileName(number, suffix: "idx"))
        try StoreDirectory.remove(segmentsDirectory + "/" + Segment.fileName(number, suffix: "seg"))
        try StoreDirectory.sync(segmentsDirectory)
        return size
    }

    /// Reads every record, checks its checksum, decompresses it and recomputes its id: SHA-256 for chunks, git's
    /// SHA-1 for trees, commits and tags, and for manifests the git blob id of the content their chunks spell.
    /// Corrupt records are reported by key; every other record stays readable.
    package func verify() -> VerifyReport {
        let keys = state.withLock { state in state.entries.keys.sorted() }
        var report = VerifyReport(checked: 0, corrupt: [])
        for key in keys {
            report.checked += 1
            do {
                let bytes = try get(key)
                if let reason = try idMismatch(key, bytes) {
                    let claim = isClaimed(key) ? "a pushed claim, false: " : ""
                    report.corrupt.append(.init(key: key, reason: claim + reason))
                }
            } catch .notFound {
                report.checked -= 1
            } catch {
                report.corrupt.append(.init(key: key, reason: "\(error)"))
            }
        }
        return report
    }

    /// Why `bytes` do not hash to `key`'s id, or `nil` when they do: SHA-256 for chunks, git's SHA-1 for trees,
    /// commits and tags, and for a manifest the git blob id of the content its chunks (read from this store) spell.
    package func idMismatch(_ key: RecordKey, _ bytes: [UInt8]) throws(StoreError) -> String? {
        let expected = key.idBytes
        switch key.kind {
        case .chunk:
            return Array(SHA256.hash(data: bytes)) == expected ? nil : "content does not hash to its id"
        case .tree, .commit, .tag:
            var hasher = Insecure.SHA1()
            hasher.update(data: Array("\(key.kind) \(bytes.count)\0".utf8))
            hasher.update(data: bytes)
            return Array(hasher.finalize()) == expected ? nil : "object does not hash to its git id"
        case .manifest:
            guard let manifest = Manifest(decoding: bytes) else { return "not a valid manifest" }
            var hasher = Insecure.SHA1()
            hasher.update(data: Array("blob \(manifest.size)\0".utf8))
            for chunk in manifest.chunks {
                let content: [UInt8]
                do {
                    content = try get(RecordKey(chunk: chunk.id))
                } catch {
                    // A missing or corrupt chunk makes the manifest wrong; any other failure is the store's.
                    switch error {
                    case .notFound, .corruptRecord: return "references missing or corrupt chunk \(chunk.id)"
                    case .badFormat, .locked, .io, .compression, .invalidArgument, .closed: throw error
                    }
                }
                // Reads map offsets through the listed lengths: a length that is not the chunk's own would serve
                // other bytes at an offset even though the whole content hashes right.
                guard content.count == Int(chunk.length), chunk.length > 0 else {
                    return "lists chunk \(chunk.id) with length \(chunk.length), not its \(content.count) bytes"
                }
                hasher.update(data: content)
            }
            return Array(hasher.finalize()) == expected ? nil : "content does not hash to the blob id"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
