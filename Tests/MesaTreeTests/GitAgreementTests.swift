import Foundation
import MesaCore
import MesaStore
import MesaTesting
import MesaTree
import Testing

/// Ids computed by MesaTree agree with real git.
@Suite struct GitAgreementTests {
    /// A directory with every kind of entry git records, plus things it does not (an empty directory).
    static func makeFixtureDirectory(_ root: String) throws {
        try Files.write(root + "/README.md", "# fixture\n")
        try Files.write(root + "/empty.txt", "")
        try Files.write(root + "/run.sh", "#!/bin/sh\necho hi\n", executable: true)
        try Files.symlink(root + "/link-to-readme", to: "README.md")
        try Files.symlink(root + "/dangling", to: "no/such/target")
        try Files.write(root + "/a/b/c/deep.txt", "deep\n")
        try Files.write(root + "/a/b/tool", "binary?\0\u{1}\u{2}", executable: true)
        // Git's order compares directories as if named "a/": "a-", "a.txt" and "a0" straddle it.
        try Files.write(root + "/a-", "dash\n")
        try Files.write(root + "/a.txt", "dot\n")
        try Files.write(root + "/a0/x", "zero\n")
        try Files.write(root + "/unicodé/日本語.txt", "こんにちは\n")
        try Files.write(root + "/unicodé/Ünïcödé name with spaces", "spaces\n")
        try FileManager.default.createDirectory(atPath: root + "/empty-dir/nested", withIntermediateDirectories: true)
        try Files.write(root + "/big.bin", bytes: {
            var random = SeededBytes(seed: 7)
            return random.bytes(300_000)
        }())
    }

    @Test func blobIDsMatchGitHashObject() throws {
        let fixture = try StoreFixture()
        var random = SeededBytes(seed: 3)
        let contents: [[UInt8]] = [[], Array("hello\n".utf8), random.bytes(70_000), random.text(1 << 20), [0, 0, 1]]
        for (index, content) in contents.enumerated() {
            let file = fixture.path("blob\(index)")
            try Files.write(file, bytes: content)
            let expected = try Git.run(["hash-object", file], in: fixture.directory.path)
            #expect(try fixture.repository.writeBlob(content).hex == expected)
            #expect(try fixture.repository.writeBlob(fileAt: file).hex == expected)
            #expect(try fixture.repository.readBlob(try #require(ObjectID(hex: expected))) == content)
        }
    }

    @Test func directoryTreeMatchesGitWriteTreeAndCatFile() throws {
        let fixture = try StoreFixture()
        let root = fixture.path("work")
        try Self.makeFixtureDirectory(root)
        let computed = try DirectorySnapshot.treeID(ofDirectory: root)
        let stored = try fixture.repository.writeTree(fromDirectory: root)

        try Git.run(["init", "-q"], in: root)
        try Git.run(["add", "-A"], in: root)
        let expected = try Git.run(["write-tree"], in: root)
        #expect(computed.hex == expected)
        #expect(stored.hex == expected)

        // Every tree's listing and bytes agree with git's, recursively.
        var trees = [stored]
        while let tree = trees.popLast() {
            let entries = try fixture.repository.tree(tree)
            let listing = entries.map { entry in
                let kind = entry.mode == .directory ? "tree" : "blob"
                return "\(entry.mode) \(kind) \(entry.id.hex)\t\(entry.name)"
            }.joined(separator: "\n")
            #expect(listing == (try Git.run(["-c", "core.quotepath=off", "cat-file", "-p", tree.hex], in: root)))
            let rawGit = try Git.runBytes(["cat-file", "tree", tree.hex], in: root)
            #expect(try fixture.store.get(RecordKey(.tree, object: tree)) == rawGit)
            trees += entries.filter { $0.mode == .directory }.map(\.id)
        }
        // Empty directories are not recorded; the order puts "a-" and "a.txt" before the directory "a".
        let names = try fixture.repository.tree(stored).map(\.name)
        #expect(!names.contains("empty-dir"))
        #expect(try #require(names.firstIndex(of: "a.txt")) < (try #require(names.firstIndex(of: "a"))))
        #expect(try #require(names.firstIndex(of: "a")) < (try #require(names.firstIndex(of: "a0"))))
    }

    @Test func debugTreeHashCommandMatchesGit() throws {
        let directory = try TemporaryDirectory(prefix: "mesa-tree-hash")
        let root = directory.appending("work")
        try Self.makeFixtureDirectory(root)
        let result = try MesaBinary.run(["debug", "tree-hash", root])
        #expect(result.status == 0, "\(result.standardError)")
        try Git.run(["init", "-q"], in: root)
        try Git.run(["add", "-A"], in: root)
        let expected = try Git.run(["write-tree"], in: root)
        #expect(result.standardOutput == expected + "\n")
    }

    @Test func objectHeaderComesFromTheManifestWithoutReadingContent() throws {
        let fixture = try StoreFixture()
        var random = SeededBytes(seed: 11)
        let content = random.bytes(3 << 20)
        let id = try fixture.repository.writeBlob(content)
        let chunks = try fixture.repository.manifest(ofBlob: id).chunks.count
        #expect(chunks > 4)
        let hitsBefore = fixture.store.stats().hits
        let header = try fixture.repository.objectHeader(id)
        #expect(header.kind == .blob)
        #expect(header.size == Int64(content.count))
        // One store read: the manifest. No chunk was read.
        #expect(fixture.store.stats().hits - hitsBefore == 1)

        let tree = try fixture.repository.writeTree([TreeEntry(name: "f", mode: .regular, id: id)])
        #expect(try fixture.repository.objectHeader(tree).kind == .tree)
        #expect(throws: TreeError.objectNotFound(ObjectID(hex: String(repeating: "ab", count: 20))!)) {
            try fixture.repository.objectHeader(ObjectID(hex: String(repeating: "ab", count: 20))!)
        }
    }

    @Test func writingTheSameContentTwiceStoresNothingNew() throws {
        let fixture = try StoreFixture()
        var random = SeededBytes(seed: 5)
        let content = random.bytes(1 << 20)
        let file = fixture.path("file")
        try Files.write(file, bytes: content)
        let first = try fixture.repository.writeBlob(content)
        let records = fixture.records
        let bytes = fixture.store.stats().bytes
        #expect(try fixture.repository.writeBlob(content) == first)
        #expect(try fixture.repository.writeBlob(fileAt: file) == first)
        #expect(fixture.records == records)
        #expect(fixture.store.stats().bytes == bytes)
    }
}
