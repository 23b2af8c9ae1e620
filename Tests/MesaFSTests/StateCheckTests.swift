import Foundation
import MesaCore
import MesaFS
import MesaSync
import MesaTesting
import MesaTree
import Testing

/// The state check behind `mesa debug fsck --state-dir`: damage is found and named by path, a damaged journal is
/// never served (MesaFS refuses it), and a repair keeps every edit it can.
struct StateCheckTests {
    static let path = RepositoryPath(organization: "acme", name: "demo")

    struct Setup {
        let fixture: FixtureRepository
        let source: StoreObjectSource
        let layout: MountLayout
        let state: TemporaryDirectory
        var directory: String { state.appending("journal/acme") }

        init() throws {
            fixture = try FixtureRepository(FixtureTree(["README.md": .text("hello\n"), "src/a.txt": .text("a\n")]))
            source = fixture.localSource()
            layout = try MountLayout([MountLayout.Repository(path: StateCheckTests.path, revision: .defaultBookmark, source: source)])
            state = try TemporaryDirectory(prefix: "mesa-state-check")
        }

        func fs() throws(FSError) -> MesaFS { try MesaFS(layout: layout, overlay: Overlay(directory: directory)) }

        /// The journal's node id of a path below the repository root (walking local entries).
        func node(_ path: String) throws -> LocalID {
            let snapshot = try Journal(path: directory + "/journal.sqlite").load()
            var current = try #require(snapshot.repositories[StateCheckTests.path]?.root)
            for component in path.split(separator: "/") {
                guard case .local(let id, _)? = snapshot.nodes[current]?.entries[FileName(String(component))] else {
                    throw FSError.notFound
                }
                current = id
            }
            return current
        }
    }

    static func kinds(_ findings: [StateFinding]) -> [String] {
        findings.filter { $0.severity == .damage }.map { "\($0.kind) \($0.location)" }.sorted()
    }

    @Test func aMissingOverlayFileStopsTheMountAndARepairKeepsWhatItCan() async throws {
        let setup = try Setup()
        do {
            let fs = try setup.fs()
            let root = try await IgnoredPathTests.lookup(fs, "acme/demo")
            try await IgnoredPathTests.create(fs, in: root, "uploaded.txt", "v1\n")
            try await IgnoredPathTests.create(fs, in: root, "intact.txt", "intact\n")
            let snapshot = try #require(fs.pendingUpload(repository: 0))
            let built = try await UploadBuilder(source: setup.source).build(
                base: snapshot.base, root: snapshot.root, message: nil,
                committer: Signature(name: "t", email: "t@example.com", time: 1_700_000_100))
            try fs.acknowledge(
                snapshot, ids: built.ids, change: built.upload.change, commit: built.upload.commit,
                rootTree: built.upload.rootTree, commitTime: 1_700_000_100)
            // After the upload: an edit of the uploaded file, and a file never uploaded.
            let uploaded = try await IgnoredPathTests.lookup(fs, "acme/demo/uploaded.txt")
            _ = try await fs.modify(.write(uploaded, handle: .inodeReads, offset: 0, bytes: Array("v2\n".utf8)))
            try await IgnoredPathTests.create(fs, in: root, "never.txt", "never uploaded\n")
            #expect(JournalDirectoryCheck.inspect(directory: setup.directory).isEmpty)
        }
        for name in ["uploaded.txt", "never.txt"] {
            let id = try setup.node(name)
            #expect(unlink("\(setup.directory)/overlay/\(id.rawValue)") == 0)
        }

        // Never served: the mount refuses the state.
        #expect(throws: FSError.self) { try setup.fs() }
        let findings = JournalDirectoryCheck.inspect(directory: setup.directory)
        #expect(Self.kinds(findings) == ["missing-overlay acme/demo/never.txt", "missing-overlay acme/demo/uploaded.txt"])
        #expect(findings.contains { $0.location == "acme/demo/uploaded.txt" && $0.repair.contains("edits made after") })

        let repaired = try JournalDirectoryCheck.repair(
            directory: setup.directory, findings: findings, setAsideTo: setup.state.appending("damaged/journal-acme"))
        #expect(repaired.count == 2)
        #expect(JournalDirectoryCheck.inspect(directory: setup.directory).isEmpty)
        let fs = try setup.fs()
        #expect(try await AdoptTests.names(fs, "acme/demo") == ["README.md", "src", "uploaded.txt", "intact.txt"])
        #expect(try await AdoptTests.text(fs, "uploaded.txt") == "v1\n")  // the version the server acknowledged
        #expect(try await AdoptTests.text(fs, "intact.txt") == "intact\n")
    }

    @Test func danglingEntriesWrongLinksAndUnreachableNodesAreRepaired() async throws {
        let setup = try Setup()
        do {
            let fs = try setup.fs()
            let root = try await IgnoredPathTests.lookup(fs, "acme/demo")
            try await IgnoredPathTests.create(fs, in: root, "kept.txt", "kept\n")
            let src = try await IgnoredPathTests.lookup(fs, "acme/demo/src")
            try await IgnoredPathTests.create(fs, in: src, "b.txt", "b\n")
        }
        let root = try setup.node("")
        let src = try setup.node("src")
        let kept = try setup.node("kept.txt")
        let journal = try Journal(path: setup.directory + "/journal.sqlite")
        var snapshot = try journal.load()
        var misparented = try #require(snapshot.nodes[try setup.node("src/b.txt")])
        misparented.parent = root
        var stray = LocalNode(
            id: LocalID(9_000), parent: nil, kind: .file, permissions: 0o644, time: Timestamp(seconds: 1, nanoseconds: 0),
            generation: 1)
        stray.size = 3
        try journal.write([
            .entry(directory: root, name: FileName("ghost.txt"), item: .local(LocalID(8_000), .file)),
            .entry(directory: src, name: FileName("again.txt"), item: .local(kept, .file)),
            .entry(directory: root, name: FileName("kept.txt"), item: .local(kept, .directory)),
            .node(misparented), .node(stray),
        ])
        snapshot = try journal.load()
        #expect(FileManager.default.createFile(atPath: setup.directory + "/overlay/9000", contents: Data("abc".utf8)))
        #expect(FileManager.default.createFile(atPath: setup.directory + "/overlay/77.copy", contents: Data()))

        let findings = JournalDirectoryCheck.inspect(directory: setup.directory)
        let kinds = Set(findings.map(\.kind))
        #expect(kinds.isSuperset(of: ["dangling-entry", "wrong-parent", "unreachable-nodes", "stray-overlay-files"]))
        #expect(kinds.isSuperset(of: ["listed-twice", "wrong-kind"]))
        #expect(findings.contains { $0.kind == "dangling-entry" && $0.location == "acme/demo/ghost.txt" })
        #expect(findings.first { $0.kind == "stray-overlay-files" }?.severity == .note)

        _ = try JournalDirectoryCheck.repair(
            directory: setup.directory, findings: findings, setAsideTo: setup.state.appending("damaged/journal-acme"))
        #expect(JournalDirectoryCheck.inspect(directory: setup.directory).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: setup.directory + "/overlay/9000"))
        #expect(!FileManager.default.fileExists(atPath: setup.directory + "/overlay/77.copy"))
        let fs = try setup.fs()
        let names = try await AdoptTests.names(fs, "acme/demo")
        #expect(!names.contains("ghost.txt") && names.contains("kept.txt"))
        #expect(try await AdoptTests.text(fs, "kept.txt") == "kept\n")
        #expect(try await AdoptTests.text(fs, "src/b.txt") == "b\n")
    }

    @Test func aJournalSQLiteCannotReadIsSetAsideWhole() throws {
        let setup = try Setup()
        do {
            _ = try setup.fs()
        }
        let path = setup.directory + "/journal.sqlite"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.write(contentsOf: Data(repeating: 0x5a, count: 512))
        try handle.close()
        for suffix in ["-wal", "-shm"] { unlink(path + suffix) }

        let findings = JournalDirectoryCheck.inspect(directory: setup.directory)
        #expect(findings.map(\.kind) == ["unreadable-journal"])
        #expect(throws: FSError.self) { try setup.fs() }
        let destination = setup.state.appending("damaged/journal-acme")
        let repaired = try JournalDirectoryCheck.repair(directory: setup.directory, findings: findings, setAsideTo: destination)
        #expect(repaired == ["set aside \(setup.directory) as \(destination)"])
        #expect(!FileManager.default.fileExists(atPath: setup.directory))
        #expect(FileManager.default.fileExists(atPath: destination + "/journal.sqlite"))
        // The next start begins afresh.
        _ = try setup.fs()
        #expect(JournalDirectoryCheck.inspect(directory: setup.directory).isEmpty)
    }
}
