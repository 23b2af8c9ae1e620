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
        // The mount is reading content (one file read on demand), so a directory read brings its small files.
        let first = try await harness.lookup("acme/demo/src/small-0.txt").attributes.inode
        #expect(try await harness.read(first).count == 140)
        fetcher.resetCounts()
        _ = try await harness.list(src)
        await harness.fs.prefetcher.idle()
        let counts = fetcher.snapshot
        // The listed tree came with the first lookup; one request brings everything below it.
        #expect(counts.calls[.trees] == 1)
        #expect(counts.records[.tree] == 3)
        // The five other small files come in one batch; the large one and the one already read do not.
        #expect(counts.chunkCount == 5)
        #expect(await harness.fs.prefetcher.statistics.completed >= 2)

        // A walk to the leaf costs no tree request, and reads of the small files none at all.
        fetcher.resetCounts()
        let small = try await harness.lookup("acme/demo/src/small-3.txt").attributes.inode
        #expect(try await harness.read(small).count == 140)
        #expect(fetcher.snapshot.calls.isEmpty)
        // The leaf's size was not fetched yet: one path lookup brings its manifest and content together, so its
        // read costs nothing more.
        let leaf = try await harness.lookup("acme/demo/src/deep/deeper/deepest/leaf.txt").attributes.inode
        #expect(fetcher.snapshot.calls == [.lookup: 1])
        #expect(try await harness.read(leaf) == Array("leaf\n".utf8))
        #expect(fetcher.snapshot.calls == [.lookup: 1])
        #expect(fetcher.snapshot.chunkCount == 1)
    }

    @Test func listingWithoutReadingFetchesNoContent() async throws {
        // `ls`, `find`, `ls -lR`: directory reads and sizes, no file content.
        let harness = try Self.harness { _ in }
        let fetcher = try #require(harness.fetcher)
        let src = try await harness.lookup("acme/demo/src").attributes.inode
        fetcher.resetCounts()
        _ = try await harness.list(src, plus: true)
        await harness.fs.prefetcher.idle()
        #expect(fetcher.snapshot.calls[.trees] == 2)
        #expect(fetcher.snapshot.records[.manifest] ?? 0 > 0)
        #expect(fetcher.snapshot.chunkCount == 0)
    }

    /// Lists `walk` and its eight subdirectories, as `find` or `grep -r` would, reading each directory's file when
    /// `reading`.
    static func walk(_ harness: FSHarness, reading: Bool) async throws {
        let walk = try await harness.lookup("acme/demo/walk").attributes.inode
        _ = try await harness.list(walk, plus: true)
        for index in 0..<8 {
            let directory = try await harness.fs.lookup(parent: walk, name: FileName("d\(index)")).attributes.inode
            _ = try await harness.list(directory, plus: true)
            if reading {
                let file = try await harness.fs.lookup(parent: directory, name: FileName("f.txt")).attributes.inode
                #expect(try await harness.read(file) == Array("walk \(index)\n".utf8))
            }
        }
        await harness.fs.prefetcher.idle()
    }

    @Test func aListingWalkFetchesItsSubtreesManifestsOnceAndNoContent() async throws {
        // A wide window: a loaded machine may take seconds for the walk's listings.
        let harness = try Self.harness {
            $0.walkDirectoryCount = 5
            $0.walkWindow = .seconds(60)
        }
        let fetcher = try #require(harness.fetcher)
        try await Self.walk(harness, reading: false)
        // One subtree request, for the manifests only.
        #expect(fetcher.snapshot.calls[.subtree] == 1)
        #expect(fetcher.snapshot.chunkCount == 0)
        let statistics = await harness.fs.prefetcher.statistics
        #expect(statistics.walksDetected == 1 && statistics.walksStreamed == 0)
    }

    @Test func contentReadElsewhereDoesNotStreamAnEarlierListingWalk() async throws {
        let harness = try Self.harness {
            $0.walkDirectoryCount = 5
            $0.walkWindow = .seconds(60)
        }
        let fetcher = try #require(harness.fetcher)
        try await Self.walk(harness, reading: false)
        #expect(await harness.fs.prefetcher.statistics.walksDetected == 1)
        // Later (past the walk window, so these visits start no walk of their own), a file is read elsewhere. The
        // prefetcher's clock steps past the window: a sleep would race a loaded machine.
        harness.fs.prefetcher.clock.advance(by: .seconds(61))
        let small = try await harness.lookup("acme/demo/src/small-1.txt").attributes.inode
        _ = try await harness.read(small)
        _ = try await harness.list(try await harness.lookup("acme/demo/src").attributes.inode)
        await harness.fs.prefetcher.idle()
        #expect(await harness.fs.prefetcher.statistics.walksStreamed == 0)
        // The file read and the five other small files of `src/` in one batch; none of the eight under `walk/`.
        #expect(fetcher.snapshot.chunkCount == 6)
    }

    @Test func aReadingWalkStreamsItsContentOnceWithoutDuplicates() async throws {
        let harness = try Self.harness {
            $0.walkDirectoryCount = 5
            $0.walkWindow = .seconds(60)
        }
        let fetcher = try #require(harness.fetcher)
        try await Self.walk(harness, reading: true)
        let statistics = await harness.fs.prefetcher.statistics
        #expect(statistics.walksDetected == 1 && statistics.walksStreamed == 1)
        #expect(fetcher.snapshot.calls[.subtree] == 1)
        // Every file's chunk came exactly once, whether the walker or the stream got to it first.
        #expect(fetcher.snapshot.chunkCount == 8)
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
