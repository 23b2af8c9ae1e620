import Foundation
import MesaCore
import MesaKit
import MesaStore
@testable import MesaSync
import MesaTesting
import MesaTree
import MesaWire
import Testing

/// Uploads against a real `mesa serve` on loopback: a mount-side source over an empty cache builds an upload from a
/// dirty set and pushes it; the result is read back over the sync protocol and REST.
@Suite(.tags(.e2e)) struct UploadTests {
    /// 2 MiB of seeded random bytes: about 32 chunks.
    static let big: [UInt8] = {
        var generator = SeededBytes(seed: 7)
        return generator.bytes(2 << 20)
    }()

    static let committer = MesaTree.Signature(name: "Mount User", email: "mount@example.com", time: 1_700_000_000)

    /// A server with repo `up` (nested files, on bookmark `main`), and a mount-side source over an empty cache.
    struct Fixture {
        let server: ServerProcess
        let mesa: Mesa
        let cacheDirectory: TemporaryDirectory
        let overlay: TemporaryDirectory
        let cache: ContentStore
        let source: StoreObjectSource
        let repo = "up"

        init() async throws {
            server = try ServerProcess()
            mesa = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
            _ = try await mesa.repos.create(name: repo)
            _ = try await mesa.changes(repo).create(
                base: String(repeating: "z", count: 32), message: "base",
                files: [
                    .upsert("a/b/c/deep.txt", text: "deep\n"),
                    .upsert("a/b/big.bin", bytes: UploadTests.big),
                    .upsert("a/sibling.txt", text: "sibling\n"),
                    .upsert("keep/one.txt", text: "one\n"),
                    .upsert("keep/sub/two.txt", text: "two\n"),
                    .upsert("gone/old.txt", text: "old\n"),
                    .upsert("run.sh", text: "#!/bin/sh\necho hi\n"),
                ])
            cacheDirectory = try TemporaryDirectory(prefix: "mesa-upload-cache")
            overlay = try TemporaryDirectory(prefix: "mesa-upload-overlay")
            cache = try ContentStore(
                path: cacheDirectory.appending("store"), configuration: .cache(maxUnpinnedBytes: 1 << 30))
            source = StoreObjectSource(store: cache, backing: .remote(SyncRemoteFetcher(sync: mesa.sync(repo))))
        }

        /// Writes an overlay file and returns its path.
        func overlayFile(_ name: String, _ bytes: [UInt8]) throws -> String {
            let path = overlay.appending(name)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }

        func uploader() -> Uploader { Uploader(mesa: mesa, repo: repo, store: cache) }

        /// A source over a fresh empty cache, for reading back what the server has.
        func reader() throws -> (StoreObjectSource, TemporaryDirectory) {
            let directory = try TemporaryDirectory(prefix: "mesa-upload-read")
            let store = try ContentStore(path: directory.appending("store"))
            return (StoreObjectSource(store: store, backing: .remote(SyncRemoteFetcher(sync: mesa.sync(repo)))), directory)
        }
    }

    static func path(_ text: String) -> [FileName] { text.split(separator: "/").map { FileName(String($0)) } }

    /// The entry at `path` below `root`, through `source`.
    static func entry(_ path: String, in root: ObjectID, _ source: StoreObjectSource) async throws -> SourceEntry? {
        var tree = try await source.tree(root)
        let components = Self.path(path)
        for (index, name) in components.enumerated() {
            guard let entry = tree.entry(named: name) else { return nil }
            if index == components.count - 1 { return entry }
            guard entry.kind == .directory else { return nil }
            tree = try await source.tree(entry.id)
        }
        return nil
    }

    static func bytes(_ path: String, in root: ObjectID, _ source: StoreObjectSource) async throws -> [UInt8]? {
        guard let entry = try await entry(path, in: root, source) else { return nil }
        let manifest = try await source.manifest(ofBlob: entry.id)
        return try await source.read(entry.id, range: 0..<manifest.size, readAhead: 0).joined
    }

    @Test func anUploadEvolvesTheChangeWithOnlyTheNewRecordsAndOnlyTheTreesAlongDirtyPaths() async throws {
        let fixture = try await Fixture()
        let base = try await fixture.source.resolve(.defaultBookmark)
        var edited = Self.big
        edited[1_000_000] ^= 0xff
        let dirty = [
            DirtyEntry(path: Self.path("a/b/c/deep.txt"), change: .file(
                contentPath: try fixture.overlayFile("deep", Array("deeper\n".utf8)), executable: false)),
            DirtyEntry(path: Self.path("a/b/big.bin"), change: .file(
                contentPath: try fixture.overlayFile("big", edited), executable: false)),
            DirtyEntry(path: Self.path("new/dir/file.txt"), change: .file(
                contentPath: try fixture.overlayFile("new", Array("new\n".utf8)), executable: false)),
            DirtyEntry(path: Self.path("gone/old.txt"), change: .delete),
            DirtyEntry(path: Self.path("link"), change: .symlink(target: Array("a/b/c/deep.txt".utf8))),
            DirtyEntry(path: Self.path("run.sh"), change: .file(
                contentPath: try fixture.overlayFile("run", Array("#!/bin/sh\necho hi\n".utf8)), executable: true)),
        ]
        let builder = try UploadBuilder(source: fixture.source)
        let built = try await builder.build(base: base, dirty: dirty, message: "edit", committer: Self.committer)

        // Only the trees along the dirty paths came (root, a, a/b, a/b/c, gone) plus the base commit: no manifest,
        // no untouched tree, one request per level.
        let statistics = fixture.source.statistics()
        #expect(statistics.remoteRecords == 6)
        #expect(statistics.remoteRequests <= 4)
        let (reader, readerDirectory) = try fixture.reader()
        _ = readerDirectory
        let keepTree = try #require(try await Self.entry("keep", in: base.rootTree, reader)).id
        let siblingBlob = try #require(try await Self.entry("a/sibling.txt", in: base.rootTree, reader)).id
        #expect(!fixture.cache.contains(RecordKey(.tree, object: keepTree)))
        #expect(!fixture.cache.contains(RecordKey(.manifest, object: siblingBlob)))

        // Push order, and everything pinned until released.
        let kinds = built.keys.map(\.kind)
        #expect(kinds == kinds.sorted { $0.rawValue < $1.rawValue })
        #expect(built.keys.last == RecordKey(.commit, object: built.commit))
        #expect(built.keys.allSatisfy { fixture.cache.isPinned($0) })

        let uploader = fixture.uploader()
        let report = try await uploader.send(built)
        #expect(report.outcome == .pushed(built.commit))
        // A 1-byte edit of a 2 MiB file sends a chunk or two of it, not the file.
        let bigManifest = try fixture.cache.manifest(
            forBlob: try #require(try await Self.entry("a/b/big.bin", in: built.rootTree, fixture.source)).id)
        let bigChunks = Set(bigManifest.chunks.map { RecordKey(chunk: $0.id) })
        #expect(bigChunks.count > 20)
        let sentBigChunks = report.sent.filter { bigChunks.contains($0) }
        #expect(sentBigChunks.count >= 1 && sentBigChunks.count <= 4)
        // run.sh's content is the server's already: its chmod sends no content.
        let sentChunks = report.sent.filter { $0.kind == .chunk }
        #expect(sentChunks.count == sentBigChunks.count + 3)
        #expect(report.sent.filter { $0.kind == .tree }.count == built.keys.filter { $0.kind == .tree }.count)

        // Read back over the sync protocol, from an empty cache.
        let after = try await reader.resolve(.defaultBookmark)
        #expect(after.change == base.change)
        #expect(after.commit == built.commit)
        #expect(after.rootTree == built.rootTree)
        #expect(try await Self.bytes("a/b/c/deep.txt", in: after.rootTree, reader) == Array("deeper\n".utf8))
        #expect(try await Self.bytes("a/b/big.bin", in: after.rootTree, reader) == edited)
        #expect(try await Self.bytes("new/dir/file.txt", in: after.rootTree, reader) == Array("new\n".utf8))
        #expect(try await Self.entry("gone/old.txt", in: after.rootTree, reader) == nil)
        #expect(try await Self.entry("gone", in: after.rootTree, reader) == nil)
        let link = try #require(try await Self.entry("link", in: after.rootTree, reader))
        #expect(link.kind == .symlink)
        #expect(try await Self.bytes("link", in: after.rootTree, reader) == Array("a/b/c/deep.txt".utf8))
        #expect(try await Self.entry("run.sh", in: after.rootTree, reader)?.kind == .executable)
        #expect(try await Self.entry("a/b/c/deep.txt", in: after.rootTree, reader)?.kind == .regular)
        // Untouched paths keep their ids.
        #expect(try await Self.entry("keep", in: after.rootTree, reader)?.id == keepTree)
        #expect(try await Self.entry("a/sibling.txt", in: after.rootTree, reader)?.id == siblingBlob)

        // And over REST: the change evolved (same id, new commit, parents kept), the content is there.
        let change = try await fixture.mesa.changes(fixture.repo).get(base.change.description)
        #expect(change.currentCommitOID == built.commit.hex)
        #expect(change.parents == [String(repeating: "z", count: 32)])
        #expect(change.message == "edit")
        #expect(try await fixture.mesa.content(fixture.repo).bytes(path: "a/b/c/deep.txt") == Array("deeper\n".utf8))
        #expect(try await fixture.mesa.content(fixture.repo).bytes(path: "keep/sub/two.txt") == Array("two\n".utf8))
        // The commit carries the change id and evolves the base (its parents, not the base commit itself).
        let repository = try MesaRepository(store: fixture.cache)
        let commit = try repository.commit(built.commit)
        #expect(commit.changeID == base.change)
        #expect(commit.parents == (try repository.commit(try #require(base.commit)).parents))
        #expect(commit.committer == Self.committer)

        // Sending it again (an answer lost in transit) is a success that sends nothing.
        let again = try await uploader.send(built)
        #expect(again.outcome == .pushed(built.commit))
        #expect(again.sent.isEmpty)

        try await builder.release(built)
        #expect(!built.keys.contains { fixture.cache.isPinned($0) })
    }

    @Test(arguments: [
        [FileName(".git"), FileName("config")],
        [FileName("dir"), FileName(bytes: Array("a\0b".utf8))],
        [FileName(bytes: Array("a/b".utf8))],
        [FileName("x"), FileName(".GIT ")],
        [FileName(bytes: [0x66, 0xff])],
    ])
    func aPathTheServerWouldRefuseFailsTheBuildNamingItAndPushesNothing(_ path: [FileName]) async throws {
        let fixture = try await Fixture()
        let base = try await fixture.source.resolve(.defaultBookmark)
        let content = try fixture.overlayFile("bad", Array("bad\n".utf8))
        let dirty = [
            DirtyEntry(path: Self.path("keep/one.txt"), change: .file(contentPath: content, executable: false)),
            DirtyEntry(path: path, change: .file(contentPath: content, executable: false)),
        ]
        let builder = try UploadBuilder(source: fixture.source)
        do {
            _ = try await builder.build(base: base, dirty: dirty, message: "bad", committer: Self.committer)
            Issue.record("the build of \(path) succeeded")
        } catch {
            guard case .invalidPath(let named, _) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(named == DirtyEntry(path: path, change: .delete).displayPath)
        }
        // Nothing was fetched, stored or pushed.
        #expect(fixture.source.statistics().remoteRequests == 0)
        #expect(fixture.cache.stats().records == 0)
        let after = try await fixture.source.resolve(.defaultBookmark)
        #expect(after.commit == base.commit)
    }

    @Test func aStaleExpectationIsAConflictWithTheCurrentCommit() async throws {
        let fixture = try await Fixture()
        let base = try await fixture.source.resolve(.defaultBookmark)
        // The change moves on the server meanwhile.
        let moved = try await fixture.mesa.changes(fixture.repo).update(
            base.change.description, UpdateChangeRequest(message: "elsewhere", files: [.upsert("keep/one.txt", text: "1\n")]))
        let dirty = [
            DirtyEntry(path: Self.path("a/b/c/deep.txt"), change: .file(
                contentPath: try fixture.overlayFile("deep", Array("mine\n".utf8)), executable: false))
        ]
        let builder = try UploadBuilder(source: fixture.source)
        let built = try await builder.build(base: base, dirty: dirty, message: "mine", committer: Self.committer)
        let report = try await fixture.uploader().send(built)
        guard case .conflict(let current, _, let material) = report.outcome else {
            Issue.record("expected a conflict, got \(report.outcome)")
            return
        }
        let currentCommit = try #require(current)
        #expect(currentCommit.hex == moved.currentCommitOID)
        #expect(material.contains { $0.key == RecordKey(.commit, object: currentCommit) })
        // Nothing applied.
        let change = try await fixture.mesa.changes(fixture.repo).get(base.change.description)
        #expect(change.currentCommitOID == moved.currentCommitOID)
    }

    @Test func anEvolutionKeepsTheChangesParentsAndItsCommitsParents() async throws {
        let fixture = try await Fixture()
        let first = try await fixture.source.resolve(.defaultBookmark)
        let child = try await fixture.mesa.changes(fixture.repo).create(
            base: first.change.description, message: "child", files: [.upsert("child.txt", text: "child\n")])
        let id = try #require(ChangeID(parsing: child.id))
        let base = try await fixture.source.resolve(Revision(.change(id)))
        let builder = try UploadBuilder(source: fixture.source)
        let built = try await builder.build(
            base: base,
            dirty: [
                DirtyEntry(path: Self.path("child.txt"), change: .file(
                    contentPath: try fixture.overlayFile("child", Array("grown\n".utf8)), executable: false))
            ],
            message: "grown", committer: Self.committer)
        // The push names no parents (the server keeps the change's own): no round trip to look them up.
        #expect(try await fixture.uploader().transaction(for: built, parents: nil).changes.first?.parents == nil)
        #expect(try await fixture.uploader().send(built).outcome == .pushed(built.commit))
        let after = try await fixture.mesa.changes(fixture.repo).get(child.id)
        #expect(after.currentCommitOID == built.commit.hex)
        #expect(after.parents == [first.change.description])
        let commit = try MesaRepository(store: fixture.cache).commit(built.commit)
        #expect(commit.parents == [try #require(first.commit)])
        #expect(commit.changeID == id)
    }

    @Test func anUploadOnAnEmptyRepositoryCreatesTheChangeAndTheDefaultBookmark() async throws {
        let fixture = try await Fixture()
        _ = try await fixture.mesa.repos.create(name: "empty")
        let directory = try TemporaryDirectory(prefix: "mesa-upload-empty")
        let cache = try ContentStore(path: directory.appending("store"))
        let source = StoreObjectSource(store: cache, backing: .remote(SyncRemoteFetcher(sync: fixture.mesa.sync("empty"))))
        let base = try await source.resolve(.defaultBookmark)
        #expect(base.change.isRoot)
        let builder = try UploadBuilder(source: source)
        let built = try await builder.build(
            base: base,
            dirty: [
                DirtyEntry(path: Self.path("docs/readme.md"), change: .file(
                    contentPath: try fixture.overlayFile("readme", Array("hello\n".utf8)), executable: false))
            ],
            message: "first", committer: Self.committer)
        #expect(!built.change.isRoot)
        let uploader = Uploader(mesa: fixture.mesa, repo: "empty", store: cache)
        #expect(try await uploader.send(built).outcome == .pushed(built.commit))
        // Idempotent here too: the change and the bookmark already exist, at the upload's values.
        #expect(try await uploader.send(built).outcome == .pushed(built.commit))
        let after = try await source.resolve(.defaultBookmark)
        #expect(after.change == built.change)
        #expect(try await fixture.mesa.content("empty").bytes(path: "docs/readme.md") == Array("hello\n".utf8))
    }
    /// Deleting every file (a mount's root left with no entries) leaves the empty tree as the root: the upload carries it (the server has no empty tree
    /// unless a push or a commit stored it) and the change then has no files.
    @Test func anUploadThatDeletesEverythingPushesTheEmptyTree() async throws {
        let fixture = try await Fixture()
        let base = try await fixture.source.resolve(.defaultBookmark)
        let builder = try UploadBuilder(source: fixture.source)
        let built = try await builder.build(
            base: base, root: .directory(key: 1, entries: [:]), message: "empty", committer: Self.committer
        ).upload
        #expect(built.rootTree == TreeCodec.emptyTreeID)
        #expect(built.keys.contains(RecordKey(.tree, object: TreeCodec.emptyTreeID)))
        #expect(try await fixture.uploader().send(built).outcome == .pushed(built.commit))
        let (reader, readerDirectory) = try fixture.reader()
        defer { _ = readerDirectory }
        let after = try await reader.resolve(.defaultBookmark)
        #expect(after.commit == built.commit)
        #expect(after.rootTree == TreeCodec.emptyTreeID)
        await #expect(throws: KitError.self) { try await fixture.mesa.content(fixture.repo).bytes(path: "run.sh") }
    }
}

extension Tag {
    /// Tests that run the built `mesa` binary as real processes (STYLE.md section 8).
    @Tag static var e2e: Self
}
