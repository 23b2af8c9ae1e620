import MesaCore
import MesaFS
import MesaSync
import MesaTesting
import MesaTree
import Testing

/// `MesaFS.adopt`: a repository with local nodes moves to a merged commit after its upload landed inside it. What
/// differs becomes the merge's, local directories keep their inodes, a write made after the snapshot stays and
/// uploads next, and all of it survives a restart (one journal transaction).
struct AdoptTests {
    static let path = RepositoryPath(organization: "acme", name: "demo")

    static func read(_ fs: MesaFS, _ inode: InodeNumber) async throws -> String {
        let handle = try fs.open(inode, flags: .readOnly).handle
        defer { fs.release(handle) }
        let size = try fs.getattr(inode).attributes.size
        let bytes =
            handle == .inodeReads
            ? try await fs.read(inode: inode, offset: 0, size: Int(size)).joined
            : try await fs.read(handle, offset: 0, size: Int(size)).joined
        return String(decoding: bytes, as: UTF8.self)
    }

    static func text(_ fs: MesaFS, _ path: String) async throws -> String {
        try await read(fs, IgnoredPathTests.lookup(fs, "acme/demo/" + path))
    }

    static func names(_ fs: MesaFS, _ path: String) async throws -> Set<String> {
        let inode = try await IgnoredPathTests.lookup(fs, path)
        var names = Set<String>()
        try await fs.readdir(inode: inode, offset: 0, plus: false) { entry in
            names.insert(entry.name.string)
            return true
        }
        return names.subtracting([".", ".."])
    }

    @Test func aMergedCommitReplacesWhatDiffersAndKeepsLaterWrites() async throws {
        let fixture = try FixtureRepository(
            FixtureTree(["README.md": .text("hello\n"), "src/a.txt": .text("a\n"), "src/b.txt": .text("b\n")]))
        let source = fixture.localSource()
        let layout = try MountLayout([MountLayout.Repository(path: Self.path, revision: .defaultBookmark, source: source)])
        let state = try TemporaryDirectory(prefix: "mesa-adopt-state")
        func makeFS() throws -> MesaFS { try MesaFS(layout: layout, overlay: Overlay(directory: state.appending("state"))) }
        let fs = try makeFS()
        let src = try await IgnoredPathTests.lookup(fs, "acme/demo/src")
        try await IgnoredPathTests.create(fs, in: src, "mine.txt", "mine\n")
        let snapshot = try #require(fs.pendingUpload(repository: 0))
        let built = try await UploadBuilder(source: source).build(
            base: snapshot.base, root: snapshot.root, message: nil,
            committer: Signature(name: "t", email: "t@example.com", time: 1_700_000_100))
        // Written after the snapshot: not in the merge, kept.
        let root = try await IgnoredPathTests.lookup(fs, "acme/demo")
        try await IgnoredPathTests.create(fs, in: root, "later.txt", "later\n")

        // The merge: ours (src/mine.txt) and the server's edits (src/b.txt changed, README.md gone, theirs.txt).
        try fixture.evolve(
            upserting: FixtureTree(["src/mine.txt": .text("mine\n"), "src/b.txt": .text("b from server\n"), "theirs.txt": .text("t\n")]),
            deleting: ["README.md"], time: 1_700_000_200)
        let merged = try fixture.resolution()
        guard case .applied(let invalidation) = try await fs.adopt(
            Self.path, resolution: merged, covering: snapshot, ids: built.ids)
        else {
            Issue.record("the merge was not adopted")
            return
        }
        #expect(!invalidation.isEmpty)

        for view in [fs, try makeFS()] {  // and after a restart, from the journal
            #expect(try await Self.names(view, "acme/demo") == ["src", "theirs.txt", "later.txt"])
            #expect(try await Self.names(view, "acme/demo/src") == ["a.txt", "b.txt", "mine.txt"])
            #expect(try await Self.text(view, "src/b.txt") == "b from server\n")
            #expect(try await Self.text(view, "src/mine.txt") == "mine\n")
            #expect(try await Self.text(view, "later.txt") == "later\n")
            #expect(view.currentResolution(of: Self.path)?.commit == merged.commit)
            // Only the later write is pending: the merge is uploaded.
            guard case .directory(_, let entries)? = view.pendingUpload(repository: 0)?.root else {
                Issue.record("the later write is not pending")
                continue
            }
            #expect(entries[FileName("later.txt")].map { if case .file = $0 { true } else { false } } == true)
            #expect(entries[FileName("src")] == .existing(.directory, try fixture.repository.entry(at: "src", in: merged.rootTree).id))
        }
        // The local directory kept its inode.
        #expect(try await IgnoredPathTests.lookup(fs, "acme/demo/src") == src)
    }

    @Test func aDirtyRepositoryWaitsForItsNextUploadAndAStalePollChangesNothing() async throws {
        let fixture = try FixtureRepository(FixtureTree(["README.md": .text("hello\n")]))
        let source = fixture.localSource()
        let layout = try MountLayout([MountLayout.Repository(path: Self.path, revision: .defaultBookmark, source: source)])
        let state = try TemporaryDirectory(prefix: "mesa-adopt-state")
        let fs = try MesaFS(layout: layout, overlay: Overlay(directory: state.appending("state")))
        let root = try await IgnoredPathTests.lookup(fs, "acme/demo")
        try await IgnoredPathTests.create(fs, in: root, "new.txt", "new\n")
        try fixture.evolve(upserting: FixtureTree(["other.txt": .text("o\n")]), time: 1_700_000_300)
        // Dirty: nothing moves (the next upload merges).
        #expect(try await fs.adopt(Self.path, resolution: try fixture.resolution(), covering: nil, ids: [:]) == .pending)
        #expect(try await Self.names(fs, "acme/demo") == ["README.md", "new.txt"])

        // Uploaded: a move the poll saw applies, unless the base moved since the poll asked.
        let snapshot = try #require(fs.pendingUpload(repository: 0))
        let built = try await UploadBuilder(source: source).build(
            base: snapshot.base, root: snapshot.root, message: nil,
            committer: Signature(name: "t", email: "t@example.com", time: 1_700_000_400))
        try fs.acknowledge(
            snapshot, ids: built.ids, change: built.upload.change, commit: built.upload.commit,
            rootTree: built.upload.rootTree, commitTime: 1_700_000_400)
        try fixture.evolve(upserting: FixtureTree(["new.txt": .text("new\n"), "third.txt": .text("3\n")]), time: 1_700_000_500)
        let moved = try fixture.resolution()
        #expect(try await fs.adopt(Self.path, resolution: moved, covering: nil, ids: [:], expecting: snapshot.base) == .stale)
        #expect(try await Self.names(fs, "acme/demo") == ["README.md", "new.txt"])
        let current = fs.currentResolution(of: Self.path)
        guard case .applied = try await fs.adopt(Self.path, resolution: moved, covering: nil, ids: [:], expecting: current)
        else {
            Issue.record("the move was not adopted")
            return
        }
        #expect(try await Self.names(fs, "acme/demo") == ["README.md", "other.txt", "new.txt", "third.txt"])
        #expect(fs.pendingUpload(repository: 0) == nil)
    }
}
