import MesaCore
import MesaFS
import MesaSync
import MesaTesting
import Testing

/// The answers MesaFuse gives on the FUSE thread when everything is in memory, compared with the awaited ones.
@Suite struct MemoryFastPathTests {
    static let tree = FixtureTree([
        "dir/a.txt": .text("alpha\n"), "dir/b.txt": .text(String(repeating: "beta\n", count: 3000)),
        "dir/sub/c.txt": .text("c\n"), "dir/link": .symlink("a.txt"),
    ])

    static func harness() throws -> FSHarness {
        try FSHarness.remote(tree, configuration: FSHarness.configuration(zeroMessageOpens: true))
    }

    static func listInMemory(_ fs: MesaFS, _ inode: InodeNumber, plus: Bool) -> [DirectoryEntry]? {
        var entries: [DirectoryEntry] = []
        let answered = fs.readdirIfInMemory(inode: inode, offset: 0, plus: plus) { entry in
            entries.append(entry)
            return true
        }
        return answered ? entries : nil
    }

    @Test func aListingInMemoryIsAnsweredAtOnceAndEqualsTheAwaitedOne() async throws {
        let harness = try Self.harness()
        let fetcher = try #require(harness.fetcher)
        let dir = try await harness.lookup("acme/demo/dir").attributes.inode
        // Nothing of the directory is in memory yet: no answer, and nothing fetched for asking.
        let calls = fetcher.snapshot.calls
        #expect(Self.listInMemory(harness.fs, dir, plus: true) == nil)
        #expect(fetcher.snapshot.calls == calls)

        let awaited = try await harness.list(dir, plus: true)
        for plus in [true, false] {
            let fast = try #require(Self.listInMemory(harness.fs, dir, plus: plus))
            #expect(fast.map(\.name) == awaited.map(\.name))
            #expect(fast.map(\.attributes.inode) == awaited.map(\.attributes.inode))
            #expect(fast.map(\.nextOffset) == awaited.map(\.nextOffset))
            if plus { #expect(fast.map(\.attributes.size) == awaited.map(\.attributes.size)) }
        }
        // readdirplus counts its entries as lookups, on either path.
        let a = try #require(awaited.first { $0.name == FileName("a.txt") }).attributes.inode
        #expect(harness.fs.lookupCount(of: a) == 2)
    }

    @Test func aReadInMemoryIsAnsweredAtOnceAndEqualsTheAwaitedOne() async throws {
        let harness = try Self.harness()
        let fetcher = try #require(harness.fetcher)
        let file = try await harness.lookup("acme/demo/dir/b.txt").attributes.inode
        _ = try harness.fs.open(file, flags: .readOnly)
        let calls = fetcher.snapshot.calls
        let cold = harness.fs.readIfInMemory(inode: file, handle: .inodeReads, offset: 100, size: 5000)
        #expect(cold == nil)  // the lookup stored the content on disk, not in memory
        #expect(fetcher.snapshot.calls == calls)

        let awaited = try await harness.fs.read(inode: file, offset: 100, size: 5000).joined
        let fast = try #require(harness.fs.readIfInMemory(inode: file, handle: .inodeReads, offset: 100, size: 5000))
        #expect(fast.joined == awaited)
        #expect(awaited == Array(Array(String(repeating: "beta\n", count: 3000).utf8)[100..<5100]))
        // Past the end: empty, at once.
        #expect(harness.fs.readIfInMemory(inode: file, handle: .inodeReads, offset: 1 << 20, size: 10)?.count == 0)
    }
}
