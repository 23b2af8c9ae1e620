import MesaCore
import MesaFS
import MesaStore
import MesaSync
import MesaTesting
import MesaTree
import SystemPackage
import Testing

@Suite struct LookupTests {
    static let tree = FixtureTree([
        "README.md": .text("hello\n"),
        "bin/run.sh": .executable(Array("#!/bin/sh\necho hi\n".utf8)),
        "link": .symlink("bin/run.sh"),
        "src/a/b/deep.txt": .text("deep\n"),
    ])

    @Test func preparedRepositoriesAreListedAndWalkedWithoutARoundTrip() async throws {
        let harness = try FSHarness.remote(Self.tree)
        let fetcher = try #require(harness.fetcher)
        await harness.fs.prepareRepositories()
        // One resolve and one tree request (the root with the levels below it), and no content.
        #expect(fetcher.snapshot.calls == [.resolve: 1, .trees: 1])
        #expect(fetcher.snapshot.chunkCount == 0)
        fetcher.resetCounts()
        let root = try await harness.repositoryRoot()
        #expect(try await harness.list(root).count == 6)  // ".", "..", README.md, bin, link, src
        _ = try await harness.lookup("acme/demo/src/a/b")
        #expect(fetcher.snapshot.calls.isEmpty)
    }

    @Test func rootListsOrganizationsAndOrganizationsListRepositories() async throws {
        let harness = try FSHarness.local(Self.tree)
        let root = try await harness.list(.root)
        #expect(root.map(\.name.string) == [".", "..", "acme"])
        let organization = try await harness.lookup("acme")
        let repositories = try await harness.list(organization.attributes.inode)
        #expect(repositories.map(\.name.string) == [".", "..", "demo"])
        #expect(organization.attributes.kind == .directory)
        #expect(organization.attributes.modificationTime == 1_600_000_000)
    }

    @Test func attributesFollowTheTreeExactly() async throws {
        let harness = try FSHarness.local(Self.tree)
        let readme = try await harness.lookup("acme/demo/README.md").attributes
        #expect(readme.kind == .regularFile)
        #expect(readme.mode == 0o100644)
        #expect(readme.size == 6)
        #expect(readme.linkCount == 1)
        #expect(readme.uid == 1234 && readme.gid == 5678)
        #expect(readme.modificationTime == FSHarness.commitTime)
        let script = try await harness.lookup("acme/demo/bin/run.sh").attributes
        #expect(script.mode == 0o100755)
        let link = try await harness.lookup("acme/demo/link").attributes
        #expect(link.mode == 0o120777)
        #expect(link.size == Int64("bin/run.sh".utf8.count))
        let directory = try await harness.lookup("acme/demo/src").attributes
        #expect(directory.mode == 0o040755)
        #expect(directory.linkCount == 1)
        #expect(directory.modificationTime == FSHarness.commitTime)
        #expect(try harness.fs.getattr(readme.inode).attributes == readme)
    }

    @Test func missingNamesAreNotFound() async throws {
        let harness = try FSHarness.local(Self.tree)
        await #expect(throws: FSError.notFound) { try await harness.lookup("acme/demo/nope") }
        await #expect(throws: FSError.notFound) { try await harness.lookup("acme/other") }
        await #expect(throws: FSError.notFound) { try await harness.lookup("nobody") }
        await #expect(throws: FSError.notADirectory) { try await harness.lookup("acme/demo/README.md/x") }
        #expect(FSError.notFound.errno == .noSuchFileOrDirectory)
    }

    @Test func lookupCountsFollowLookupsAndForgets() async throws {
        let harness = try FSHarness.local(Self.tree)
        let root = try await harness.repositoryRoot()
        let first = try await harness.fs.lookup(parent: root, name: FileName("README.md")).attributes.inode
        let second = try await harness.fs.lookup(parent: root, name: FileName("README.md")).attributes.inode
        #expect(first == second)
        #expect(harness.fs.lookupCount(of: first) == 2)
        let loaded = harness.fs.statistics().loadedInodes
        harness.fs.forget(first, count: 1)
        #expect(harness.fs.lookupCount(of: first) == 1)
        harness.fs.forget(first, count: 1)
        #expect(harness.fs.lookupCount(of: first) == nil)
        #expect(harness.fs.statistics().loadedInodes == loaded - 1)
        #expect(throws: FSError.unknownInode(first)) { try harness.fs.getattr(first) }
        // The path keeps its number for the session.
        let again = try await harness.fs.lookup(parent: root, name: FileName("README.md")).attributes.inode
        #expect(again == first)
        #expect(harness.fs.lookupCount(of: again) == 1)
    }

    @Test func batchForgetAndOpenHandlesKeepRecordsAlive() async throws {
        let harness = try FSHarness.local(Self.tree)
        let readme = try await harness.lookup("acme/demo/README.md").attributes.inode
        let handle = try harness.fs.open(readme, flags: .readOnly).handle
        harness.fs.forget([(inode: readme, count: 1)])
        // The open handle keeps the inode loaded: reads still work.
        #expect(try harness.fs.getattr(readme).attributes.size == 6)
        #expect(try await harness.fs.read(handle, offset: 0, size: 100).joined == Array("hello\n".utf8))
        harness.fs.release(handle)
        #expect(harness.fs.lookupCount(of: readme) == nil)
    }

    @Test func namesCompareBytewise() async throws {
        // Precomposed and decomposed "é" are equal Swift Strings but different names on disk.
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        let fixture = try FixtureRepository(FixtureTree(["placeholder": .text("x")]))
        let repository = fixture.repository
        let first = try repository.writeBlob(Array("composed".utf8))
        let second = try repository.writeBlob(Array("decomposed!".utf8))
        let body = TreeCodec.encode([
            TreeEntry(name: composed, mode: .regular, id: first),
            TreeEntry(name: decomposed, mode: .regular, id: second),
        ])
        let tree = TreeCodec.objectID(kind: "tree", body: body)
        try fixture.store.put(body, key: RecordKey(.tree, object: tree))
        let resolution = try fixture.resolution()
        let layout = try MountLayout([
            MountLayout.Repository(
                path: FSHarness.repository, revision: .defaultBookmark, source: fixture.localSource(),
                resolution: Resolution(
                    revision: .defaultBookmark, change: resolution.change, commit: resolution.commit, rootTree: tree,
                    commitTime: 5))
        ])
        let fs = MesaFS(layout: layout, configuration: FSHarness.configuration())
        let organization = try await fs.lookup(parent: .root, name: FileName("acme")).attributes.inode
        let root = try await fs.lookup(parent: organization, name: FileName("demo")).attributes.inode
        let a = try await fs.lookup(parent: root, name: FileName(composed)).attributes
        let b = try await fs.lookup(parent: root, name: FileName(decomposed)).attributes
        #expect(a.inode != b.inode)
        #expect(a.size == 8)
        #expect(b.size == 11)
    }
}

