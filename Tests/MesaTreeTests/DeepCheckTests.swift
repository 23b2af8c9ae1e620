import MesaCore
import MesaStore
import MesaTesting
import MesaTree
import Testing

/// `DeepCheck`: a clean repository reports nothing; each planted defect is named once, with its kind.
@Suite struct DeepCheckTests {
    /// A repository with history: nested directories, an evolved change, a child change, an executable, a symlink.
    private func cleanRepository() throws -> StoreFixture {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        let first = try repository.createChange(
            parents: [.root],
            edits: [
                .upsert(path: "src/main.c", blob: try fixture.blob("int main;\n"), mode: .regular),
                .upsert(path: "src/lib/util.c", blob: try fixture.blob("void f(void);\n"), mode: .regular),
                .upsert(path: "run.sh", blob: try fixture.blob("#!/bin/sh\n"), mode: .executable),
                .upsert(path: "link", blob: try fixture.blob("src/main.c"), mode: .symlink),
            ],
            message: "first\n",
            author: testAuthor
        )
        _ = try repository.evolveChange(
            first.id,
            edits: [.upsert(path: "README", blob: try fixture.blob("hello\n"), mode: .regular)],
            committer: testAuthor
        )
        _ = try repository.createChange(
            parents: [first.id],
            edits: [.delete(path: "src/lib/util.c")],
            message: "second\n",
            author: testAuthor
        )
        return fixture
    }

    private func check(_ fixture: StoreFixture) throws -> DeepCheckReport {
        let check = DeepCheck(store: fixture.store)
        return try check.run(roots: check.everyCommit())
    }

    /// Stores a raw tree body and returns its id.
    private func putTree(_ body: [UInt8], in store: ContentStore) throws -> ObjectID {
        let id = TreeCodec.objectID(kind: "tree", body: body)
        try store.put(body, key: RecordKey(.tree, object: id))
        return id
    }

    /// Stores a raw commit naming `tree` and `parents` and returns its id.
    private func putCommit(tree: ObjectID, parents: [ObjectID] = [], in store: ContentStore) throws -> ObjectID {
        var text = "tree \(tree.hex)\n"
        for parent in parents { text += "parent \(parent.hex)\n" }
        text += "author Test Author <author@example.com> 1700000000 +0100\n"
        text += "committer Test Author <author@example.com> 1700000000 +0100\n\nplanted\n"
        let body = Array(text.utf8)
        let id = TreeCodec.objectID(kind: "commit", body: body)
        try store.put(body, key: RecordKey(.commit, object: id))
        return id
    }

    /// One raw tree entry: `<mode> <name>\0<id>`.
    private func entry(_ mode: String, _ name: String, _ id: ObjectID) -> [UInt8] {
        Array("\(mode) \(name)\0".utf8) + id.bytes
    }

    @Test func aCleanRepositoryReportsNothing() throws {
        let fixture = try cleanRepository()
        let report = try check(fixture)
        #expect(report.findings == [])
        #expect(report.isClean)
        #expect(report.records == fixture.records)
        #expect(report.reachable == fixture.records)
        #expect(report.roots == 3)
        #expect(
            report.summary.hasSuffix(
                "0 corrupt, 0 unreferenced, 0 dangling-parent, 0 dangling-reference, 0 invalid-tree, 0 invalid-commit"
            )
        )
    }

    @Test func anOrphanChunkIsUnreferenced() throws {
        let fixture = try cleanRepository()
        let chunk = try fixture.store.putChunk(Array("nobody points at me".utf8))
        let report = try check(fixture)
        #expect(report.findings == [StoreFinding(.unreferenced, at: "chunk:\(chunk.hex)", "no root reaches it")])
        #expect(report.reachable == fixture.records - 1)
    }

    @Test(arguments: [("..", "dot-name"), (".GIT", "dot-git")])
    func aTreeEntryNamedLikeGitOrParentIsAnInvalidTree(name: String, rule: String) throws {
        let fixture = try cleanRepository()
        let blob = try fixture.blob("planted\n")
        let tree = try putTree(entry("100644", name, blob), in: fixture.store)
        _ = try putCommit(tree: tree, in: fixture.store)
        let report = try check(fixture)
        #expect(report.findings.map(\.kind) == [.invalidTree])
        let finding = try #require(report.findings.first)
        #expect(finding.location == "tree:\(tree.hex)")
        #expect(finding.detail.contains("(rule \(rule)) at '\(name)'"))
        #expect(finding.line == "invalid-tree\ttree:\(tree.hex)\t\(finding.detail)")
    }

    @Test func aCommitWhoseParentIsAbsentHasADanglingParent() throws {
        let fixture = try cleanRepository()
        let tree = try fixture.repository.writeTree([TreeEntry(name: "a", mode: .regular, id: try fixture.blob("a\n"))])
        let absent = TreeCodec.objectID(kind: "commit", body: Array("never stored".utf8))
        let commit = try putCommit(tree: tree, parents: [absent], in: fixture.store)
        let report = try check(fixture)
        #expect(
            report.findings == [
                StoreFinding(
                    .danglingParent,
                    at: "commit:\(commit.hex)",
                    "names parent commit:\(absent.hex), which is not in the store"
                )
            ]
        )
    }

    @Test func aTreeNamingAMissingManifestHasADanglingReference() throws {
        let fixture = try cleanRepository()
        let missing = TreeCodec.objectID(kind: "blob", body: Array("never stored".utf8))
        let present = try fixture.blob("here\n")
        let tree = try fixture.repository.writeTree([
            TreeEntry(name: "gone.txt", mode: .regular, id: missing),
            TreeEntry(name: "here.txt", mode: .regular, id: present),
        ])
        _ = try putCommit(tree: tree, in: fixture.store)
        let report = try check(fixture)
        #expect(
            report.findings == [
                StoreFinding(
                    .danglingReference,
                    at: "tree:\(tree.hex)",
                    "entry 'gone.txt' names manifest:\(missing.hex), which is not in the store"
                )
            ]
        )
    }

    @Test func aCommitNamingAMissingTreeAndAManifestNamingAMissingChunkAreDanglingReferences() throws {
        let fixture = try cleanRepository()
        let absentTree = TreeCodec.objectID(kind: "tree", body: Array("never stored".utf8))
        let commit = try putCommit(tree: absentTree, in: fixture.store)
        // A manifest of one chunk that was never stored, reached from a commit's tree.
        let chunk = ChunkRef(id: try #require(ChunkID(bytes: [UInt8](repeating: 7, count: 32))), length: 5)
        let blob = TreeCodec.objectID(kind: "blob", body: Array("fives".utf8))
        try fixture.store.put(Manifest(chunks: [chunk]).encoded(), key: RecordKey(.manifest, object: blob))
        let tree = try fixture.repository.writeTree([TreeEntry(name: "f", mode: .regular, id: blob)])
        _ = try putCommit(tree: tree, in: fixture.store)

        let report = try check(fixture)
        let dangling = report.findings.filter { $0.kind == .danglingReference }
        #expect(
            dangling == [
                StoreFinding(
                    .danglingReference,
                    at: "commit:\(commit.hex)",
                    "its tree line names tree:\(absentTree.hex), which is not in the store"
                ),
                StoreFinding(
                    .danglingReference,
                    at: "manifest:\(blob.hex)",
                    "names chunk:\(chunk.id.hex), which is not in the store"
                ),
            ]
        )
        // verify() cannot hash the manifest's content either.
        #expect(report.findings.filter { $0.kind != .danglingReference }.map(\.kind) == [.corrupt])
    }

    @Test func aCommitBreakingTheCommitRulesIsAnInvalidCommitAndStillWalked() throws {
        let fixture = try cleanRepository()
        let blob = try fixture.blob("walked\n")
        let tree = try fixture.repository.writeTree([TreeEntry(name: "w", mode: .regular, id: blob)])
        // Committer before author: git's layout is broken, the tree is still followed.
        let body = Array(
            """
            tree \(tree.hex)
            committer Test Author <author@example.com> 1700000000 +0100
            author Test Author <author@example.com> 1700000000 +0100

            swapped

            """.utf8
        )
        let id = TreeCodec.objectID(kind: "commit", body: body)
        try fixture.store.put(body, key: RecordKey(.commit, object: id))
        let report = try check(fixture)
        #expect(report.findings.map(\.kind) == [.invalidCommit])
        #expect(report.findings.first?.location == "commit:\(id.hex)")
        #expect(report.findings.first?.detail.contains("rule malformed-commit") == true)
        #expect(report.reachable == report.records)
    }

    @Test func aDirectoryEntryNamingABlobBreaksTheEntryKindRule() throws {
        let fixture = try cleanRepository()
        let blob = try fixture.blob("not a directory\n")
        let tree = try putTree(entry("40000", "dir", blob), in: fixture.store)
        _ = try putCommit(tree: tree, in: fixture.store)
        let report = try check(fixture)
        // The blob's manifest and chunk are reached through no directory entry.
        #expect(report.findings.map(\.kind) == [.unreferenced, .unreferenced, .invalidTree])
        #expect(report.findings.last?.location == "tree:\(tree.hex)")
        #expect(report.findings.last?.detail.contains("rule entry-kind-mismatch") == true)
    }

    @Test func aTenThousandLevelTreeIsOneDepthFindingWithoutRecursion() throws {
        let fixture = try cleanRepository()
        var tree = try fixture.repository.writeTree([TreeEntry(name: "leaf", mode: .regular, id: try fixture.blob("x"))]
        )
        for _ in 0..<10_000 { tree = try putTree(entry("40000", "d", tree), in: fixture.store) }
        _ = try putCommit(tree: tree, in: fixture.store)
        let report = try check(fixture)
        #expect(report.findings.map(\.kind) == [.invalidTree])
        #expect(report.findings.first?.detail.contains("rule path-too-deep") == true)
        #expect(report.reachable == report.records)
    }

    @Test func findingLinesEscapeControlCharacters() {
        let finding = StoreFinding(.invalidTree, at: "tree:00", "a name (rule control-character) at 'a\nb\tc\u{1}'")
        #expect(finding.line == "invalid-tree\ttree:00\ta name (rule control-character) at 'a\\nb\\tc\\x01'")
    }
}
