import MesaCore
import MesaFS
import MesaSync
import MesaTesting
import Testing

@Suite struct PrefetchTests {
    static let tree: FixtureTree = {
        var tree = FixtureTree()
        for index in 0..<6 { tree["src/small-\(index).txt"] = .text(String(repeating: "line \(index)\n", count: 20)) }
        var generator = SeededBytes(seed: 3)
        tree["src/large.bin"] = .file(generator.bytes(600 << 10))
        tree["src/deep/deeper/deepest/leaf.txt"] = .text("leaf\n")
        for index in 0..<8 { tree["walk/d\(index)/f.txt"] = .text("walk \(index)\n") }
        return tree
    }()

    static func harness(_ configure: (inout PrefetchConfiguration) -> Void) throws -> FSHarness {
        var prefetch = PrefetchConfiguration()
        configure(&prefetch)
        var source = SourceConfiguration()
        source.treeFetchDepth = 0
        return try FSHarness.remote(
            tree, configuration: FSHarness.configuration(prefetch: prefetch), sourceConfiguration: source)
    }

    @Test func readingADirectoryFetchesTheTreesBelowAndItsSmallFiles() async throws {
        let harness = try Self.harness { _ in }
        let fetcher = try #require(harness.fetcher)
        let src = try await harness.lookup("acme/demo/src").attributes.inode
        fetcher.resetCounts()
        _ = try await harness.list(src)
        await harness.fs.prefetcher.idle()
        let counts = fetcher.snapshot
        // One request for the listed tree itself (a miss), one for everything below it.
        #expect(counts.calls[.trees] == 2)
        #expect(counts.records[.tree] == 4)
        // The six small files come in one batch; the large one does not.
        let smallChunks = 6
        #expect(counts.chunkCount == smallChunks)
        #expect(await harness.fs.prefetcher.statistics.completed >= 2)

        // A walk to the leaf and reads of the small files now cost no request.
        fetcher.resetCounts()
        let leaf = try await harness.lookup("acme/demo/src/deep/deeper/deepest/leaf.txt").attributes.inode
        let small = try await harness.lookup("acme/demo/src/small-3.txt").attributes.inode
        #expect(try await harness.read(small).count == 140)
        #expect(fetcher.snapshot.calls[.trees] == nil)
        #expect(fetcher.snapshot.chunkCount == 0)
        #expect(try await harness.read(leaf) == Array("leaf\n".utf8))
    }

    @Test func aRecursiveWalkStreamsItsSubtreeOnce() async throws {
        let harness = try Self.harness { $0.walkDirectoryCount = 5 }
        let fetcher = try #require(harness.fetcher)
        let walk = try await harness.lookup("acme/demo/walk").attributes.inode
        _ = try await harness.list(walk)
        for index in 0..<8 {
            let directory = try await harness.fs.lookup(parent: walk, name: FileName("d\(index)")).attributes.inode
            _ = try await harness.list(directory)
        }
        await harness.fs.prefetcher.idle()
        #expect(fetcher.snapshot.calls[.subtree] == 1)
        #expect(await harness.fs.prefetcher.statistics.walksDetected == 1)
    }

    @Test func prefetchBacksOffUnderCachePressure() async throws {
        let harness = try Self.harness { $0.cachePressureLimit = 0 }
        let fetcher = try #require(harness.fetcher)
        let src = try await harness.lookup("acme/demo/src").attributes.inode
        fetcher.resetCounts()
        _ = try await harness.list(src)
        await harness.fs.prefetcher.idle()
        #expect(await harness.fs.prefetcher.statistics.skippedForPressure == 1)
        // Only the listed tree itself, which the readdir needed.
        #expect(fetcher.snapshot.calls[.trees] == 1)
        #expect(fetcher.snapshot.chunkCount == 0)
    }

    @Test func disabledPrefetchFetchesNothingAhead() async throws {
        let harness = try Self.harness { $0.enabled = false }
        let fetcher = try #require(harness.fetcher)
        let src = try await harness.lookup("acme/demo/src").attributes.inode
        fetcher.resetCounts()
        _ = try await harness.list(src)
        await harness.fs.prefetcher.idle()
        #expect(fetcher.snapshot.chunkCount == 0)
        #expect(fetcher.snapshot.calls[.trees] == 1)
        #expect(await harness.fs.prefetcher.statistics.started == 0)
    }
}
