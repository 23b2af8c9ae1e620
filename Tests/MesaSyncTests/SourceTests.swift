import Foundation
import MesaCore
@testable import MesaStore
@testable import MesaSync
import MesaTesting
import MesaTree
import Testing

@Suite struct LRUCacheTests {
    @Test func evictsTheLeastRecentlyUsedByCost() {
        var cache = LRUCache<Int, String>(capacity: 10)
        cache.insert("a", for: 1, cost: 4)
        cache.insert("b", for: 2, cost: 4)
        #expect(cache.value(for: 1) == "a")
        cache.insert("c", for: 3, cost: 4)
        #expect(cache.contains(1))
        #expect(!cache.contains(2))
        #expect(cache.totalCost == 8)
        cache.insert("huge", for: 4, cost: 11)
        #expect(!cache.contains(4))
        cache.remove(1)
        cache.remove(3)
        #expect(cache.count == 0 && cache.totalCost == 0)
    }
}

@Suite struct ReadAheadWindowTests {
    @Test func rampsForSequentialReadsAndResetsOnASeek() {
        var window = ReadAheadWindow()
        var offset: Int64 = 0
        var sizes: [Int64] = []
        for _ in 0..<11 {
            sizes.append(window.record(offset..<(offset + (128 << 10))))
            offset += 128 << 10
        }
        let kib: Int64 = 1024
        let expected: [Int64] = [128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 32768, 32768].map { $0 * kib }
        #expect(sizes == expected)
        let far: Int64 = 500 << 20
        let seek = window.record(far..<(far + 4096))
        #expect(seek == 0)
        let next = window.record((far + 4096)..<(far + 8192))
        #expect(next == 128 * kib)
    }

    @Test func rereadsKeepTheWindowWithoutRampingIt() {
        // Concurrent readers of one inode share its window: the same range read four times is one step, not four.
        var window = ReadAheadWindow()
        let range: Range<Int64> = (400 << 10)..<(404 << 10)
        let sizes = (0..<4).map { _ in window.record(range) }
        #expect(sizes == Array(repeating: 128 << 10, count: 4))
        #expect(window.record((404 << 10)..<(408 << 10)) == 256 << 10)
    }

    @Test func toleratesReadsArrivingSlightlyOutOfOrder() {
        var window = ReadAheadWindow()
        _ = window.record(0..<(1 << 20))
        _ = window.record((2 << 20)..<(3 << 20))
        #expect(window.record((1 << 20)..<(2 << 20)) > 0)
    }
}

@Suite struct StoreObjectSourceTests {
    static let content: [UInt8] = {
        var generator = SeededBytes(seed: 11)
        return generator.bytes(4 << 20)
    }()

    /// A remote source over a fixture holding `big.bin`, with an empty cache.
    struct Remote {
        let fixture: FixtureRepository
        let fetcher: FakeRemoteFetcher
        let source: StoreObjectSource
        let directory: TemporaryDirectory
        let blob: ObjectID

        init(configuration: SourceConfiguration = .default) throws {
            fixture = try FixtureRepository(
                FixtureTree(["big.bin": .file(StoreObjectSourceTests.content), "dir/sub/x.txt": .text("x")]))
            fetcher = FakeRemoteFetcher(server: fixture.repository)
            directory = try TemporaryDirectory(prefix: "mesa-cache")
            let cache = try ContentStore(
                path: directory.appending("store"), configuration: .cache(maxUnpinnedBytes: 1 << 30))
            source = StoreObjectSource(store: cache, backing: .remote(fetcher), configuration: configuration)
            let root = try fixture.resolution().rootTree
            blob = try fixture.repository.entry(at: "big.bin", in: root).id
        }
    }

    @Test func aRangeReadFetchesOnlyTheChunksThatCoverIt() async throws {
        let remote = try Remote()
        let manifest = try remote.fixture.repository.manifest(ofBlob: remote.blob)
        #expect(manifest.chunks.count > 20)
        let range: Range<Int64> = 1_000_000..<1_100_000
        let data = try await remote.source.read(remote.blob, range: range, readAhead: 0)
        #expect(data.joined == Array(Self.content[1_000_000..<1_100_000]))
        let covering = manifest.chunkIndices(covering: range).map { manifest.chunks[$0].id }
        #expect(remote.fetcher.snapshot.chunks == covering)
        // Reading it again costs nothing.
        _ = try await remote.source.read(remote.blob, range: range, readAhead: 0)
        #expect(remote.fetcher.snapshot.chunks.count == covering.count)
    }

    /// A cache record damaged on disk while the mount runs (a flipped byte) is never served and never an error:
    /// the read drops it, fetches the chunk again and the cache holds a good copy after. (A store that opens finds
    /// such records by its scan and leaves them out; this is the damage it cannot see.)
    @Test func aCorruptCachedChunkIsDroppedAndFetchedAgain() async throws {
        let fixture = try FixtureRepository(FixtureTree(["big.bin": .file(Self.content)]))
        let blob = try fixture.repository.entry(at: "big.bin", in: try fixture.resolution().rootTree).id
        let first = try fixture.repository.manifest(ofBlob: blob).chunks[0]
        let expected = Array(Self.content[0..<Int(first.length)])
        let directory = try TemporaryDirectory(prefix: "mesa-cache")
        let path = directory.appending("store")
        let cache = try ContentStore(path: path, configuration: .cache(maxUnpinnedBytes: 1 << 30))
        #expect(try expected.withUnsafeBytes { (raw) throws(StoreError) in try cache.putChunk(raw) } == first.id)
        try cache.sync()
        // Damaged under the open store (a reopen would find it by scanning and leave it out).
        let segment = try #require(
            try FileManager.default.contentsOfDirectory(atPath: path + "/segments").first { $0.hasSuffix(".seg") })
        let file = try StoreFile(path: path + "/segments/" + segment)
        let offset = Segment.headerSize + Int64(RecordHeader.fixedSize + 32 + 100)
        var byte = try file.read(count: 1, at: offset)
        byte[0] ^= 0xff
        try file.write(byte, at: offset)

        let fetcher = FakeRemoteFetcher(server: fixture.repository)
        let source = StoreObjectSource(store: cache, backing: .remote(fetcher))
        let read = try await source.read(blob, range: 0..<Int64(first.length), readAhead: 0).joined
        #expect(read == expected)
        #expect(fetcher.snapshot.chunks == [first.id])
        #expect(try cache.chunk(first.id) == expected)
    }

    @Test func concurrentReadersOfAChunkShareOneFetch() async throws {
        let remote = try Remote()
        _ = try await remote.source.manifest(ofBlob: remote.blob)
        remote.fetcher.delay(.records, by: .milliseconds(300))
        let source = remote.source
        let blob = remote.blob
        try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<8 {
                group.addTask { try await source.read(blob, range: 10..<20, readAhead: 0).joined }
            }
            for try await bytes in group { #expect(bytes == Array(Self.content[10..<20])) }
        }
        #expect(remote.fetcher.snapshot.chunkCount == 1)
        #expect(remote.fetcher.snapshot.calls[.records] == 2)
        #expect(source.statistics().chunkSharedWaits == 7)
    }

    @Test func aFailingFetchFailsEveryWaiterAtOnce() async throws {
        let remote = try Remote()
        _ = try await remote.source.manifest(ofBlob: remote.blob)
        remote.fetcher.fail([.records])
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: SyncError.remote(operation: "records", message: "injected failure")) {
            _ = try await remote.source.read(remote.blob, range: 0..<10, readAhead: 0)
        }
        // No retry loop, no hang: the injected failure comes straight back (the bound is generous because the
        // whole suite shares two cores).
        #expect(clock.now - start < .seconds(30))
    }

    @Test func aCancelledReaderStopsWaitingWhileOthersGetTheChunk() async throws {
        let remote = try Remote()
        _ = try await remote.source.manifest(ofBlob: remote.blob)
        remote.fetcher.delay(.records, by: .milliseconds(800))
        let source = remote.source
        let blob = remote.blob
        let patient = Task { try await source.read(blob, range: 0..<10, readAhead: 0).joined }
        let impatient = Task { try await source.read(blob, range: 0..<10, readAhead: 0).joined }
        try await Task.sleep(for: .milliseconds(100))
        impatient.cancel()
        await #expect(throws: SyncError.cancelled) { _ = try await impatient.value }
        #expect(try await patient.value == Array(Self.content[0..<10]))
    }

    @Test func aTreeMissBringsTheTreesBelowInOneRequest() async throws {
        let remote = try Remote()
        let root = try await remote.source.resolve(.defaultBookmark).rootTree
        let tree = try await remote.source.tree(root)
        let dir = try #require(tree.entry(named: FileName("dir")))
        let sub = try #require(try await remote.source.tree(dir.id).entry(named: FileName("sub")))
        _ = try await remote.source.tree(sub.id)
        #expect(remote.fetcher.snapshot.calls[.trees] == 1)
        #expect(remote.fetcher.snapshot.records[.tree] == 3)
        #expect(remote.source.cachedTree(sub.id) != nil)
    }

    @Test func readAheadLoadsTheFollowingChunks() async throws {
        let remote = try Remote()
        let manifest = try remote.fixture.repository.manifest(ofBlob: remote.blob)
        _ = try await remote.source.read(remote.blob, range: 0..<4096, readAhead: 1 << 20)
        let expected = manifest.chunkIndices(covering: 0..<(4096 + (1 << 20))).count
        for _ in 0..<100 where remote.fetcher.snapshot.chunkCount < expected {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(remote.fetcher.snapshot.chunkCount == expected)
        let before = remote.source.statistics().chunkMemoryHits
        _ = try await remote.source.read(remote.blob, range: 500_000..<600_000, readAhead: 0)
        #expect(remote.source.statistics().chunkMemoryHits > before)
        #expect(remote.fetcher.snapshot.chunkCount == expected)
    }

    @Test func aLocalSourceResolvesThroughTheCatalog() async throws {
        let fixture = try FixtureRepository(FixtureTree(["a": .text("a")]), time: 42)
        let source = fixture.localSource()
        let resolution = try await source.resolve(.defaultBookmark)
        #expect(resolution.commitTime == 42)
        #expect(resolution.change == fixture.change)
        let main = Revision(.bookmark("main"))
        let byName = try await source.resolve(main)
        #expect(byName.rootTree == resolution.rootTree)
        let missing = Revision(.bookmark("nope"))
        await #expect(throws: SyncError.revisionNotFound(missing)) {
            _ = try await source.resolve(missing)
        }
        #expect(Revision(parsing: "bookmark:main") == main)
        #expect(Revision(parsing: "change-id:\(fixture.change)")?.description == "change-id:\(fixture.change)")
    }

    /// A tree holding a name the kernel must never see is refused as corrupt (EIO at the mount), whatever sent it.
    @Test(arguments: ["..", ".", ".GIT", "a\nb", "back\\slash"])
    func treesWithNamesTheKernelMustNotSeeAreRefused(name: String) async throws {
        let fixture = try FixtureRepository(FixtureTree(["a": .text("a")]))
        let source = fixture.localSource()
        let blob = try fixture.repository.entry(at: "a", in: try fixture.resolution().rootTree).id
        let body = Array("100644 \(name)".utf8) + [0] + blob.bytes
        let id = TreeCodec.objectID(kind: "tree", body: body)
        try fixture.repository.store.put(body, key: RecordKey(.tree, object: id))
        do {
            _ = try await source.tree(id)
            Issue.record("a tree holding '\(name)' was accepted")
        } catch {
            guard case .corruptObject(let key, _) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(key == RecordKey(.tree, object: id))
        }
    }
}
