import Foundation
import MesaCore
import MesaStore
import MesaTesting
import MesaTree
import Testing

@Suite(.serialized) struct ImportExportTests {
    /// A repository with branches, a merge, a rename, a symlink, an executable, a binary file and a 20 MB file.
    static func makeRepository(_ work: String) throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try Git.run(["init", "-q"], in: work)
        var random = SeededBytes(seed: 42)
        try Files.write(work + "/README.md", "# repo\n")
        try Files.write(work + "/src/a.txt", DiffTests.lines(1...50))
        try Files.write(work + "/bin/run", "#!/bin/sh\necho run\n", executable: true)
        try Files.symlink(work + "/link", to: "src/a.txt")
        try Files.write(work + "/empty", "")
        try Files.write(work + "/data/blob.bin", bytes: random.bytes(100_000))
        try Git.run(["add", "-A"], in: work)
        try Git.run(["commit", "-qm", "first"], in: work)

        try Files.write(work + "/big/20mb.dat", bytes: random.bytes(20_000_000))
        try Git.run(["add", "-A"], in: work)
        try Git.run(["commit", "-qm", "big file"], in: work)

        try Git.run(["checkout", "-qb", "feature"], in: work)
        try Git.run(["mv", "src/a.txt", "src/renamed.txt"], in: work)
        try Files.write(work + "/src/renamed.txt", DiffTests.lines(1...50, changing: [25: "changed"]))
        try Git.run(["commit", "-qam", "rename and edit"], in: work)
        var big = try [UInt8](Data(contentsOf: URL(fileURLWithPath: work + "/big/20mb.dat")))
        big[10_000_000] ^= 0xff
        try Files.write(work + "/big/20mb.dat", bytes: big)
        try Git.run(["commit", "-qam", "one byte of the big file"], in: work)

        try Git.run(["checkout", "-q", "main"], in: work)
        try Files.write(work + "/README.md", "# repo\n\nmore\n")
        try Git.run(["commit", "-qam", "readme"], in: work)
        try Git.run(["merge", "-q", "--no-edit", "feature"], in: work)

        try Git.run(["checkout", "-qb", "other", "HEAD~3"], in: work)
        try Files.write(work + "/ünïcode/名前.txt", "名前\n")
        try Files.write(work + "/bin/run", "#!/bin/sh\necho changed\n", executable: false)
        try Git.run(["add", "-A"], in: work)
        try Git.run(["commit", "-qm", "other branch"], in: work)
        try Git.run(["checkout", "-q", "main"], in: work)
    }

    /// Extracts `git archive` of a commit.
    static func archive(_ commit: String, of work: String, into directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let tar = try Git.runBytes(["archive", "--format=tar", commit], in: work)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/tar")
        process.arguments = ["-xf", "-", "-C", directory]
        let input = Pipe()
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(Data(tar))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    @Test(.tags(.slow)) func importedHistoryExportsLikeGitArchiveAndReimportAddsNothing() throws {
        let fixture = try StoreFixture()
        let work = fixture.path("repo")
        try Self.makeRepository(work)
        let repository = fixture.repository

        let main = try repository.importGit(repositoryAt: work)
        #expect(main.branch == "main")
        #expect(main.tip.hex == (try Git.run(["rev-parse", "main"], in: work)))
        #expect(main.commits == 6)
        #expect(main.newCommits == 6)
        let other = try repository.importGit(repositoryAt: work, branch: "other")
        #expect(other.newCommits == 1)
        #expect(other.commits == 2)  // "first" (already imported) and "other branch"

        let records = fixture.records
        let again = try repository.importGit(repositoryAt: work)
        let otherAgain = try repository.importGit(repositoryAt: work, branch: "other")
        #expect(fixture.records == records)
        #expect(again.newCommits + again.newTrees + again.newBlobs == 0)
        #expect(otherAgain.newCommits + otherAgain.newTrees + otherAgain.newBlobs == 0)

        let commits = try Git.run(["rev-list", "--all"], in: work).split(separator: "\n").map(String.init)
        #expect(commits.count == 7)
        for (index, commit) in commits.enumerated() {
            let id = try #require(ObjectID(hex: commit))
            // Ids and signatures preserved: the stored bytes are git's bytes.
            #expect(try repository.commitBytes(id) == (try Git.runBytes(["cat-file", "commit", commit], in: work)))
            let change = try #require(try repository.catalog.change(ChangeID(importedCommit: id)))
            #expect(change.commit == id)

            let ours = fixture.path("export-\(index)")
            try repository.export(id, to: ours)
            let theirs = fixture.path("archive-\(index)")
            try Self.archive(commit, of: work, into: theirs)
            let expected = try Files.inventory(theirs)
            let actual = try Files.inventory(ours)
            #expect(actual == expected, "commit \(commit)")
            #expect(expected["link"]?.kind == "symlink")
            try FileManager.default.removeItem(atPath: ours)
            try FileManager.default.removeItem(atPath: theirs)
        }
        #expect(try repository.resolveBookmark("main") == main.tipChange)
        #expect(try repository.resolveBookmark("other") == other.tipChange)

        // The merge commit's change has both parents' changes.
        let merge = try #require(try repository.catalog.change(main.tipChange))
        #expect(merge.parents.count == 2)
    }

    @Test func tipOnlyImportCopiesOneCommitAndItsTree() throws {
        let fixture = try StoreFixture()
        let work = fixture.path("repo")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try Git.run(["init", "-q"], in: work)
        for round in 0..<3 {
            try Files.write(work + "/file\(round).txt", "round \(round)\n")
            try Git.run(["add", "-A"], in: work)
            try Git.run(["commit", "-qm", "round \(round)"], in: work)
        }
        let report = try fixture.repository.importGit(repositoryAt: work, tipOnly: true)
        #expect(report.commits == 1)
        #expect(report.newCommits == 1)
        #expect(report.newTrees == 1)
        #expect(report.newBlobs == 3)
        let parent = try #require(ObjectID(hex: try Git.run(["rev-parse", "HEAD~1"], in: work)))
        #expect(!fixture.store.contains(RecordKey(.commit, object: parent)))
        #expect(try fixture.repository.files(in: try fixture.repository.rootTree(of: report.tip)).count == 3)
    }

    /// A stored tree holding `..` (from a store written before validation) cannot make an export write outside its
    /// target directory: the export refuses the path.
    @Test func exportRefusesPathsThatWouldLeaveItsDirectory() throws {
        let fixture = try StoreFixture()
        let blob = try fixture.blob("escaped\n")
        let inner = try fixture.repository.writeTree([TreeEntry(name: "target.txt", mode: .regular, id: blob)])
        let body = Array("40000 ..".utf8) + [0] + inner.bytes
        let tree = TreeCodec.objectID(kind: "tree", body: body)
        try fixture.repository.store.put(body, key: RecordKey(.tree, object: tree))
        let out = fixture.path("out/inside")
        #expect {
            try fixture.repository.export(tree, to: out)
        } throws: { error in
            guard case .invalid(let failure) = error as? TreeError else { return false }
            return failure.rule == .dotName
        }
        #expect(!FileManager.default.fileExists(atPath: fixture.path("out/target.txt")))
    }

    @Test func nonUTF8PathsAreRefusedNamingThePath() throws {
        let fixture = try StoreFixture()
        let work = fixture.path("repo")
        try FileManager.default.createDirectory(atPath: work + "/bad", withIntermediateDirectories: true)
        try Git.run(["init", "-q"], in: work)
        // "caf\xe9.txt": Latin-1, not UTF-8.
        let name = Array("\(work)/bad/caf".utf8) + [0xe9] + Array(".txt".utf8) + [0]
        let descriptor = name.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) }
        }
        #expect(descriptor >= 0)
        close(descriptor)
        try Git.run(["add", "-A"], in: work)
        try Git.run(["commit", "-qm", "latin-1 name"], in: work)

        let error = #expect(throws: TreeError.self) { try fixture.repository.importGit(repositoryAt: work) }
        guard case .invalid(let failure)? = error else {
            Issue.record("expected a validation refusal, got \(String(describing: error))")
            return
        }
        #expect(failure.rule == .notUTF8)
        #expect(failure.location == "bad/caf\\xe9.txt")
        #expect(error?.description.contains("'bad/caf\\xe9.txt'") == true)
    }

    @Test func debugImportAndExportCommands() throws {
        let directory = try TemporaryDirectory(prefix: "mesa-cli-import")
        let work = directory.appending("repo")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try Git.run(["init", "-q"], in: work)
        try Files.write(work + "/x/y.txt", "y\n")
        try Files.write(work + "/tool", "#!/bin/sh\n", executable: true)
        try Git.run(["add", "-A"], in: work)
        try Git.run(["commit", "-qm", "one"], in: work)
        let tip = try Git.run(["rev-parse", "HEAD"], in: work)
        let store = directory.appending("store")

        let first = try MesaBinary.run(["debug", "import", work, "--store", store])
        #expect(first.status == 0, "\(first.standardError)")
        #expect(first.standardOutput.hasPrefix(tip + "\n"))
        #expect(first.standardOutput.contains("commits 1 (new 1), new trees 2, new blobs 2"))
        let second = try MesaBinary.run(["debug", "import", work, "--store", store, "--branch", "main"])
        #expect(second.standardOutput.contains("commits 1 (new 0), new trees 0, new blobs 0"))

        let out = directory.appending("out")
        let export = try MesaBinary.run(["debug", "export", tip, out, "--store", store])
        #expect(export.status == 0, "\(export.standardError)")
        let inventory = try Files.inventory(out)
        #expect(inventory["tool"]?.executable == true)
        #expect(inventory["x/y.txt"]?.content == Array("y\n".utf8))
    }
}
