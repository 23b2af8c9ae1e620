import MesaCore
import MesaFS
import MesaTesting
import Testing

@Suite struct DirectoryTests {
    static let tree: FixtureTree = {
        var tree = FixtureTree()
        for index in 0..<40 { tree["many/file-\(String(index, radix: 36)).txt"] = .text("file \(index)\n") }
        tree["many/sub/x.txt"] = .text("x")
        tree["many/link"] = .symlink("sub/x.txt")
        return tree
    }()

    @Test func readdirPagesWithStableOffsets() async throws {
        let harness = try FSHarness.local(Self.tree)
        let many = try await harness.lookup("acme/demo/many").attributes.inode
        let whole = try await harness.list(many)
        let paged = try await harness.list(many, pageSize: 3)
        #expect(whole.map(\.name) == paged.map(\.name))
        #expect(whole.count == 2 + 42)
        #expect(Array(whole.prefix(2)).map(\.name.string) == [".", ".."])
        // Git order: bytewise, directories as if they ended in "/".
        let names = whole.dropFirst(2).map(\.name.string)
        #expect(names.first == "file-0.txt")
        #expect(names.last == "sub")
        #expect(whole.map(\.nextOffset) == Array(1...Int64(whole.count)))
        // Plain readdir gives each entry the number its lookup gives.
        let file = try #require(whole.first { $0.name.string == "file-a.txt" })
        let looked = try await harness.fs.lookup(parent: many, name: FileName("file-a.txt")).attributes.inode
        #expect(file.attributes.inode == looked)
        #expect(whole.first { $0.name.string == "sub" }?.attributes.kind == .directory)
        #expect(whole.first { $0.name.string == "link" }?.attributes.kind == .symbolicLink)
    }

    @Test func readdirplusCountsExactlyTheEntriesThatFit() async throws {
        let harness = try FSHarness.local(Self.tree)
        let many = try await harness.lookup("acme/demo/many").attributes.inode
        let handle = try harness.fs.opendir(many).handle
        var accepted: [DirectoryEntry] = []
        try await harness.fs.readdir(handle, offset: 0, plus: true) { entry in
            guard accepted.count < 7 else { return false }
            accepted.append(entry)
            return true
        }
        harness.fs.releasedir(handle)
        #expect(accepted.count == 7)
        #expect(harness.fs.lookupCount(of: many) == 1)
        for entry in accepted.dropFirst(2) {
            #expect(harness.fs.lookupCount(of: entry.attributes.inode) == 1)
            #expect(entry.attributes.size == Int64("file N\n".utf8.count) || entry.attributes.size == 8)
        }
        // The next entry was not handed out, so it is not loaded.
        let next = try await harness.list(many).dropFirst(7).first
        let refused = try #require(next)
        #expect(harness.fs.lookupCount(of: refused.attributes.inode) == nil)
    }

    @Test func readdirOfAFileIsRefused() async throws {
        let harness = try FSHarness.local(Self.tree)
        let file = try await harness.lookup("acme/demo/many/sub/x.txt").attributes.inode
        #expect(throws: FSError.notADirectory) { try harness.fs.opendir(file) }
        #expect(throws: FSError.isADirectory) {
            try harness.fs.open(InodeNumber.root, flags: .readOnly)
        }
    }
}
