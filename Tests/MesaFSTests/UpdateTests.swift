import MesaCore
import MesaFS
import MesaTesting
import Testing

@Suite struct UpdateTests {
    static let tree = FixtureTree([
        "a.txt": .text("a1\n"),
        "b.txt": .text("b1\n"),
        "same.txt": .text("same\n"),
        "dir/c.txt": .text("c1\n"),
        "dir/keep.txt": .text("keep\n"),
        "quiet/d.txt": .text("d\n"),
    ])

    @Test func updateInvalidatesExactlyWhatChanged() async throws {
        let harness = try FSHarness.local(Self.tree)
        let root = try await harness.repositoryRoot()
        let a = try await harness.lookup("acme/demo/a.txt").attributes
        let b = try await harness.lookup("acme/demo/b.txt").attributes
        let same = try await harness.lookup("acme/demo/same.txt").attributes
        let dir = try await harness.lookup("acme/demo/dir").attributes.inode
        let c = try await harness.lookup("acme/demo/dir/c.txt").attributes
        let keep = try await harness.lookup("acme/demo/dir/keep.txt").attributes
        let quiet = try await harness.lookup("acme/demo/quiet").attributes.inode

        try harness.fixture.evolve(
            upserting: FixtureTree([
                "a.txt": .text("a2 longer\n"), "new.txt": .text("new\n"), "dir/c.txt": .text("c2\n"),
            ]),
            deleting: ["b.txt"], time: FSHarness.commitTime + 100)
        let invalidation = try await harness.update()

        let entries = Set(invalidation.entries.map { "\($0.parent)/\($0.name)" })
        #expect(
            entries == ["\(root)/a.txt", "\(root)/b.txt", "\(root)/new.txt", "\(root)/dir", "\(dir)/c.txt"])
        #expect(Set(invalidation.inodes) == [root, dir])
        #expect(!invalidation.inodes.contains(quiet))
        // The replaced and removed files the kernel holds lose their links: attributes only.
        #expect(Set(invalidation.detached) == [a.inode, b.inode, c.inode])

        // Changed content gets a new inode; unchanged paths and directories keep theirs, with their times.
        let newA = try await harness.lookup("acme/demo/a.txt").attributes
        #expect(newA.inode != a.inode)
        #expect(newA.size == 10)
        #expect(newA.modificationTime == FSHarness.commitTime + 100)
        let newC = try await harness.lookup("acme/demo/dir/c.txt").attributes
        #expect(newC.inode != c.inode)
        #expect(try await harness.lookup("acme/demo/same.txt").attributes == same)
        #expect(try await harness.lookup("acme/demo/dir/keep.txt").attributes.inode == keep.inode)
        #expect(try await harness.lookup("acme/demo/dir").attributes.inode == dir)
        #expect(try harness.fs.getattr(dir).attributes.modificationTime == FSHarness.commitTime + 100)
        await #expect(throws: FSError.notFound) { try await harness.lookup("acme/demo/b.txt") }
        let added = try await harness.lookup("acme/demo/new.txt").attributes.inode
        #expect(try await harness.read(added) == Array("new\n".utf8))
        // The replaced inode is detached: still readable by whoever holds it, with no links.
        #expect(try harness.fs.getattr(a.inode).attributes.linkCount == 0)
        #expect(try await harness.read(a.inode) == Array("a1\n".utf8))

        // A second update with nothing moved changes nothing.
        #expect(try await harness.update().isEmpty)
    }

    @Test func openHandlesKeepTheContentTheyOpened() async throws {
        let harness = try FSHarness.local(Self.tree)
        let a = try await harness.lookup("acme/demo/a.txt").attributes.inode
        let handle = try harness.fs.open(a, flags: .readOnly).handle
        try harness.fixture.evolve(upserting: FixtureTree(["a.txt": .text("a2\n")]), time: FSHarness.commitTime + 1)
        _ = try await harness.update()
        harness.fs.forget(a, count: 1)
        #expect(try await harness.fs.read(handle, offset: 0, size: 100).joined == Array("a1\n".utf8))
        let fresh = try await harness.lookup("acme/demo/a.txt").attributes.inode
        #expect(try await harness.read(fresh) == Array("a2\n".utf8))
        harness.fs.release(handle)
        #expect(harness.fs.lookupCount(of: a) == nil)
    }

    @Test func zeroMessageOpensKeepTheContentTheyOpened() async throws {
        let harness = try FSHarness.local(Self.tree, configuration: FSHarness.configuration(zeroMessageOpens: true))
        let a = try await harness.lookup("acme/demo/a.txt").attributes.inode
        let opened = try harness.fs.open(a, flags: .readOnly)
        #expect(opened.isZeroMessage && opened.keepCache)
        #expect(harness.fs.statistics().openHandles == 0)
        try harness.fixture.evolve(upserting: FixtureTree(["a.txt": .text("a2\n")]), time: FSHarness.commitTime + 1)
        _ = try await harness.update()
        // The kernel still holds the old inode (an open file keeps its lookup): reads by number see the old bytes.
        #expect(try await harness.fs.read(inode: a, offset: 0, size: 100).joined == Array("a1\n".utf8))
        let fresh = try await harness.lookup("acme/demo/a.txt").attributes.inode
        #expect(fresh != a)
        #expect(try await harness.fs.read(inode: fresh, offset: 0, size: 100).joined == Array("a2\n".utf8))
        harness.fs.forget(a, count: 1)
        await #expect(throws: FSError.unknownInode(a)) { try await harness.fs.read(inode: a, offset: 0, size: 1) }
    }

    @Test func removedDirectoriesBecomeEmpty() async throws {
        let harness = try FSHarness.local(Self.tree)
        let dir = try await harness.lookup("acme/demo/dir").attributes.inode
        try await harness.lookup("acme/demo/dir/c.txt")
        try harness.fixture.evolve(deleting: ["dir/c.txt", "dir/keep.txt"], time: FSHarness.commitTime + 1)
        _ = try await harness.update()
        #expect(try await harness.list(dir).map(\.name.string) == [".", ".."])
        await #expect(throws: FSError.notFound) { try await harness.fs.lookup(parent: dir, name: FileName("keep.txt")) }
    }

    @Test func unvisitedRepositoriesNeedNoFetch() async throws {
        let harness = try FSHarness.remote(Self.tree)
        let fetcher = try #require(harness.fetcher)
        try harness.fixture.evolve(upserting: FixtureTree(["a.txt": .text("a2\n")]), time: FSHarness.commitTime + 1)
        #expect(try await harness.update().isEmpty)
        #expect(fetcher.snapshot.calls[.trees] == nil)
        let a = try await harness.lookup("acme/demo/a.txt").attributes.inode
        #expect(try await harness.read(a) == Array("a2\n".utf8))
    }
}
