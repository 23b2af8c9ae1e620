import Crypto
import Foundation
import MesaCore
import MesaTesting
import Synchronization
import Testing

@testable import MesaStore

/// Small segments make sealing, compaction and eviction happen with little data.
private func smallSegments(_ size: Int64 = 1 << 20) -> StoreConfiguration {
    var configuration = StoreConfiguration.default
    configuration.segmentSize = size
    return configuration
}

private func segmentFiles(_ store: String, suffix: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: store + "/segments").filter { $0.hasSuffix(suffix) }.sorted()
}

@Suite struct ContentStoreTests {
    @Test(arguments: [0, 1, (16 << 10) - 1, 16 << 10, (16 << 10) + 1, (256 << 10) - 1, 256 << 10, (256 << 10) + 1, 5 << 20])
    func ingestRoundTrips(size: Int) throws {
        let directory = try TemporaryDirectory()
        let store = try ContentStore(path: directory.appending("store"))
        var random = SeededBytes(seed: UInt64(size))
        let bytes = size % 2 == 0 ? random.text(size) : random.bytes(size)
        let manifest = try store.ingest(bytes: bytes)
        #expect(manifest.size == Int64(size))
        #expect(try store.read(manifest) == bytes)
        // And after a reopen, from the segment files alone.
        try store.close()
        let reopened = try ContentStore(path: directory.appending("store"))
        #expect(try reopened.read(manifest) == bytes)
    }

    @Test func fileIngestWithTwoThreadsMatchesOneThread() throws {
        let directory = try TemporaryDirectory()
        var random = SeededBytes(seed: 11)
        let bytes = random.text(9 << 20)
        let path = directory.appending("file")
        try StoreFile(path: path, create: true).write(bytes, at: 0)
        let one = try ContentStore(path: directory.appending("one"))
        let two = try ContentStore(path: directory.appending("two"))
        let first = try one.ingestBlob(fileAt: path, threads: 1)
        let second = try two.ingestBlob(fileAt: path, threads: 2)
        #expect(first.manifest == second.manifest)
        #expect(first.blobID == second.blobID)
        #expect(try two.read(two.manifest(forBlob: second.blobID)) == bytes)
    }

    @Test func sameContentIsStoredOnce() throws {
        let directory = try TemporaryDirectory()
        let store = try ContentStore(path: directory.appending("store"))
        var random = SeededBytes(seed: 2)
        let bytes = random.bytes(3 << 20)
        let first = try store.ingest(bytes: bytes)
        let afterFirst = store.stats()
        let second = try store.ingest(bytes: bytes)
        let afterSecond = store.stats()
        #expect(first == second)
        #expect(afterSecond.records == afterFirst.records)
        #expect(afterSecond.diskBytes == afterFirst.diskBytes)
        #expect(try store.put(bytes, key: RecordKey(chunk: first.chunks[0].id)) == false)
    }

    @Test func compressibleContentIsCompressedAndRandomContentStoredRaw() throws {
        let directory = try TemporaryDirectory()
        let store = try ContentStore(path: directory.appending("store"))
        var random = SeededBytes(seed: 4)
        _ = try store.ingest(bytes: random.text(2 << 20))
        let text = store.stats()
        #expect(text.bytes * 2 < text.rawBytes)
        let randomStore = try ContentStore(path: directory.appending("random"))
        let manifest = try randomStore.ingest(bytes: random.bytes(2 << 20))
        let location = randomStore.state.withLock { $0.entries[RecordKey(chunk: manifest.chunks[0].id)]?.location }
        #expect(location?.codec == .raw)
    }

    @Test func rangeReadsTouchOnlyTheCoveringChunks() throws {
        let directory = try TemporaryDirectory()
        let store = try ContentStore(path: directory.appending("store"))
        var random = SeededBytes(seed: 6)
        let bytes = random.bytes(8 << 20)
        let manifest = try store.ingest(bytes: bytes)
        let chunk5 = manifest.offset(ofChunk: 5)
        let cases: [Range<Int64>] = [
            0..<1, chunk5..<chunk5 + 1, chunk5 - 1..<chunk5 + 1, 1000..<3_000_000, Int64(bytes.count) - 10..<Int64(bytes.count),
        ]
        for range in cases {
            let before = store.stats().hits
            let read = try store.read(manifest, range: range)
            #expect(read == Array(bytes[Int(range.lowerBound)..<Int(range.upperBound)]))
            #expect(store.stats().hits - before == Int64(manifest.chunkIndices(covering: range).count))
        }
        #expect(manifest.chunkIndices(covering: chunk5 - 1..<chunk5 + 1) == 4..<6)
        #expect(throws: StoreError.self) { try store.read(manifest, range: 0..<Int64(bytes.count) + 1) }
    }

    @Test func aFlippedByteIsDetectedAndNamedByFsck() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("store")
        var random = SeededBytes(seed: 7)
        let first = random.bytes(100_000)
        let second = random.bytes(100_000)
        let (victim, survivor): (ChunkID, ChunkID)
        do {
            let store = try ContentStore(path: path)
            victim = try store.putChunk(first)
            survivor = try store.putChunk(second)
            try store.close()
        }
        // Flip one byte in the middle of the first record's payload.
        let segment = try StoreFile(path: path + "/segments/" + (try segmentFiles(path, suffix: ".seg"))[0])
        let offset = Segment.headerSize + Int64(RecordHeader.fixedSize + 32 + 50_000)
        var byte = try segment.read(count: 1, at: offset)
        byte[0] ^= 0xff
        try segment.write(byte, at: offset)

        let store = try ContentStore(path: path)
        #expect(throws: StoreError.corruptRecord(RecordKey(chunk: victim), reason: "payload checksum mismatch in segment 1")) {
            try store.chunk(victim)
        }
        #expect(try store.chunk(survivor) == second)
        let report = store.verify()
        #expect(report.checked == 2)
        #expect(report.corrupt.map(\.key) == [RecordKey(chunk: victim)])

        // The CLI names it too and exits non-zero.
        try store.close()
        let result = try MesaBinary.run(["debug", "store", "fsck", "--store", path])
        #expect(result.status == 1)
        #expect(result.standardOutput.contains("corrupt\tchunk:\(victim.hex)"))
    }

    @Test func aTruncatedSegmentReopensWithEveryCompleteRecord() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("store")
        var random = SeededBytes(seed: 8)
        let contents = (0..<10).map { _ in random.bytes(30_000) }
        var ids: [ChunkID] = []
        do {
            let store = try ContentStore(path: path)
            ids = try contents.map { bytes throws(StoreError) in try store.putChunk(bytes) }
            try store.close()
        }
        let segmentPath = path + "/segments/" + (try segmentFiles(path, suffix: ".seg"))[0]
        let file = try StoreFile(path: segmentPath)
        let size = try file.size()
        // Cut the last record in half, as a crash during its append would.
        try file.truncate(to: size - 15_000)

        let store = try ContentStore(path: path)
        for (id, bytes) in zip(ids.dropLast(), contents.dropLast()) { #expect(try store.chunk(id) == bytes) }
        #expect(throws: StoreError.notFound(RecordKey(chunk: ids[9]))) { try store.chunk(ids[9]) }
        #expect(store.stats().records == 9)
        // The torn tail was cut off, so new appends follow the last complete record and survive a reopen.
        let again = try store.putChunk(contents[9])
        try store.close()
        #expect(try ContentStore(path: path).chunk(again) == contents[9])
    }

    @Test func garbageAppendedAfterTheLastRecordIsDropped() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("store")
        let id: ChunkID
        do {
            let store = try ContentStore(path: path)
            id = try store.putChunk(Array("hello".utf8))
            try store.close()
        }
        let file = try StoreFile(path: path + "/segments/" + (try segmentFiles(path, suffix: ".seg"))[0])
        let size = try file.size()
        // A crash can leave zero-filled space after the last record.
        try file.write([UInt8](repeating: 0, count: 4096), at: size)
        let store = try ContentStore(path: path)
        #expect(try store.chunk(id) == Array("hello".utf8))
        #expect(try file.size() == size)
    }

    @Test func sealedSegmentsReopenFromTheirIndexAndARebuiltIndex() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("store")
        var random = SeededBytes(seed: 9)
        var written: [(ChunkID, [UInt8])] = []
        do {
            let store = try ContentStore(path: path, configuration: smallSegments())
            for _ in 0..<40 {
                let bytes = random.bytes(100_000)
                written.append((try store.putChunk(bytes), bytes))
            }
            try store.close()
        }
        let indexes = try segmentFiles(path, suffix: ".idx")
        #expect(indexes.count >= 3)
        #expect(try segmentFiles(path, suffix: ".seg").count == indexes.count + 1)
        // Delete one index: the segment is rescanned and its index rewritten.
        try FileManager.default.removeItem(atPath: path + "/segments/" + indexes[1])
        let store = try ContentStore(path: path, configuration: smallSegments())
        for (id, bytes) in written { #expect(try store.chunk(id) == bytes) }
        #expect(try segmentFiles(path, suffix: ".idx") == indexes)
    }

    @Test func aSecondOpenerOfALockedStoreGetsAClearError() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("store")
        let store = try ContentStore(path: path)
        #expect(throws: StoreError.locked(path: path)) { try ContentStore(path: path) }
        // Another process is refused as well, with a message that says what to do.
        let result = try MesaBinary.run(["debug", "store", "stats", "--store", path])
        #expect(result.status != 0)
        #expect(result.standardError.contains("in use by another process"))
        try store.close()
        #expect(try MesaBinary.run(["debug", "store", "stats", "--store", path]).status == 0)
    }

    @Test func concurrentPutsAndGetsFromSeveralThreads() throws {
        let directory = try TemporaryDirectory()
        let store = try ContentStore(path: directory.appending("store"), configuration: smallSegments())
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            var random = SeededBytes(seed: UInt64(thread % 4))  // threads 0-3 and 4-7 write the same content
            for round in 0..<60 {
                let bytes = random.bytes(1000 + round * 500)
                do {
                    let id = try store.putChunk(bytes)
                    if try store.chunk(id) != bytes { failures.withLock { $0.append("mismatch \(thread)/\(round)") } }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty)
        #expect(store.stats().records == 4 * 60)
        #expect(store.verify().corrupt.isEmpty)
    }

    @Test func removalIsDurableAfterSyncAndCompactionKeepsLiveRecords() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("store")
        var random = SeededBytes(seed: 10)
        var kept: [(ChunkID, [UInt8])] = []
        var removed: [ChunkID] = []
        do {
            let store = try ContentStore(path: path, configuration: smallSegments())
            for index in 0..<60 {
                let bytes = random.bytes(60_000)
                let id = try store.putChunk(bytes)
                if index % 3 == 0 { kept.append((id, bytes)) } else { removed.append(id) }
            }
            #expect(try store.remove(removed.map { RecordKey(chunk: $0) }) == removed.count)
            try store.sync()
            let before = store.stats().diskBytes
            let reclaimed = try store.compact(minimumDeadFraction: 0)
            #expect(reclaimed > 0)
            #expect(store.stats().diskBytes < before)
            for (id, bytes) in kept { #expect(try store.chunk(id) == bytes) }
            try store.close()
        }
        let store = try ContentStore(path: path, configuration: smallSegments())
        for (id, bytes) in kept { #expect(try store.chunk(id) == bytes) }
        for id in removed { #expect(!store.contains(RecordKey(chunk: id))) }
        #expect(store.stats().records == kept.count)
        #expect(store.verify().corrupt.isEmpty)
    }

    @Test func removalWithoutCompactionIsDurableAfterSync() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("store")
        let (a, b): (ChunkID, ChunkID)
        do {
            let store = try ContentStore(path: path)
            a = try store.putChunk(Array("a".utf8))
            b = try store.putChunk(Array("b".utf8))
            try store.remove([RecordKey(chunk: a)])
            try store.close()
        }
        let store = try ContentStore(path: path)
        #expect(!store.contains(RecordKey(chunk: a)))
        #expect(try store.chunk(b) == Array("b".utf8))
    }
}

@Suite struct CacheModeTests {
    private func cache(_ bound: Int64) -> StoreConfiguration {
        var configuration = StoreConfiguration.cache(maxUnpinnedBytes: bound)
        configuration.segmentSize = 256 << 10
        return configuration
    }

    @Test func evictionKeepsTheBoundAndNeverEvictsAPin() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("cache")
        let bound: Int64 = 1 << 20
        var random = SeededBytes(seed: 12)
        let pinnedBytes = (0..<4).map { _ in random.bytes(50_000) }
        var pinned: [ChunkID] = []
        var recent: [(ChunkID, [UInt8])] = []
        do {
            let store = try ContentStore(path: path, configuration: cache(bound))
            for bytes in pinnedBytes {
                let id = try store.putChunk(bytes)
                try store.pin([RecordKey(chunk: id)])
                pinned.append(id)
            }
            for index in 0..<200 {
                let bytes = random.bytes(20_000)
                let id = try store.putChunk(bytes)
                if index >= 190 { recent.append((id, bytes)) }
                let stats = store.stats()
                #expect(stats.unpinnedBytes <= bound)
                // Dead space is reclaimed as it goes: disk stays within twice the bound plus pins and a segment.
                #expect(stats.diskBytes <= 2 * bound + stats.pinnedBytes + (256 << 10) + 100_000)
            }
            let stats = store.stats()
            #expect(stats.evictions > 0)
            #expect(stats.pinnedRecords == 4)
            for (id, bytes) in zip(pinned, pinnedBytes) { #expect(try store.chunk(id) == bytes) }
            // The most recently written records are the ones kept.
            for (id, bytes) in recent { #expect(try store.chunk(id) == bytes) }
            try store.close()
        }
        // Pins survive a reopen and still block eviction.
        let store = try ContentStore(path: path, configuration: cache(bound))
        for id in pinned { #expect(store.isPinned(RecordKey(chunk: id))) }
        for _ in 0..<100 { try store.putChunk(random.bytes(20_000)) }
        for (id, bytes) in zip(pinned, pinnedBytes) { #expect(try store.chunk(id) == bytes) }
        #expect(store.stats().unpinnedBytes <= bound)
    }

    @Test func leastRecentlyUsedRecordsGoFirst() throws {
        let directory = try TemporaryDirectory()
        let store = try ContentStore(path: directory.appending("cache"), configuration: cache(1 << 20))
        var random = SeededBytes(seed: 13)
        let old = random.bytes(20_000)
        let oldID = try store.putChunk(old)
        let untouched = try store.putChunk(random.bytes(20_000))
        for _ in 0..<100 {
            try store.putChunk(random.bytes(20_000))
            _ = try store.chunk(oldID)  // keep it hot
        }
        #expect(try store.chunk(oldID) == old)
        #expect(!store.contains(RecordKey(chunk: untouched)))
    }

    @Test func unpinningMakesContentEvictableAndStatsSayWhenPinsExceedTheBound() throws {
        let directory = try TemporaryDirectory()
        let store = try ContentStore(path: directory.appending("cache"), configuration: cache(200_000))
        var random = SeededBytes(seed: 14)
        var keys: [RecordKey] = []
        for _ in 0..<12 {
            let key = RecordKey(chunk: try store.putChunk(random.bytes(25_000)))
            try store.pin([key])
            keys.append(key)
        }
        #expect(store.stats().pinsExceedBound)
        #expect(store.stats().records == 12)
        try store.unpin(keys)
        let stats = store.stats()
        #expect(!stats.pinsExceedBound)
        #expect(stats.unpinnedBytes <= 200_000)
        #expect(stats.records < 12)
    }

    @Test func aReopenOverTheBoundEvictsAtOnce() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("cache")
        var random = SeededBytes(seed: 15)
        do {
            let store = try ContentStore(path: path)
            for _ in 0..<50 { try store.putChunk(random.bytes(40_000)) }
            try store.close()
        }
        let store = try ContentStore(path: path, configuration: cache(500_000))
        #expect(store.stats().unpinnedBytes <= 500_000)
        #expect(store.verify().corrupt.isEmpty)
    }
}

@Suite struct BatchPutTests {
    /// 300 distinct 8 KiB chunks in their stored form, from a scratch store.
    static func storedChunks(seed: UInt64) throws -> (records: [StoredRecord], bytes: [RecordKey: [UInt8]]) {
        let directory = try TemporaryDirectory()
        let source = try ContentStore(path: directory.appending("source"))
        var random = SeededBytes(seed: seed)
        var records: [StoredRecord] = []
        var bytes: [RecordKey: [UInt8]] = [:]
        for index in 0..<300 {
            let chunk = index % 2 == 0 ? random.text(8 << 10) : random.bytes(8 << 10)
            let id = try source.putChunk(chunk)
            let key = RecordKey(chunk: id)
            bytes[key] = chunk
            let record = try source.stored(key)
            // Read from a verified record: its checksum comes along, so storing it elsewhere does not recompute it.
            #expect(record.checksum == CRC32C.checksum(record.stored))
            records.append(record)
        }
        return (records, bytes)
    }

    @Test func aBatchStoresEachRecordOnceAcrossSegmentsAndSurvivesAReopen() throws {
        let (records, bytes) = try Self.storedChunks(seed: 21)
        let directory = try TemporaryDirectory()
        let path = directory.appending("store")
        let store = try ContentStore(path: path, configuration: smallSegments(256 << 10))
        // Duplicates within the batch and records already present are stored once.
        #expect(try store.putStored(Array(records[0..<10])) == 10)
        #expect(try store.putStored(records + records[0..<50]) == 290)
        #expect(try store.putStored(records) == 0)
        #expect(try segmentFiles(path, suffix: ".seg").count > 1)
        for (key, expected) in bytes { #expect(try store.get(key) == expected) }
        try store.close()
        let reopened = try ContentStore(path: path, configuration: smallSegments(256 << 10))
        for (key, expected) in bytes { #expect(try reopened.get(key) == expected) }
        let report = reopened.verify()
        #expect(report.corrupt.isEmpty && report.checked == 300)
    }

    @Test func aCorruptRecordRefusesTheWholeVerifiedBatch() throws {
        var (records, _) = try Self.storedChunks(seed: 22)
        records[150].stored[records[150].stored.count / 2] ^= 0x01
        #expect(records[150].checksum == nil)
        let directory = try TemporaryDirectory()
        let store = try ContentStore(path: directory.appending("store"))
        #expect {
            try store.putVerified(records)
        } throws: { error in
            if case .corruptRecord(let key, _) = error as? StoreError { return key == records[150].key }
            return false
        }
        #expect(records.allSatisfy { !store.contains($0.key) })
        // Without the bad one, the rest goes in.
        records.remove(at: 150)
        #expect(try store.putVerified(records) == 299)
    }
}

@Suite struct PayloadChecksumTests {
    @Test func theStoreChecksumEqualsTheSoftwareCRC32C() {
        var random = SeededBytes(seed: 5)
        let bytes = random.bytes(1 << 20)
        #expect(PayloadChecksum.of(Array("123456789".utf8)) == 0xE306_9283)  // the standard check value
        for length in Array(0..<70) + [4095, 4096, 65_537, 1 << 20] {
            let slice = Array(bytes[0..<length])
            #expect(PayloadChecksum.of(slice) == CRC32C.checksum(slice), "length \(length)")
        }
        // Unaligned starts too.
        bytes.withUnsafeBytes { raw in
            for start in 1..<8 {
                let window = UnsafeRawBufferPointer(rebasing: raw[start..<(start + 1000)])
                #expect(PayloadChecksum.of(window) == CRC32C.checksum(window))
            }
        }
    }
}

@Suite struct WriteLogTests {
    /// What a logged piece of work newly stored is taken back, except what another writer used since (it may
    /// reference it) and what was there before (someone else's).
    @Test func takeBackRemovesOnlyWhatTheWorkAddedAndNoOneElseUsed() async throws {
        let directory = try TemporaryDirectory(prefix: "mesa-writelog")
        let store = try ContentStore(path: directory.appending("store"))
        let before = try store.putChunk(Array("already there".utf8))
        var log = NewRecords()
        let (mine, shared) = try store.logNewRecords(into: &log) { () throws(StoreError) -> (ChunkID, ChunkID) in
            _ = try store.putChunk(Array("already there".utf8))
            let mine = try store.putChunk(Array("only mine".utf8))
            let shared = try store.putChunk(Array("about to be shared".utf8))
            // The work's own reads keep its records its own.
            _ = try store.chunk(mine)
            return (mine, shared)
        }
        #expect(log.count == 2)
        // Another thread finds `shared` present and touches it before referencing it.
        let other = Task.detached { store.touch([RecordKey(chunk: shared)]) }
        #expect(await other.value == [RecordKey(chunk: shared)])
        let removed = store.takeBack(log)
        #expect(removed.records == 1)
        #expect(!store.contains(RecordKey(chunk: mine)))
        #expect(store.contains(RecordKey(chunk: shared)))
        #expect(store.contains(RecordKey(chunk: before)))
    }

    /// A failing piece of work still hands over its log.
    @Test func aFailingPieceOfWorkStillLogs() throws {
        let directory = try TemporaryDirectory(prefix: "mesa-writelog")
        let store = try ContentStore(path: directory.appending("store"))
        var log = NewRecords()
        #expect(throws: StoreError.self) {
            try store.logNewRecords(into: &log) { () throws(StoreError) -> Void in
                _ = try store.putChunk(Array("stored before the failure".utf8))
                throw StoreError.invalidArgument("failed")
            }
        }
        #expect(log.count == 1)
        #expect(store.takeBack(log).records == 1)
        #expect(store.stats().records == 0)
    }
}
