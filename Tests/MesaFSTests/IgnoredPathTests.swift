import MesaCore
import MesaFS
import MesaSync
import SystemPackage
import MesaTesting
import Testing

/// `.mesaignore` in the write path: matching new paths stay local (no journal rows, no upload) and vanish on restart;
/// a rename across the boundary starts or stops tracking them.
struct IgnoredPathTests {
    static let tree = FixtureTree(["README.md": .text("hello\n")])

    struct Setup {
        let fixture: FixtureRepository
        let layout: MountLayout
        let state: TemporaryDirectory

        init() throws {
            fixture = try FixtureRepository(IgnoredPathTests.tree, time: 1_700_000_000)
            layout = try MountLayout([
                MountLayout.Repository(
                    path: RepositoryPath(organization: "acme", name: "demo"), revision: .defaultBookmark,
                    source: fixture.localSource())
            ])
            state = try TemporaryDirectory(prefix: "mesa-ignore-state")
        }

        func fs(_ rules: IgnoreRules = .default) throws -> MesaFS {
            try MesaFS(layout: layout, overlay: Overlay(directory: state.appending("state")), ignoreRules: rules)
        }
    }

    static func lookup(_ fs: MesaFS, _ path: String) async throws(FSError) -> InodeNumber {
        var inode = InodeNumber.root
        for component in path.split(separator: "/") {
            inode = try await fs.lookup(parent: inode, name: FileName(String(component))).attributes.inode
        }
        return inode
    }

    static func create(_ fs: MesaFS, in parent: InodeNumber, _ name: String, _ text: String) async throws {
        let result = try await fs.modify(
            .createFile(parent: parent, name: FileName(name), mode: 0o644, flags: OpenFlags(rawValue: 0o1)))
        guard case .created(let entry, _) = result else { throw FSError.invalidArgument("not created") }
        _ = try await fs.modify(.write(entry.attributes.inode, handle: .inodeReads, offset: 0, bytes: Array(text.utf8)))
    }

    /// The names an upload of the repository would write at its root.
    static func uploadedNames(_ fs: MesaFS) -> Set<String> {
        guard case .directory(_, let entries)? = fs.pendingUpload(repository: 0)?.root else { return [] }
        return Set(entries.keys.map(\.string))
    }

    @Test func ignoredPathsStayLocalAndVanishOnRestart() async throws {
        let setup = try Setup()
        let fs = try setup.fs()
        let root = try await Self.lookup(fs, "acme/demo")
        let git = try await fs.modify(.makeDirectory(parent: root, name: FileName(".git"), mode: 0o755))
        guard case .entry(let gitEntry) = git else { throw FSError.invalidArgument("no entry") }
        try await Self.create(fs, in: gitEntry.attributes.inode, "config", "[core]\n")
        try await Self.create(fs, in: root, "notes.swp", "swap\n")
        try await Self.create(fs, in: root, "kept.txt", "kept\n")
        #expect(Self.uploadedNames(fs) == ["README.md", "kept.txt"])
        #expect(fs.pendingChanges(repository: 0).files == 1)

        // Renamed out of the ignored pattern, the file is tracked (and uploads); renamed into it, it is not.
        _ = try await fs.modify(
            .rename(parent: root, name: FileName("notes.swp"), newParent: root, newName: FileName("notes.txt"), flags: []))
        #expect(Self.uploadedNames(fs) == ["README.md", "kept.txt", "notes.txt"])
        _ = try await fs.modify(
            .rename(parent: root, name: FileName("kept.txt"), newParent: root, newName: FileName("kept.txt~"), flags: []))
        #expect(Self.uploadedNames(fs) == ["README.md", "notes.txt"])
        #expect(fs.pendingChanges(repository: 0).files == 1)

        // A new filesystem over the same state directory: tracked edits are back, local-only ones are gone.
        let restarted = try setup.fs()
        await #expect(throws: FSError.notFound) { try await Self.lookup(restarted, "acme/demo/.git") }
        await #expect(throws: FSError.notFound) { try await Self.lookup(restarted, "acme/demo/kept.txt~") }
        let notes = try await Self.lookup(restarted, "acme/demo/notes.txt")
        #expect(try await restarted.read(inode: notes, offset: 0, size: 100).joined == Array("swap\n".utf8))
        #expect(Self.uploadedNames(restarted) == ["README.md", "notes.txt"])
    }

    /// A path deeper than a repository stores is refused when it is made (ENAMETOOLONG), not by the upload later.
    @Test func aPathTooDeepToStoreIsRefusedWhenMade() async throws {
        let setup = try Setup()
        let fs = try setup.fs()
        var parent = try await Self.lookup(fs, "acme/demo")
        for _ in 0..<255 {
            let made = try await fs.modify(.makeDirectory(parent: parent, name: FileName("d"), mode: 0o755))
            guard case .entry(let entry) = made else { throw FSError.notFound }
            parent = entry.attributes.inode
        }
        // 255 levels of directories: an entry below is the 256th component (the most a repository stores).
        _ = try await fs.modify(.makeSymlink(parent: parent, name: FileName("leaf"), target: Array("x".utf8)))
        guard case .entry(let last) = try await fs.modify(
            .makeDirectory(parent: parent, name: FileName("last"), mode: 0o755))
        else { throw FSError.notFound }
        let refused = await #expect(throws: FSError.self) {
            try await fs.modify(.makeDirectory(parent: last.attributes.inode, name: FileName("e"), mode: 0o755))
        }
        #expect(refused?.errno == .fileNameTooLong)
        #expect(throws: FSError.notFound) { try fs.lookupIfLocal(parent: last.attributes.inode, name: FileName("e")) }
    }

    @Test func withoutRulesANameARepositoryCannotStoreIsRefused() async throws {
        let setup = try Setup()
        let fs = try setup.fs(IgnoreRules(parsing: ""))
        let root = try await Self.lookup(fs, "acme/demo")
        for name in [".git", ".GIT", "git~1"] {
            await #expect(throws: FSError.self) {
                try await fs.modify(.makeDirectory(parent: root, name: FileName(name), mode: 0o755))
            }
        }
        let refused = await #expect(throws: FSError.self) {
            try await fs.modify(.makeDirectory(parent: root, name: FileName(".git"), mode: 0o755))
        }
        #expect(refused?.errno == .illegalByteSequence)
        #expect(fs.pendingUpload(repository: 0) == nil)
    }
}
