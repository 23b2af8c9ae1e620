import Foundation
import MesaCore
import MesaKit
import MesaStore
import MesaTesting
import MesaTree
import Testing

@Suite(.serialized) struct ImportEndToEndTests {
    let server: ServerProcess
    let mesa: Mesa

    init() throws {
        server = try ServerProcess()
        mesa = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
    }

    /// Runs `mesa import` against the server.
    private func runImport(_ arguments: [String], environment: [String: String]? = nil) throws -> MesaBinary.Result {
        try MesaBinary.run(
            ["import"] + arguments,
            environment: environment
                ?? ["MESA_API_KEY": server.adminKey, "MESA_SERVICE_DOMAIN": server.url, "MESA_ORG": "local"])
    }

    /// Runs `mesa import --json` and returns its summary.
    private func importJSON(_ arguments: [String]) throws -> [String: Any] {
        let result = try runImport(arguments + ["--json"])
        #expect(result.status == 0, "\(result.standardError)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
    }

    /// A source with several commits: nested directories, a rename, an executable, a symlink, a binary file, a
    /// deleted file and a 5 MiB file.
    private func makeSource() throws -> GitSource {
        let source = try GitSource()
        var random = SeededBytes(seed: 77)
        try source.write("README.md", "# demo\n")
        try source.write("src/main.c", "int main(void) { return 0; }\n")
        try source.write("docs/guide/intro.md", "Intro\n")
        try source.write("bin/run.sh", "#!/bin/sh\necho run\n", executable: true)
        try source.write("tmp/scratch.txt", "soon gone\n")
        var binary = random.bytes(10_000)
        binary[100] = 0
        try source.write("data/blob.bin", binary)
        try FileManager.default.createSymbolicLink(atPath: source.path + "/link", withDestinationPath: "README.md")
        try source.commit("first")
        try source.git("mv docs/guide/intro.md docs/guide/introduction.md")
        try source.write("src/main.c", "int main(void) { return 1; }\n")
        try source.commit("rename and edit")
        try source.write("big/large.bin", random.bytes(5 << 20))
        try source.write("a/b/c/d/deep.txt", "deep\n")
        try FileManager.default.removeItem(atPath: source.path + "/tmp/scratch.txt")
        try source.commit("large file, deep file, a deletion")
        return source
    }

    /// Every file of `revision` as `git archive` writes it, compared with REST content (raw bytes, and the mode of
    /// the JSON answer) at the repo's default bookmark.
    private func expectRESTMatchesGitArchive(_ source: GitSource, _ revision: String, repo: String) async throws {
        let out = try TemporaryDirectory(prefix: "mesa-e2e-archive")
        let archive = try Shell.run("git -C '\(source.path)' archive --format=tar \(revision) | tar -x -C '\(out.path)'")
        #expect(archive.status == 0, "\(archive.error)")
        let listing = try source.git("ls-tree -r \(revision)")
        var checked = 0
        for line in listing.split(separator: "\n") {
            let parts = line.split(separator: "\t", maxSplits: 1)
            let mode = String(parts[0].split(separator: " ")[0])
            let path = String(parts[1])
            let expected: [UInt8]
            if mode == "120000" {
                expected = Array(try FileManager.default.destinationOfSymbolicLink(atPath: out.appending(path)).utf8)
            } else {
                expected = Array(try Data(contentsOf: URL(fileURLWithPath: out.appending(path))))
            }
            let raw = try await mesa.content(repo).bytes(path: path)
            #expect(raw == expected, "content of \(path)")
            let entry = try await mesa.content(repo).get(path: path)
            #expect(entry.mode == mode, "mode of \(path)")
            #expect(entry.type == (mode == "120000" ? "symlink" : "file"), "type of \(path)")
            checked += 1
        }
        #expect(checked >= 8)
    }

    @Test func importMatchesGitAndIsIdempotentIncrementalAndGuardedAgainstRewrites() async throws {
        let source = try makeSource()
        let first = try importJSON([source.path, "--repo", "demo"])
        #expect(first["status"] as? String == "pushed")
        #expect(first["commits"] as? Int == 3)
        #expect(first["new_changes"] as? Int == 3)
        #expect((first["records_sent"] as? Int ?? 0) > 20)
        #expect((first["bytes_sent"] as? Int ?? 0) > 4 << 20)

        try await expectRESTMatchesGitArchive(source, "main", repo: "demo")
        let history = Set(try source.git("rev-list main").split(separator: "\n").map(String.init))
        let listed = try await mesa.changes("demo").all(bookmark: "main").collect()
        #expect(Set(listed.map(\.currentCommitOID)) == history)
        let repo = try await mesa.repos.get("demo")
        #expect(repo.defaultBookmark == "main")
        #expect(listed.first { $0.id == repo.headChangeID }?.currentCommitOID == (try source.revParse("main")))

        // Again: nothing to send.
        let again = try runImport([source.path, "--repo", "demo"])
        #expect(again.status == 0)
        #expect(again.standardOutput.contains("up to date"), "\(again.standardOutput)")
        let againJSON = try importJSON([source.path, "--repo", "demo"])
        #expect(againJSON["status"] as? String == "up_to_date")
        #expect(againJSON["records_sent"] as? Int == 0)

        // One more commit: its new chunk, manifest, root tree and commit travel, nothing else.
        try source.write("added.txt", "added\n")
        try source.commit("fourth")
        let incremental = try importJSON([source.path, "--repo", "demo"])
        #expect(incremental["status"] as? String == "pushed")
        #expect(incremental["new_changes"] as? Int == 1)
        #expect(incremental["records_sent"] as? Int == 4)
        #expect(try await mesa.changes("demo").all(bookmark: "main").collect().count == 4)
        let bookmark = try await mesa.bookmarks("demo").get("main")

        // A rewritten history is refused without --force and leaves the bookmark where it was.
        try source.commit("fourth, reworded", amend: true)
        let refused = try runImport([source.path, "--repo", "demo"])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("--force"), "\(refused.standardError)")
        #expect(try await mesa.bookmarks("demo").get("main").changeID == bookmark.changeID)

        let forced = try importJSON([source.path, "--repo", "demo", "--force"])
        #expect(forced["status"] as? String == "pushed")
        #expect(forced["records_sent"] as? Int == 1)  // the reworded commit; its tree is already there
        let moved = try await mesa.bookmarks("demo").get("main")
        #expect(try await mesa.changes("demo").get(moved.changeID).currentCommitOID == (try source.revParse("main")))
        try await expectRESTMatchesGitArchive(source, "main", repo: "demo")
        #expect(try importJSON([source.path, "--repo", "demo"])["status"] as? String == "up_to_date")
    }

    @Test func fetchVerifyPushAndAStalePushThroughTheSyncClient() async throws {
        let source = try makeSource()
        _ = try importJSON([source.path, "--repo", "demo"])
        let sync = mesa.sync("demo")

        // Polling: the second resolve is a 304.
        let head = try #require(try await sync.resolve(["bookmark:main"]).resolutions.first)
        #expect(try await sync.resolve(["bookmark:main"]).changed == false)
        #expect(head.commit == (try source.revParse("main")))

        // A lookup in one round trip, verified into a local store.
        let local = try TemporaryDirectory(prefix: "mesa-e2e-client")
        let store = try ContentStore(path: local.appending("store"))
        let repository = try MesaRepository(store: store)
        let lookup = try await sync.lookup(revision: "bookmark:main", path: "src/main.c")
        #expect(lookup.header.type == "file" && lookup.header.mode == "100644")
        var receiver = VerifyingReceiver(store: store)
        for try await record in lookup.records { _ = try receiver.receive(try StoredRecord(record)) }
        #expect(receiver.unverified.isEmpty)
        let blobHex = try #require(lookup.header.id)
        let blob = try #require(ObjectID(hex: blobHex))
        #expect(try repository.readBlob(blob) == Array("int main(void) { return 1; }\n".utf8))

        // The tip's commit, every tree and all content, verified.
        let tip = try #require(ObjectID(hex: head.commit))
        let root = try #require(ObjectID(hex: head.rootTree))
        for try await record in try await sync.objects(keys: [RecordKey(.commit, object: tip)]) {
            _ = try receiver.receive(try StoredRecord(record))
        }
        for try await record in try await sync.trees(roots: [root]) { _ = try receiver.receive(try StoredRecord(record)) }
        let content = SubtreeContent(tree: root.hex, maxBytes: 64 << 20, maxFileBytes: 64 << 20)
        for try await record in try await sync.objects(keys: [], subtree: content) {
            _ = try receiver.receive(try StoredRecord(record))
        }
        #expect(receiver.unverified.isEmpty)
        #expect(store.verify().corrupt.isEmpty)

        // A change built locally on the tip, pushed with the bookmark move, read back through REST.
        let tipChange = try #require(ChangeID(parsing: head.changeID))
        try repository.catalog.putChange(ChangeRecord(id: tipChange, commit: tip, parents: []), expected: .absent)
        let author = MesaTree.Signature(name: "agent", email: "agent@example.com", time: 1_700_100_000)
        let change = try repository.createChange(
            parents: [tipChange],
            edits: [.upsert(path: "notes/agent.txt", blob: try repository.writeBlob(Array("from the agent\n".utf8)), mode: .regular)],
            message: "agent note", author: author)
        let planned = try repository.records(reachableFrom: [change.commit], known: [tip])
        let missing = try await sync.have(keys: planned)
        #expect(missing.count == 5)  // chunk, manifest, notes/ tree, root tree, commit
        let pushed = try await sync.push(
            records: try missing.map { try SyncRecord(key: $0, store: store) },
            transaction: PushTransaction(
                changes: [ChangeUpdate(changeID: change.id.description, expectedCommit: nil, commit: change.commit.hex, parents: [tipChange.description])],
                bookmarks: [BookmarkUpdate(name: "main", expectedChange: tipChange.description, change: change.id.description)]))
        #expect(pushed.applied)
        #expect(pushed.result.stored == 5)
        #expect(try await mesa.content("demo").bytes(path: "notes/agent.txt") == Array("from the agent\n".utf8))
        #expect(try await mesa.changes("demo").get(change.id.description).currentCommitOID == change.commit.hex)
        #expect(try await sync.resolve(["bookmark:main"]).changed)

        // Evolve it, then push a second evolution from the same base: stale, 409 with what a merge needs.
        let evolved = try repository.evolveChange(
            change.id, edits: [.upsert(path: "notes/agent.txt", blob: try repository.writeBlob(Array("v2\n".utf8)), mode: .regular)],
            committer: author)
        let evolve = PushTransaction(
            changes: [ChangeUpdate(changeID: change.id.description, expectedCommit: change.commit.hex, commit: evolved.commit.hex, parents: [tipChange.description])],
            bookmarks: [])
        let evolvedMissing = try await sync.have(keys: try repository.records(reachableFrom: [evolved.commit], known: [change.commit, tip]))
        let applied = try await sync.push(records: try evolvedMissing.map { try SyncRecord(key: $0, store: store) }, transaction: evolve)
        #expect(applied.applied)

        let stale = try await sync.push(records: [], transaction: evolve)
        #expect(!stale.applied)
        #expect(stale.result.conflicts == [PushConflict(kind: "change", name: change.id.description, expected: change.commit.hex, current: evolved.commit.hex)])
        #expect(stale.mergeMaterial.contains { $0.key == RecordKey(.commit, object: evolved.commit) })
        #expect(stale.mergeMaterial.contains { $0.key.kind == .tree })
        let mergeStore = try ContentStore(path: local.appending("merge"))
        for record in stale.mergeMaterial { try mergeStore.putVerified(try StoredRecord(record)) }
        #expect(mergeStore.verify().corrupt.isEmpty)
        // Nothing moved.
        #expect(try await mesa.changes("demo").get(change.id.description).currentCommitOID == evolved.commit.hex)
    }

    @Test func aNewBranchBecomesTheDefaultOfAnEmptyRepoAndErrorsSayWhatToDo() async throws {
        let source = try GitSource(branch: "trunk")
        try source.write("hello.txt", "hello\n")
        try source.commit("hello")
        _ = try await mesa.repos.create(name: "empty")
        let summary = try importJSON([source.path, "--repo", "empty"])
        #expect(summary["bookmark"] as? String == "trunk")
        #expect(summary["default_bookmark_set"] as? Bool == true)
        #expect(try await mesa.repos.get("empty").defaultBookmark == "trunk")
        #expect(try await mesa.content("empty").bytes(path: "hello.txt") == Array("hello\n".utf8))

        let noCredential = try runImport(
            [source.path, "--repo", "x"], environment: ["MESA_API_KEY": "", "MESA_SERVICE_DOMAIN": server.url])
        #expect(noCredential.status != 0)
        #expect(noCredential.standardError.contains("MESA_API_KEY"), "\(noCredential.standardError)")

        let unreachable = try runImport(
            [source.path, "--repo", "x"], environment: ["MESA_API_KEY": server.adminKey, "MESA_SERVICE_DOMAIN": "http://127.0.0.1:1"])
        #expect(unreachable.status != 0)
        #expect(unreachable.standardError.contains("cannot reach the Mesa server"), "\(unreachable.standardError)")

        let notGit = try TemporaryDirectory(prefix: "mesa-e2e-not-git")
        let notARepository = try runImport([notGit.path, "--repo", "x"])
        #expect(notARepository.status != 0)
        #expect(notARepository.standardError.contains("is not a git repository"), "\(notARepository.standardError)")

        let unknownBranch = try runImport([source.path, "--repo", "x", "--branch", "nope"])
        #expect(unknownBranch.status != 0)
        #expect(unknownBranch.standardError.contains("no branch named 'nope'"), "\(unknownBranch.standardError)")
        // None of the failures created the repo.
        await #expect(throws: KitError.self) { _ = try await mesa.repos.get("x") }
    }

    /// A history git itself would refuse to check out (a tree entry `.GIT`, written with `hash-object --literally`)
    /// is refused before anything is sent, naming the path and the rule.
    @Test func aHistoryHoldingAHostileNameIsRefusedBeforeAnythingIsSent() async throws {
        let source = try GitSource()
        try source.write("ok.txt", "fine\n")
        try source.commit("fine")
        let blob = try source.git("hash-object -w ok.txt").trimmingCharacters(in: .whitespacesAndNewlines)
        // Writes a one-entry tree as given, unchecked, and returns its id.
        func rawTree(_ mode: String, _ name: String, _ id: String) throws -> String {
            let idBytes = stride(from: 0, to: id.count, by: 2).map { offset -> String in
                let start = id.index(id.startIndex, offsetBy: offset)
                return "\\x" + id[start..<id.index(start, offsetBy: 2)]
            }.joined()
            let result = try Shell.run(
                "printf '\(mode) \(name)\\000\(idBytes)' | git -C '\(source.path)' hash-object --literally -t tree -w --stdin")
            #expect(result.status == 0, "\(result.error)")
            return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let tree = try rawTree("40000", ".GIT", try rawTree("100644", "config", blob))
        let commit = try source.git("commit-tree \(tree) -p HEAD -m hostile").trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try source.git("update-ref refs/heads/main \(commit)")
        let result = try runImport([source.path, "--repo", "hostile"])
        #expect(result.status != 0)
        #expect(result.standardError.contains("rule dot-git"), "\(result.standardError)")
        #expect(result.standardError.contains("'.GIT'"), "\(result.standardError)")
        await #expect(throws: KitError.self) { _ = try await mesa.repos.get("hostile") }
    }
}

extension SyncRecord {
    /// A record of a local store as it travels.
    fileprivate init(key: RecordKey, store: ContentStore) throws {
        let stored = try store.stored(key)
        self.init(key: key, codec: stored.codec.rawValue, rawLength: stored.rawLength, stored: stored.stored)
    }
}

extension StoredRecord {
    /// A received record in the store's terms.
    fileprivate init(_ record: SyncRecord) throws {
        guard let codec = Codec(rawValue: record.codec) else { throw StoreError.corruptRecord(record.key, reason: "codec") }
        self.init(key: record.key, codec: codec, rawLength: record.rawLength, stored: record.stored)
    }
}
