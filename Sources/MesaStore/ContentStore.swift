import Crypto
package import MesaCore
import Synchronization

// The content-addressed store (DESIGN.md section 3): records keyed by (kind, id) appended to pack segments.
//
// Concurrency: one `Mutex` guards the index, the segment table and the counters. CPU work (hashing, compression,
// decompression, checksums) and reads run outside it; appends `pwrite` under it, which keeps the active segment's
// tail contiguous (a scan on open can then tell a torn tail from corruption). Readers copy a `Segment` reference
// under the lock, so a concurrent compaction can drop and unlink that segment safely. Every method is synchronous
// and safe to call from any thread, C threads included (libgit2 backends, FUSE callbacks); none may be called on
// Swift's cooperative pool when it could block on disk: run them on a blocking pool.
//
// Durability is group commit: `put` returns once the record is in the segment (the page cache); `sync` makes
// everything before it durable, including pins and removals.

/// A content-addressed store of chunks, manifests and git objects in pack segments.
package final class ContentStore: Sendable {
    /// The store directory.
    package let path: String
    /// The configuration it was opened with.
    package let configuration: StoreConfiguration
    let segmentsDirectory: String
    let state: Mutex<State>
    /// Set while one thread runs eviction or compaction, so they never run twice at once.
    let maintenanceRunning = Atomic<Bool>(false)
    private let lockFile: StoreFile

    /// The store-format marker file's content.
    static let formatMarker: [UInt8] = Array("mesa-store 1\n".utf8)

    struct Entry {
        var location: RecordLocation
        var lastAccess: UInt64
    }

    struct State {
        var entries: [RecordKey: Entry] = [:]
        var segments: [UInt32: Segment] = [:]
        var active: Segment
        var activeEnd: Int64
        var activeKeys: [RecordKey] = []
        var activeHasRemovals = false
        var segmentLiveBytes: [UInt32: Int64] = [:]
        var segmentEnds: [UInt32: Int64] = [:]
        var pinLog: PinLog
        var clock: UInt64 = 0
        var liveBytes: Int64 = 0
        var rawBytes: Int64 = 0
        var pinnedBytes: Int64 = 0
        var pinnedRecords = 0
        var hits: Int64 = 0
        var misses: Int64 = 0
        var evictions: Int64 = 0
        var evictedBytes: Int64 = 0
        var dirtyIndexes: Set<UInt32> = []
        var closed = false
        /// The write logs of threads running ``ContentStore/logNewRecords(into:_:)``: each record the thread newly
        /// stored, with its last use stamp.
        var writeLogs: [pthread_t: [RecordKey: UInt64]] = [:]

        init(active: Segment, activeEnd: Int64, pinLog: PinLog) {
            self.active = active
            self.activeEnd = activeEnd
            self.pinLog = pinLog
            segments[active.number] = active
        }

        /// Adds a record to the index, replacing (and un-accounting) an older location of the same key.
        mutating func insert(_ key: RecordKey, at location: RecordLocation) {
            if let old = entries[key] { account(key, old.location, sign: -1) }
            clock += 1
            entries[key] = Entry(location: location, lastAccess: clock)
            account(key, location, sign: 1)
            if location.segment == active.number { activeKeys.append(key) }
        }

        /// Removes a record from the index; the removal is persisted by the next `sync` or compaction.
        @discardableResult
        mutating func remove(_ key: RecordKey) -> Entry? {
            guard let entry = entries.removeValue(forKey: key) else { return nil }
            account(key, entry.location, sign: -1)
            pinLog.dropClaimLater(key)
            if entry.location.segment == active.number {
                activeHasRemovals = true
            } else {
                dirtyIndexes.insert(entry.location.segment)
            }
            return entry
        }

        private mutating func account(_ key: RecordKey, _ location: RecordLocation, sign: Int64) {
            let size = location.recordSize(kind: key.kind)
            liveBytes += sign * size
            rawBytes += sign * Int64(location.rawLength)
            segmentLiveBytes[location.segment, default: 0] += sign * size
            if pinLog.pins.contains(key) {
                pinnedBytes += sign * size
                pinnedRecords += Int(sign)
            }
        }

        /// Marks a record as used now; returns whether it exists.
        mutating func touch(_ key: RecordKey) -> Bool {
            guard entries[key] != nil else { return false }
            clock += 1
            entries[key]?.lastAccess = clock
            // A thread's own use of a record it logged keeps the record its own.
            if !writeLogs.isEmpty {
                let thread = pthread_self()
                if writeLogs[thread]?[key] != nil { writeLogs[thread]?[key] = clock }
            }
            return true
        }

        /// Logs a record a put just stored into the calling thread's write log, if it keeps one.
        mutating func logNew(_ key: RecordKey) {
            guard !writeLogs.isEmpty else { return }
            let thread = pthread_self()
            if writeLogs[thread] != nil { writeLogs[thread]?[key] = entries[key]?.lastAccess }
        }

        /// The live entries of one segment, in file order.
        func liveEntries(of segment: UInt32) -> [(key: RecordKey, location: RecordLocation)] {
            entries.compactMap { key, entry in
                entry.location.segment == segment ? (key, entry.location) : nil
            }.sorted { $0.location.offset < $1.location.offset }
        }
    }

    // MARK: Opening

    /// Opens the store in `path`, creating it when absent.
    ///
    /// Sealed segments are loaded from their index files; only the active segment is scanned, and its torn tail, if
    /// any, is cut off. In cache mode, content over the bound is evicted before this returns.
    /// - Throws: ``StoreError/locked(path:)`` when another process has the store open,
    ///   ``StoreError/badFormat(path:reason:)`` for files of an unknown format.
    package init(path: String, configuration: StoreConfiguration = .default) throws(StoreError) {
        guard configuration.segmentSize >= 4096 else { throw .invalidArgument("segment size must be at least 4 KiB") }
        self.path = path
        self.configuration = configuration
        segmentsDirectory = path + "/segments"
        try StoreDirectory.create(segmentsDirectory)
        lockFile = try StoreFile(path: path + "/LOCK", create: true)
        try lockFile.lockExclusively(storePath: path)
        try Self.checkFormatMarker(path)

        var numbers: [UInt32] = []
        var indexed: Set<UInt32> = []
        for name in try StoreDirectory.list(segmentsDirectory) {
            if name.hasSuffix(".tmp") {
                try StoreDirectory.remove(segmentsDirectory + "/" + name)
            } else if name.hasSuffix(".seg"), let number = UInt32(name.dropLast(4)) {
                numbers.append(number)
            } else if name.hasSuffix(".idx"), let number = UInt32(name.dropLast(4)) {
                indexed.insert(number)
            }
        }
        numbers.sort()

        var loaded: [(key: RecordKey, location: RecordLocation)] = []
        var segments: [Segment] = []
        var ends: [UInt32: Int64] = [:]
        var activeEnd = Segment.headerSize
        for number in numbers {
            let segment = try Segment.open(number: number, directory: segmentsDirectory)
            segments.append(segment)
            let isLast = number == numbers.last
            if indexed.contains(number), let entries = try? SegmentIndex.read(segment: number, directory: segmentsDirectory) {
                loaded += entries
                ends[number] = try segment.file.size()
                continue
            }
            // No (usable) index: the active segment, or a crash between writing a segment and its index.
            let scan = try segment.scan()
            if scan.validEnd < (try segment.file.size()) { try segment.file.truncate(to: scan.validEnd) }
            loaded += scan.records
            ends[number] = scan.validEnd
            if isLast && !indexed.contains(number) {
                activeEnd = scan.validEnd
            } else {
                try SegmentIndex.write(scan.records, segment: number, directory: segmentsDirectory)
            }
        }
        let active: Segment
        if let last = segments.last, !indexed.contains(last.number) {
            active = last
        } else {
            active = try Segment.create(number: (numbers.last ?? 0) + 1, directory: segmentsDirectory)
            segments.append(active)
            activeEnd = Segment.headerSize
        }
        var state = State(active: active, activeEnd: activeEnd, pinLog: try PinLog(directory: path))
        for segment in segments { state.segments[segment.number] = segment }
        state.segmentEnds = ends
        // Later segments win: a compaction interrupted after copying leaves an older duplicate behind.
        for (key, location) in loaded { state.insert(key, at: location) }
        // A claim whose record is gone (removed, then a crash before the log was written) is dropped.
        try state.pinLog.setClaimed(state.pinLog.claims.filter { state.entries[$0] == nil }, claimed: false)
        self.state = Mutex(state)
        try evictIfNeeded()
    }

    private static func checkFormatMarker(_ path: String) throws(StoreError) {
        let markerPath = path + "/STORE"
        let marker = try StoreFile(path: markerPath, create: true)
        let size = try marker.size()
        if size == 0 {
            try marker.write(formatMarker, at: 0)
            try marker.sync()
            return
        }
        let content = try marker.read(count: Int(min(size, 64)), at: 0)
        guard content == formatMarker else {
            throw .badFormat(path: markerPath, reason: "not a mesa store of a version this program supports")
        }
    }

    /// Flushes everything and releases the directory lock; later calls throw ``StoreError/closed``.
    package func close() throws(StoreError) {
        try sync()
        state.withLock { $0.closed = true }
        _ = flock(lockFile.descriptor, LOCK_UN)
    }

    // MARK: Writing

    /// Stores a chunk under its SHA-256 id.
    /// - Returns: the chunk's id (the store is unchanged when it already held the chunk).
    @discardableResult
    package func putChunk(_ bytes: UnsafeRawBufferPointer) throws(StoreError) -> ChunkID {
        let digest = SHA256.hash(data: bytes)
        // SHA-256 digests are always 32 bytes, so the id always exists.
        let id = digest.withUnsafeBytes { ChunkID(bytes: $0)! }
        try put(bytes, key: RecordKey(chunk: id))
        return id
    }

    /// Stores a chunk under its SHA-256 id.
    @discardableResult
    package func putChunk(_ bytes: [UInt8]) throws(StoreError) -> ChunkID {
        try bytes.withBytes { (raw) throws(StoreError) in try putChunk(raw) }
    }

    /// Stores `bytes` under `key`; storing a key that is present changes nothing (the id names the content).
    ///
    /// The caller vouches that `key` is the content's id; ``putChunk(_:)`` computes it for chunks.
    /// - Returns: `true` when the record was new.
    @discardableResult
    package func put(_ bytes: [UInt8], key: RecordKey) throws(StoreError) -> Bool {
        try bytes.withBytes { (raw) throws(StoreError) in try put(raw, key: key) }
    }

    /// Stores `bytes` under `key`. See ``put(_:key:)-([UInt8],_)``.
    @discardableResult
    package func put(_ bytes: UnsafeRawBufferPointer, key: RecordKey) throws(StoreError) -> Bool {
        guard bytes.count <= Int(UInt32.max) else { throw .invalidArgument("a record holds at most 4 GiB") }
        let present = try state.withLock { (state) throws(StoreError) -> Bool in
            guard !state.closed else { throw .closed }
            return state.touch(key)
        }
        // The caller computed the id: it settles a claim on the key (ContentStore+Claims.swift).
        if present, !(try settleClaim(key, byVerified: bytes)) { return false }

        let headerSize = RecordHeader.fixedSize + key.kind.idLength
        let stored = try Zstd.withScratch(capacity: headerSize + Zstd.compressBound(bytes.count)) {
            (scratch) throws(StoreError) -> Bool in
            let payloadArea = UnsafeMutableRawBufferPointer(rebasing: scratch[headerSize...])
            var codec = Codec.zstd
            var storedLength = 0
            if bytes.count > 0 {
                storedLength = try Zstd.compress(bytes, into: payloadArea, level: configuration.compressionLevel)
            }
            // Keep the raw bytes when compression saves less than 5% (DESIGN.md section 3).
            if bytes.count == 0 || storedLength * 20 > bytes.count * 19 {
                codec = .raw
                storedLength = bytes.count
                if bytes.count > 0 { payloadArea.copyMemory(from: bytes) }
            }
            let payload = UnsafeRawBufferPointer(rebasing: payloadArea[0..<storedLength])
            let header = RecordHeader(
                key: key, codec: codec, rawLength: UInt32(bytes.count), storedLength: UInt32(storedLength),
                payloadChecksum: PayloadChecksum.of(payload))
            header.encoded().withUnsafeBytes { scratch.copyMemory(from: $0) }
            let record = UnsafeRawBufferPointer(rebasing: scratch[0..<(headerSize + storedLength)])
            return try append(record: record, header: header)
        }
        if stored, configuration.maxUnpinnedBytes != nil { try evictIfNeeded() }
        return stored
    }

    /// Appends an encoded record to the active segment, sealing it first when it is full.
    /// - Returns: `false` when the key turned out to be present already.
    func append(record: UnsafeRawBufferPointer, header: RecordHeader) throws(StoreError) -> Bool {
        try state.withLock { (state) throws(StoreError) -> Bool in
            guard !state.closed else { throw .closed }
            if state.touch(header.key) { return false }
            try append(record: record, header: header, state: &state)
            state.logNew(header.key)
            return true
        }
    }

    /// Appends encoded records (header bytes and payload apart, so a large payload is written from its own buffer
    /// without being copied) in one lock round: those already present are skipped; small records are gathered into
    /// one write, large ones written directly, and the segment is sealed when the next record would not fit.
    /// - Returns: how many were appended.
    func append(records: [(header: RecordHeader, head: [UInt8], payload: [UInt8])]) throws(StoreError) -> Int {
        try state.withLock { (state) throws(StoreError) -> Int in
            guard !state.closed else { throw .closed }
            var appended = 0
            var run: [UInt8] = []
            var runHeaders: [RecordHeader] = []
            func place(_ header: RecordHeader, _ state: inout State) {
                let location = RecordLocation(
                    segment: state.active.number, offset: state.activeEnd, codec: header.codec,
                    rawLength: header.rawLength, storedLength: header.storedLength)
                state.activeEnd += location.recordSize(kind: header.key.kind)
                state.insert(header.key, at: location)
                state.logNew(header.key)
            }
            func writeRun(_ state: inout State) throws(StoreError) {
                guard !run.isEmpty else { return }
                try state.active.file.write(run, at: state.activeEnd)
                for header in runHeaders { place(header, &state) }
                run.removeAll(keepingCapacity: true)
                runHeaders.removeAll(keepingCapacity: true)
            }
            var queued = Set<RecordKey>()
            for (header, head, payload) in records {
                if state.touch(header.key) || !queued.insert(header.key).inserted { continue }
                let size = head.count + payload.count
                if state.activeEnd + Int64(run.count + size) > configuration.segmentSize,
                    state.activeEnd + Int64(run.count) > Segment.headerSize
                {
                    try writeRun(&state)
                    if state.activeEnd > Segment.headerSize { try seal(&state) }
                }
                appended += 1
                if payload.count < 16 << 10 {
                    run += head
                    run += payload
                    runHeaders.append(header)
                    continue
                }
                try writeRun(&state)
                try state.active.file.write(head, at: state.activeEnd)
                try state.active.file.write(payload, at: state.activeEnd + Int64(head.count))
                place(header, &state)
            }
            try writeRun(&state)
            return appended
        }
    }

    /// Appends under the lock (callers hold it).
    func append(record: UnsafeRawBufferPointer, header: RecordHeader, state: inout State) throws(StoreError) {
        if state.activeEnd + Int64(record.count) > configuration.segmentSize, state.activeEnd > Segment.headerSize {
            try seal(&state)
        }
        try state.active.file.write(record, at: state.activeEnd)
        let location = RecordLocation(
            segment: state.active.number, offset: state.activeEnd, codec: header.codec,
            rawLength: header.rawLength, storedLength: header.storedLength)
        state.activeEnd += Int64(record.count)
        state.insert(header.key, at: location)
    }

    /// Seals the active segment (its index file lists exactly its live records) and starts a new one.
    func seal(_ state: inout State) throws(StoreError) {
        let sealed = state.active
        try sealed.file.sync()
        let live = state.activeKeys.compactMap { key -> (key: RecordKey, location: RecordLocation)? in
            guard let entry = state.entries[key], entry.location.segment == sealed.number else { return nil }
            return (key, entry.location)
        }
        try SegmentIndex.write(live, segment: sealed.number, directory: segmentsDirectory)
        let next = try Segment.create(number: sealed.number + 1, directory: segmentsDirectory)
        state.segmentEnds[sealed.number] = state.activeEnd
        state.segments[next.number] = next
        state.active = next
        state.activeEnd = Segment.headerSize
        state.activeKeys = []
        state.activeHasRemovals = false
    }

    // MARK: Reading

    /// Whether a record is present.
    package func contains(_ key: RecordKey) -> Bool {
        state.withLock { $0.entries[key] != nil }
    }

    /// The keys among `keys` that the store does not hold, in their given order.
    package func missing(_ keys: [RecordKey]) -> [RecordKey] {
        state.withLock { state in keys.filter { state.entries[$0] == nil } }
    }

    /// The uncompressed length of a record, without reading it.
    package func rawLength(of key: RecordKey) -> Int? {
        state.withLock { state in state.entries[key].map { Int($0.location.rawLength) } }
    }

    /// Reads a record's bytes, verifying its checksum.
    /// - Throws: ``StoreError/notFound(_:)``, or ``StoreError/corruptRecord(_:reason:)`` (never corrupt bytes).
    package func get(_ key: RecordKey) throws(StoreError) -> [UInt8] {
        let (location, segment) = try locate(key)
        return try readRecord(key, at: location, in: segment)
    }

    /// Finds a record for reading: counts a hit or a miss and marks it used.
    func locate(_ key: RecordKey) throws(StoreError) -> (RecordLocation, Segment) {
        try state.withLock { (state) throws(StoreError) -> (RecordLocation, Segment) in
            guard !state.closed else { throw .closed }
            guard let entry = state.entries[key], let segment = state.segments[entry.location.segment] else {
                state.misses += 1
                throw .notFound(key)
            }
            state.hits += 1
            _ = state.touch(key)
            return (entry.location, segment)
        }
    }

    /// Reads a chunk.
    package func chunk(_ id: ChunkID) throws(StoreError) -> [UInt8] { try get(RecordKey(chunk: id)) }

    /// Reads and verifies one record at a known location.
    func readRecord(_ key: RecordKey, at location: RecordLocation, in segment: Segment) throws(StoreError) -> [UInt8] {
        let size = Int(location.recordSize(kind: key.kind))
        return try Zstd.withScratch(capacity: size) { (scratch) throws(StoreError) -> [UInt8] in
            try segment.file.read(into: scratch, at: location.offset)
            let payload = try verifiedPayload(key, location: location, record: UnsafeRawBufferPointer(scratch))
            return try Self.decode(payload, codec: location.codec, rawLength: Int(location.rawLength), key: key)
        }
    }

    /// The uncompressed bytes of a payload.
    /// - Throws: ``StoreError/corruptRecord(_:reason:)`` when they do not decompress to `rawLength` bytes.
    static func decode(
        _ payload: UnsafeRawBufferPointer, codec: Codec, rawLength: Int, key: RecordKey
    ) throws(StoreError) -> [UInt8] {
        switch codec {
        case .raw:
            guard payload.count == rawLength else {
                throw .corruptRecord(key, reason: "raw record of \(payload.count) bytes claims \(rawLength)")
            }
            return Array(payload)
        case .zstd:
            var failure: StoreError?
            let bytes = [UInt8](unsafeUninitializedCapacity: rawLength) { buffer, initialized in
                do throws(StoreError) {
                    try Zstd.decompress(payload, into: UnsafeMutableRawBufferPointer(buffer))
                    initialized = rawLength
                } catch {
                    failure = error
                    initialized = 0
                }
            }
            if let failure { throw .corruptRecord(key, reason: "\(failure)") }
            return bytes
        }
    }

    /// Checks a whole record's header against the index and its payload checksum; returns the payload.
    func verifiedPayload(
        _ key: RecordKey,
        location: RecordLocation,
        record: UnsafeRawBufferPointer
    ) throws(StoreError) -> UnsafeRawBufferPointer {
        let header: RecordHeader
        do {
            header = try RecordHeader(decoding: record)
        } catch {
            throw .corruptRecord(key, reason: "unreadable header at segment \(location.segment) offset \(location.offset)")
        }
        guard header.key == key, header.codec == location.codec, header.rawLength == location.rawLength,
            header.storedLength == location.storedLength
        else {
            throw .corruptRecord(key, reason: "header does not match the index at segment \(location.segment)")
        }
        let payload = UnsafeRawBufferPointer(rebasing: record[header.size..<header.recordSize])
        guard PayloadChecksum.of(payload) == header.payloadChecksum else {
            throw .corruptRecord(key, reason: "payload checksum mismatch in segment \(location.segment)")
        }
        return payload
    }

    // MARK: Pins, removal, durability

    /// Pins records (present or not yet stored): eviction never removes them; pins survive restarts.
    package func pin(_ keys: some Sequence<RecordKey>) throws(StoreError) {
        try setPinned(keys, pinned: true)
    }

    /// Removes pins; the records become evictable.
    package func unpin(_ keys: some Sequence<RecordKey>) throws(StoreError) {
        try setPinned(keys, pinned: false)
        if configuration.maxUnpinnedBytes != nil { try evictIfNeeded() }
    }

    /// Whether a key is pinned.
    package func isPinned(_ key: RecordKey) -> Bool {
        state.withLock { $0.pinLog.pins.contains(key) }
    }

    private func setPinned(_ keys: some Sequence<RecordKey>, pinned: Bool) throws(StoreError) {
        try state.withLock { (state) throws(StoreError) in
            guard !state.closed else { throw .closed }
            let changed = try state.pinLog.set(keys, pinned: pinned)
            for key in changed {
                guard let entry = state.entries[key] else { continue }
                let size = entry.location.recordSize(kind: key.kind)
                state.pinnedBytes += pinned ? size : -size
                state.pinnedRecords += pinned ? 1 : -1
            }
        }
    }

    /// Removes records. Space is reclaimed by compaction; the removal is durable after the next ``sync()``.
    /// - Returns: the number of records that were present.
    @discardableResult
    package func remove(_ keys: some Sequence<RecordKey>) throws(StoreError) -> Int {
        try state.withLock { (state) throws(StoreError) -> Int in
            guard !state.closed else { throw .closed }
            return keys.reduce(0) { count, key in count + (state.remove(key) == nil ? 0 : 1) }
        }
    }

    // Garbage collection's view of use. Every put (new or already present), read and `touch` stamps a record with
    // the next value of one in-memory clock; a reopened store stamps its records in segment order as it loads them.
    // A caller that is about to reference a record it did not write touches it first, so a collector that removes
    // only records unused since its previous run (``remove(_:unusedSince:)``, under the same lock as the stamps)
    // never takes a record from under a writer.

    /// The current value of the use clock.
    package var useClock: UInt64 { state.withLock { $0.clock } }

    /// Marks records as used now (before referencing records found present, so garbage collection keeps them).
    /// - Returns: the keys among `keys` that are present.
    package func touch(_ keys: some Sequence<RecordKey>) -> Set<RecordKey> {
        state.withLock { state in Set(keys.filter { state.touch($0) }) }
    }

    /// The key of every record in the store.
    package func allKeys() -> [RecordKey] {
        state.withLock { state in Array(state.entries.keys) }
    }

    /// The keys of records not used since the use clock read `clock`.
    package func keys(unusedSince clock: UInt64) -> [RecordKey] {
        state.withLock { state in state.entries.compactMap { $0.value.lastAccess <= clock ? $0.key : nil } }
    }

    /// Removes those of `keys` that were not used since the use clock read `clock` (garbage collection); a record
    /// touched since stays.
    /// - Returns: the records removed and their stored bytes.
    package func remove(
        _ keys: some Sequence<RecordKey>, unusedSince clock: UInt64
    ) throws(StoreError) -> (records: Int, bytes: Int64) {
        try state.withLock { (state) throws(StoreError) -> (records: Int, bytes: Int64) in
            guard !state.closed else { throw .closed }
            var removed = (records: 0, bytes: Int64(0))
            for key in keys where (state.entries[key]?.lastAccess).map({ $0 <= clock }) ?? false {
                guard let entry = state.remove(key) else { continue }
                removed.records += 1
                removed.bytes += entry.location.recordSize(kind: key.kind)
            }
            return removed
        }
    }

    /// Makes every earlier `put`, pin and removal durable (group commit: one call covers all writers).
    package func sync() throws(StoreError) {
        let (active, pinFile) = try state.withLock { (state) throws(StoreError) -> (Segment, StoreFile) in
            guard !state.closed else { throw .closed }
            for number in state.dirtyIndexes.sorted() where state.segments[number] != nil {
                try SegmentIndex.write(state.liveEntries(of: number), segment: number, directory: segmentsDirectory)
            }
            state.dirtyIndexes = []
            if state.activeHasRemovals { try seal(&state) }
            try state.pinLog.flush()
            return (state.active, state.pinLog.file)
        }
        try active.file.sync()
        try pinFile.sync()
    }

    /// The store's size and counters.
    package func stats() -> StoreStats {
        state.withLock { state in
            let bound = configuration.maxUnpinnedBytes
            var disk: Int64 = 0
            for number in state.segments.keys {
                disk += number == state.active.number ? state.activeEnd : state.segmentEnds[number] ?? 0
            }
            return StoreStats(
                records: state.entries.count, bytes: state.liveBytes, rawBytes: state.rawBytes,
                pinnedRecords: state.pinnedRecords, pinnedBytes: state.pinnedBytes,
                unpinnedBytes: state.liveBytes - state.pinnedBytes, segments: state.segments.count, diskBytes: disk,
                hits: state.hits, misses: state.misses, evictions: state.evictions, evictedBytes: state.evictedBytes,
                maxUnpinnedBytes: bound, pinsExceedBound: bound.map { state.pinnedBytes > $0 } ?? false)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
