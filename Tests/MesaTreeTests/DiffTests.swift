import Foundation
import MesaCore
import MesaStore
import MesaTesting
import MesaTree
import Testing

@Suite struct DiffTests {
    static func lines(_ range: ClosedRange<Int>, changing: [Int: String] = [:]) -> String {
        range.map { changing[$0] ?? "line \($0)" }.joined(separator: "\n") + "\n"
    }

    static let binary: [UInt8] = [0, 1, 2, 3, 0, 0xff] + Array(repeating: 7, count: 100)

    /// The base and head file sets shared by the model test and the git comparison.
    static let base: [String: [UInt8]] = [
        "keep.txt": Array(lines(1...10).utf8),
        "remove.txt": Array("going away\n".utf8),
        "dir/rename-me.txt": Array(lines(1...20).utf8),
        "binary.bin": binary,
    ]
    static let head: [String: [UInt8]] = [
        "keep.txt": Array(lines(1...10, changing: [5: "line five"]).utf8),
        "new.txt": Array("brand new\n".utf8),
        "dir/renamed.txt": Array(lines(1...20, changing: [20: "last line"]).utf8),
        "binary.bin": binary + [9],
    ]

    static func tree(_ files: [String: [UInt8]], in fixture: StoreFixture) throws -> ObjectID {
        var edits: [TreeEdit] = []
        for (path, content) in files {
            edits.append(.upsert(path: path, blob: try fixture.repository.writeBlob(content), mode: .regular))
        }
        return try fixture.repository.applying(edits, to: nil)
    }

    @Test func reportsAddedDeletedModifiedRenamedAndBinary() throws {
        let fixture = try StoreFixture()
        let diff = try fixture.repository.diff(
            from: try Self.tree(Self.base, in: fixture), to: try Self.tree(Self.head, in: fixture))
        let summary = diff.entries.map { "\($0.status.rawValue) \($0.oldPath.map { $0 + " -> " } ?? "")\($0.path)" }
        #expect(
            Set(summary) == [
                "modified binary.bin", "renamed dir/rename-me.txt -> dir/renamed.txt", "modified keep.txt",
                "added new.txt", "deleted remove.txt",
            ])
        let byPath = Dictionary(uniqueKeysWithValues: diff.entries.map { ($0.path, $0) })

        let binary = try #require(byPath["binary.bin"])
        #expect(binary.isBinary)
        #expect(binary.hunks.isEmpty)

        let keep = try #require(byPath["keep.txt"])
        #expect(!keep.isBinary)
        let hunk = try #require(keep.hunks.first)
        #expect(keep.hunks.count == 1)
        #expect((hunk.oldStart, hunk.oldLines, hunk.newStart, hunk.newLines) == (2, 7, 2, 7))
        // Like git, the header names the nearest preceding line that looks like a function ("line 1").
        #expect(hunk.header == "@@ -2,7 +2,7 @@ line 1")
        let kinds: [DiffLineKind] = [.context, .context, .context, .deleted, .added, .context, .context, .context]
        #expect(hunk.lines.map(\.kind) == kinds)
        #expect(hunk.lines[3].text == "line 5")
        #expect(hunk.lines[4].text == "line five")
        #expect((keep.additions, keep.deletions) == (1, 1))
        #expect(keep.oldMode == .regular && keep.newMode == .regular)

        let renamed = try #require(byPath["dir/renamed.txt"])
        #expect(renamed.hunks.flatMap(\.lines).filter { $0.kind != .context }.map(\.text) == ["line 20", "last line"])
        #expect(try #require(byPath["new.txt"]).oldID == nil)
        #expect(try #require(byPath["remove.txt"]).newID == nil)
        #expect(try #require(byPath["remove.txt"]).hunks.first?.lines.map(\.kind) == [.deleted])
    }

    @Test func unifiedDiffMatchesGitDiff() throws {
        let fixture = try StoreFixture()
        let work = fixture.path("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        try Git.run(["init", "-q"], in: work)
        for (path, content) in Self.base { try Files.write(work + "/" + path, bytes: content) }
        try Git.run(["add", "-A"], in: work)
        try Git.run(["commit", "-qm", "base"], in: work)
        let baseCommit = try Git.run(["rev-parse", "HEAD"], in: work)
        try Git.run(["rm", "-rq", "."], in: work)
        for (path, content) in Self.head { try Files.write(work + "/" + path, bytes: content) }
        try Git.run(["add", "-A"], in: work)
        try Git.run(["commit", "-qm", "head"], in: work)
        let headCommit = try Git.run(["rev-parse", "HEAD"], in: work)
        try fixture.repository.importGit(repositoryAt: work)

        let baseID = try #require(ObjectID(hex: baseCommit))
        let headID = try #require(ObjectID(hex: headCommit))
        let ours = try fixture.repository.unifiedDiff(from: baseID, to: headID)
        let git = String(
            decoding: try Git.runBytes(["diff", "--no-color", "-M", baseCommit, headCommit], in: work), as: UTF8.self)
        // libgit2 scores similarity with its own hashing (95% here where git says 93%): compare all but that number.
        func normalized(_ text: String) -> String {
            text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                line.hasPrefix("similarity index ") ? "similarity index N%" : String(line)
            }.joined(separator: "\n")
        }
        #expect(normalized(ours) == normalized(git))
        #expect(ours.contains("rename from dir/rename-me.txt\nrename to dir/renamed.txt\n"))
        #expect(ours.contains("Binary files a/binary.bin and b/binary.bin differ\n"))
    }

    @Test func diffAgainstTheEmptyTreeAddsEverything() throws {
        let fixture = try StoreFixture()
        let tree = try Self.tree(Self.base, in: fixture)
        let diff = try fixture.repository.diff(from: nil, to: tree)
        #expect(diff.entries.count == Self.base.count)
        #expect(diff.entries.allSatisfy { $0.status == .added })
        #expect(try fixture.repository.diff(from: tree, to: tree).entries.isEmpty)
    }
}
