import Foundation
import MesaCore
import MesaStore
import MesaTesting
import MesaTree
import Testing

@Suite struct TreeEditTests {
    @Test func editsFromEmptyBuildTheTreeGitBuilds() throws {
        let fixture = try StoreFixture()
        let root = fixture.path("work")
        try Files.write(root + "/src/main.swift", "print(1)\n")
        try Files.write(root + "/src/lib/util.swift", "let x = 1\n")
        try Files.write(root + "/bin/tool", "#!/bin/sh\n", executable: true)
        try Files.symlink(root + "/current", to: "src/main.swift")
        try Files.write(root + "/README", "")
        try Git.run(["init", "-q"], in: root)
        try Git.run(["add", "-A"], in: root)
        let expected = try Git.run(["write-tree"], in: root)

        let repository = fixture.repository
        let tree = try repository.applying(
            [
                .upsert(path: "src/main.swift", blob: try fixture.blob("print(1)\n"), mode: .regular),
                .upsert(path: "src/lib/util.swift", blob: try fixture.blob("let x = 1\n"), mode: .regular),
                .upsert(path: "bin/tool", blob: try fixture.blob("#!/bin/sh\n"), mode: .executable),
                .upsert(path: "current", blob: try fixture.blob("src/main.swift"), mode: .symlink),
                .upsert(path: "README", blob: try fixture.blob(""), mode: .regular),
            ], to: nil)
        #expect(tree.hex == expected)
    }

    /// Edits spliced into a tree git wrote land where git puts them (directories sort as if named "a/").
    @Test func editsOnAGitTreeMatchTheSameEditsMadeWithGit() throws {
        let fixture = try StoreFixture()
        let root = fixture.path("work")
        for path in ["a.txt", "a/x", "a0", "b/c/d", "z"] { try Files.write(root + "/" + path, path + "\n") }
        let base = try fixture.repository.writeTree(fromDirectory: root)

        try Files.write(root + "/a-", "dash\n")
        try Files.write(root + "/a/new", "new\n")
        try Files.write(root + "/a.", "dot\n", executable: true)
        try FileManager.default.removeItem(atPath: root + "/a.txt")
        try FileManager.default.moveItem(atPath: root + "/b", toPath: root + "/a1")
        try Files.write(root + "/z", "z changed\n")
        try Git.run(["init", "-q"], in: root)
        try Git.run(["add", "-A"], in: root)
        let expected = try Git.run(["write-tree"], in: root)

        let edited = try fixture.repository.applying(
            [
                .upsert(path: "a-", blob: try fixture.blob("dash\n"), mode: .regular),
                .upsert(path: "a/new", blob: try fixture.blob("new\n"), mode: .regular),
                .upsert(path: "a.", blob: try fixture.blob("dot\n"), mode: .executable),
                .delete(path: "a.txt"),
                .rename(from: "b", to: "a1"),
                .upsert(path: "z", blob: try fixture.blob("z changed\n"), mode: .regular),
            ], to: base)
        #expect(edited.hex == expected)
    }

    @Test func deleteRenameAndImplicitDirectories() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        let a = try fixture.blob("a\n")
        let b = try fixture.blob("b\n")
        let base = try repository.applying(
            [
                .upsert(path: "dir/a", blob: a, mode: .regular),
                .upsert(path: "dir/sub/b", blob: b, mode: .executable),
                .upsert(path: "top", blob: b, mode: .regular),
            ], to: nil)

        // Rename a directory, delete its last file's sibling, and write below a path that is a file today.
        let edited = try repository.applying(
            [
                .rename(from: "dir/sub", to: "moved/deeper/sub"),
                .delete(path: "dir/a"),
                .upsert(path: "top/now-a-dir", blob: a, mode: .regular),
            ], to: base)
        let files = try repository.files(in: edited).map { "\($0.path) \($0.entry.mode)" }
        #expect(files == ["moved/deeper/sub/b 100755", "top/now-a-dir 100644"])
        // "dir" became empty and disappeared, like in git.
        #expect(throws: TreeError.notFound(path: "dir")) { try repository.entry(at: "dir", in: edited) }
        #expect(try repository.entry(at: "moved/deeper/sub/b", in: edited).id == b)
        // The base is untouched.
        #expect(try repository.entry(at: "dir/sub/b", in: base).mode == .executable)

        // Deleting everything gives the empty tree.
        let empty = try repository.applying([.delete(path: "moved"), .delete(path: "top")], to: edited)
        #expect(empty.hex == "4b825dc642cb6eb9a060e54bf8d69288fbee4904")
    }

    @Test func lookupOfMissingPathThrowsNotFound() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        let tree = try repository.applying([.upsert(path: "a/b", blob: try fixture.blob("x"), mode: .regular)], to: nil)
        #expect(throws: TreeError.notFound(path: "a/c")) { try repository.entry(at: "a/c", in: tree) }
        #expect(throws: TreeError.notFound(path: "a/b/c")) { try repository.entry(at: "a/b/c", in: tree) }
        #expect(throws: TreeError.notFound(path: "nope")) {
            try repository.applying([.delete(path: "nope")], to: tree)
        }
        #expect(throws: TreeError.notFound(path: "x")) {
            try repository.applying([.rename(from: "x", to: "y")], to: tree)
        }
    }

    @Test(arguments: ["", "/a", "a/", "a//b", "a/./b", "../a", "a/.git/b", "a\u{0}b"])
    func malformedPathsAreRefused(path: String) throws {
        let fixture = try StoreFixture()
        let blob = try fixture.blob("x")
        #expect {
            try fixture.repository.applying([.upsert(path: path, blob: blob, mode: .regular)], to: nil)
        } throws: { error in
            guard case .invalid = error as? TreeError else { return false }
            return true
        }
    }

    @Test func walkVisitsEveryEntryInGitOrder() throws {
        let fixture = try StoreFixture()
        let blob = try fixture.blob("x")
        let tree = try fixture.repository.applying(
            ["b", "a/z", "a-", "a/y/q"].map { .upsert(path: $0, blob: blob, mode: .regular) }, to: nil)
        var paths: [String] = []
        try fixture.repository.walk(tree) { item in
            paths.append(item.path)
            return true
        }
        #expect(paths == ["a-", "a", "a/y", "a/y/q", "a/z", "b"])
    }

    /// 10 x 10 x 10 directories of 100 files: 100,000 files in 1,111 trees.
    @Test(.tags(.slow)) func oneFileEditDeepInA100kTreeRewritesOnlyTheTreesOnItsPath() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        var blobs: [ObjectID] = []
        for index in 0..<100 { blobs.append(try fixture.blob("content \(index)\n")) }
        var edits: [TreeEdit] = []
        edits.reserveCapacity(100_000)
        for top in 0..<10 {
            for middle in 0..<10 {
                for bottom in 0..<10 {
                    for file in 0..<100 {
                        let path = "d\(top)/e\(middle)/f\(bottom)/file\(file).txt"
                        edits.append(.upsert(path: path, blob: blobs[file], mode: .regular))
                    }
                }
            }
        }
        let base = try repository.applying(edits, to: nil)
        #expect(try repository.files(in: base).count == 100_000)

        let newBlob = try fixture.blob("the edit\n")
        let before = fixture.records
        let edited = try repository.applying(
            [.upsert(path: "d3/e4/f5/file42.txt", blob: newBlob, mode: .regular)], to: base)
        // The root, d3, d3/e4 and d3/e4/f5: four new tree records and nothing else.
        #expect(fixture.records - before == 4)
        for path in ["d3", "d3/e4", "d3/e4/f5"] {
            #expect(try repository.entry(at: path, in: edited).id != (try repository.entry(at: path, in: base).id))
        }
        #expect(try repository.entry(at: "d3/e4/f6", in: edited) == (try repository.entry(at: "d3/e4/f6", in: base)))
        #expect(try repository.entry(at: "d2", in: edited) == (try repository.entry(at: "d2", in: base)))
        let diff = try repository.diff(from: base, to: edited)
        #expect(diff.entries.map(\.path) == ["d3/e4/f5/file42.txt"])
    }
}

extension Tag {
    /// Tests that take seconds.
    @Tag static var slow: Self
}
