import MesaCore
import MesaFS
import MesaSync
import MesaTesting
import Testing

/// What the FUSE thread answers without a Task: modifications of local nodes and lookups in local directories;
/// everything that needs a fetch (making a clean file or directory local) is left to the awaited calls.
struct WriteFastPathTests {
    static let tree = FixtureTree(["README.md": .text("hello\n"), "dir/inner.txt": .text("inner\n")])

    @Test func localWorkIsAnsweredAtOnceAndCleanWorkIsLeftToTheAwaitedPath() async throws {
        let fixture = try FixtureRepository(Self.tree, time: 1_700_000_000)
        let layout = try MountLayout([
            MountLayout.Repository(
                path: RepositoryPath(organization: "acme", name: "demo"), revision: .defaultBookmark,
                source: fixture.localSource())
        ])
        let state = try TemporaryDirectory(prefix: "mesa-fast-state")
        let fs = try MesaFS(layout: layout, overlay: Overlay(directory: state.appending("state")))
        let root = try await IgnoredPathTests.lookup(fs, "acme/demo")
        let create = Modification.createFile(
            parent: root, name: FileName("new.txt"), mode: 0o644, flags: OpenFlags(rawValue: 0o1))
        // The repository root is still clean: creating in it must fetch its tree first.
        #expect(try fs.modifyIfReady(create) == nil)
        #expect(try fs.lookupIfLocal(parent: root, name: FileName("README.md")) == nil)
        guard case .created(let entry, _) = try await fs.modify(create) else { throw FSError.notFound }
        let file = entry.attributes.inode

        // Now the root is local: a write to the new file, a lookup of it and of a missing name are immediate.
        #expect(try fs.modifyIfReady(.write(file, handle: .inodeReads, offset: 0, bytes: Array("x".utf8))) == .written(1))
        let found = try #require(try fs.lookupIfLocal(parent: root, name: FileName("new.txt")))
        #expect(found.attributes.inode == file && found.attributes.size == 1)
        #expect(fs.lookupCount(of: file) == 2)
        #expect(throws: FSError.notFound) { try fs.lookupIfLocal(parent: root, name: FileName("absent")) }
        // A clean subdirectory needs no fetch to be named; writing into it does.
        let dir = try #require(try fs.lookupIfLocal(parent: root, name: FileName("dir"))).attributes.inode
        #expect(try await fs.lookup(parent: root, name: FileName("dir")).attributes.inode == dir)
        let inner = Modification.makeDirectory(parent: dir, name: FileName("sub"), mode: 0o755)
        #expect(try fs.modifyIfReady(inner) == nil)
        _ = try await fs.modify(inner)
        #expect(try fs.lookupIfLocal(parent: dir, name: FileName("sub")) != nil)
        // A clean file's first write copies its bytes: awaited, never inline.
        let readme = try await fs.lookup(parent: root, name: FileName("README.md")).attributes.inode
        let append = Modification.write(readme, handle: .inodeReads, offset: 6, bytes: Array("more\n".utf8))
        #expect(try fs.modifyIfReady(append) == nil)
        #expect(try await fs.modify(append) == .written(5))
        #expect(try await fs.read(inode: readme, offset: 0, size: 100).joined == Array("hello\nmore\n".utf8))
    }
}
