import Foundation
import MesaCore
import MesaStore
import MesaTesting
import MesaTree
import Testing

@Suite struct ChangeIDTests {
    @Test func textFormUsesTheReverseHexAlphabet() throws {
        let bytes: [UInt8] =
            [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x00, 0xff] + Array(repeating: 0x10, count: 6)
        let id = try #require(ChangeID(bytes: bytes))
        #expect(id.description == "zyxwvutsrqponmlkzzkkyzyzyzyzyzyz")
        #expect(ChangeID(parsing: id.description) == id)
        #expect(id.bytes == bytes)
        #expect(ChangeID.root.description == String(repeating: "z", count: 32))
        #expect(ChangeID(parsing: String(repeating: "z", count: 32)) == .root)
        #expect(ChangeID.root.isRoot)
    }

    @Test(arguments: ["", "zzzz", String(repeating: "z", count: 31) + "a", String(repeating: "Z", count: 32),
        String(repeating: "z", count: 33), String(repeating: "j", count: 32)])
    func malformedTextIsRefused(text: String) {
        #expect(ChangeID(parsing: text) == nil)
    }

    @Test func randomIDsRoundTripAndDiffer() {
        var seen = Set<ChangeID>()
        for _ in 0..<1000 {
            let id = ChangeID.random()
            #expect(ChangeID(parsing: id.description) == id)
            #expect(ChangeID(bytes: id.bytes) == id)
            seen.insert(id)
        }
        #expect(seen.count == 1000)
    }

    @Test func importedCommitsGetDeterministicIDs() throws {
        let commit = try #require(ObjectID(hex: "4f3a40d913e865234c86e5f71544ecf6345eab97"))
        #expect(ChangeID(importedCommit: commit) == ChangeID(importedCommit: commit))
        #expect(ChangeID(importedCommit: commit) != ChangeID(importedCommit: TreeCodecIDs.empty))
    }
}

enum TreeCodecIDs {
    // The well-known empty tree id always parses.
    static let empty = ObjectID(hex: "4b825dc642cb6eb9a060e54bf8d69288fbee4904")!
}

@Suite struct ChangeTests {
    @Test func createdCommitsCarryTheChangeIDHeaderAndGitAcceptsThem() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        let change = try repository.createChange(
            parents: [.root], edits: [.upsert(path: "hello.txt", blob: try fixture.blob("hi\n"), mode: .regular)],
            message: "first\n", author: testAuthor)
        let bytes = try repository.commitBytes(change.commit)
        let text = String(decoding: bytes, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let committer = try #require(lines.firstIndex { $0.hasPrefix("committer ") })
        #expect(lines[committer + 1] == "change-id \(change.id)")
        #expect(lines[committer] == "committer Test Author <author@example.com> 1700000000 +0100")

        // Real git computes the same id and shows the header (hash-object checks the format).
        let bare = fixture.path("bare.git")
        try Git.run(["init", "-q", "--bare", bare], in: fixture.directory.path)
        let gitID = try Git.run(["hash-object", "-t", "commit", "-w", "--stdin"], in: bare, input: bytes)
        #expect(gitID == change.commit.hex)
        let shown = try Git.run(["cat-file", "-p", gitID], in: bare)
        #expect(shown.contains("\nchange-id \(change.id)\n"))

        let parsed = try repository.commit(change.commit)
        #expect(parsed.changeID == change.id)
        #expect(parsed.parents.isEmpty)
        #expect(parsed.author == testAuthor)
        #expect(parsed.message == "first\n")
        #expect(change.parents == [.root])
    }

    @Test func evolvingKeepsTheChangeIDAndRefusesStaleExpectations() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        let first = try repository.createChange(
            parents: [], edits: [.upsert(path: "a", blob: try fixture.blob("1"), mode: .regular)], message: "one",
            author: testAuthor)
        let second = try repository.createChange(
            parents: [first.id], edits: [.upsert(path: "b", blob: try fixture.blob("2"), mode: .regular)],
            message: "two", author: testAuthor)
        #expect(try repository.commit(second.commit).parents == [first.commit])

        let evolved = try repository.evolveChange(
            second.id, edits: [.delete(path: "a")], message: "two, evolved", committer: testAuthor,
            expectedCommit: second.commit)
        #expect(evolved.id == second.id)
        #expect(evolved.commit != second.commit)
        #expect(evolved.parents == [first.id])
        #expect(try repository.change(second.id) == evolved)
        let commit = try repository.commit(evolved.commit)
        #expect(commit.changeID == second.id)
        #expect(commit.parents == [first.commit])
        #expect(try repository.files(in: commit.tree).map(\.path) == ["b"])

        #expect(throws: TreeError.staleChange(second.id, expected: second.commit, current: evolved.commit)) {
            try repository.evolveChange(second.id, edits: [], committer: testAuthor, expectedCommit: second.commit)
        }
        #expect(throws: TreeError.changeNotFound(ChangeID(importedCommit: evolved.commit))) {
            try repository.tree(ofChange: ChangeID(importedCommit: evolved.commit))
        }
        #expect(try repository.tree(ofChange: .root).hex == "4b825dc642cb6eb9a060e54bf8d69288fbee4904")
    }

    @Test func bookmarksPointAtChanges() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        try repository.setBookmark("main", to: .root, expected: .absent)
        let change = try repository.createChange(
            parents: [.root], edits: [.upsert(path: "a", blob: try fixture.blob("1"), mode: .regular)], message: "",
            author: testAuthor)
        try repository.setBookmark("main", to: change.id, expected: .equal(.root))
        #expect(try repository.resolveBookmark("main") == change.id)
        #expect(throws: TreeError.staleBookmark("main", expected: .root, current: change.id)) {
            try repository.setBookmark("main", to: .root, expected: .equal(.root))
        }
        #expect(throws: TreeError.bookmarkNotFound("feature")) { try repository.resolveBookmark("feature") }
        #expect(throws: TreeError.changeNotFound(ChangeID(importedCommit: change.commit))) {
            try repository.setBookmark("x", to: ChangeID(importedCommit: change.commit))
        }
        #expect(try repository.catalog.bookmarks() == [Bookmark(name: "main", change: change.id)])
    }
}
