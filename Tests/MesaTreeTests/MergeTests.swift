import Foundation
import MesaCore
import MesaStore
import MesaTesting
import MesaTree
import Testing

@Suite struct MergeTests {
    let fixture: StoreFixture
    var repository: MesaRepository { fixture.repository }

    init() throws {
        fixture = try StoreFixture()
    }

    func tree(_ files: [String: String], base: ObjectID? = nil, deleting: [String] = []) throws -> ObjectID {
        var edits: [TreeEdit] = deleting.map { .delete(path: $0) }
        for (path, text) in files { edits.append(.upsert(path: path, blob: try fixture.blob(text), mode: .regular)) }
        return try repository.applying(edits, to: base)
    }

    func content(_ path: String, in tree: ObjectID) throws -> String {
        String(decoding: try repository.readBlob(try repository.entry(at: path, in: tree).id), as: UTF8.self)
    }

    static let ten = DiffTests.lines(1...10)

    @Test func disjointEditsMergeCleanly() throws {
        let base = try tree(["f.txt": Self.ten, "other": "o\n"])
        let ours = try tree(["f.txt": DiffTests.lines(1...10, changing: [2: "ours 2"]), "ours-new": "x\n"], base: base)
        let theirs = try tree(["f.txt": DiffTests.lines(1...10, changing: [9: "theirs 9"])], base: base)
        let result = try repository.merge(base: base, ours: ours, theirs: theirs)
        #expect(result.isClean)
        let merged = DiffTests.lines(1...10, changing: [2: "ours 2", 9: "theirs 9"])
        #expect(try content("f.txt", in: result.tree) == merged)
        #expect(try repository.files(in: result.tree).map(\.path) == ["f.txt", "other", "ours-new"])
    }

    @Test func bothSidesEditingOneLineConflictsWithMarkers() throws {
        let base = try tree(["f.txt": Self.ten, "clean.txt": "c\n"])
        let ours = try tree(["f.txt": DiffTests.lines(1...10, changing: [5: "ours five"])], base: base)
        let theirs = try tree(
            ["f.txt": DiffTests.lines(1...10, changing: [5: "theirs five"]), "clean.txt": "c2\n"], base: base)
        let result = try repository.merge(base: base, ours: ours, theirs: theirs)
        #expect(!result.isClean)
        let conflict = try #require(result.conflicts.first)
        #expect(result.conflicts.count == 1)
        #expect(conflict.path == "f.txt")
        #expect(conflict.kind == .bothModified)
        #expect(conflict.base?.id == (try repository.entry(at: "f.txt", in: base).id))
        #expect(conflict.ours?.id == (try repository.entry(at: "f.txt", in: ours).id))
        #expect(conflict.theirs?.id == (try repository.entry(at: "f.txt", in: theirs).id))
        let expected = DiffTests.lines(1...4) + "<<<<<<< ours\nours five\n||||||| base\nline 5\n=======\ntheirs five\n>>>>>>> theirs\n"
            + DiffTests.lines(6...10)
        #expect(String(decoding: conflict.workingCopy, as: UTF8.self) == expected)
        // The working tree holds the rendering, and the clean path merged.
        #expect(try content("f.txt", in: result.tree) == expected)
        #expect(try content("clean.txt", in: result.tree) == "c2\n")
    }

    /// libgit2 renders no markers into binary content: the working copy keeps our version (never an empty file).
    @Test func aBinaryConflictKeepsOurVersion() throws {
        let base = try tree(["b.bin": "\u{0}base\u{0}\n", "t.txt": "t\n"])
        let ours = try tree(["b.bin": "\u{0}ours\u{0}\n"], base: base)
        let theirs = try tree(["b.bin": "\u{0}theirs\u{0}\n", "t.txt": "t2\n"], base: base)
        let result = try repository.merge(base: base, ours: ours, theirs: theirs)
        let conflict = try #require(result.conflicts.first)
        #expect(conflict.kind == .bothModified && conflict.isBinary)
        #expect(try content("b.bin", in: result.tree) == "\u{0}ours\u{0}\n")
        #expect(try content("t.txt", in: result.tree) == "t2\n")
    }

    @Test func deleteAgainstModifyKeepsTheSurvivingSide() throws {
        let base = try tree(["f.txt": Self.ten, "g": "g\n"])
        let ours = try tree([:], base: base, deleting: ["f.txt"])
        let theirs = try tree(["f.txt": DiffTests.lines(1...10, changing: [1: "edited"])], base: base)
        let result = try repository.merge(base: base, ours: ours, theirs: theirs)
        let conflict = try #require(result.conflicts.first)
        #expect(conflict.kind == .deletedByUs)
        #expect(conflict.ours == nil)
        #expect(conflict.base != nil && conflict.theirs != nil)
        let edited = DiffTests.lines(1...10, changing: [1: "edited"])
        #expect(String(decoding: conflict.workingCopy, as: UTF8.self) == edited)
        #expect(try content("f.txt", in: result.tree) == DiffTests.lines(1...10, changing: [1: "edited"]))

        let reversed = try repository.merge(base: base, ours: theirs, theirs: ours)
        #expect(reversed.conflicts.map(\.kind) == [.deletedByThem])
    }

    @Test func renameOnOneSideCarriesTheOtherSidesEdit() throws {
        let base = try tree(["old/name.txt": Self.ten])
        let ours = try repository.applying([.rename(from: "old/name.txt", to: "new/name.txt")], to: base)
        let theirs = try tree(["old/name.txt": DiffTests.lines(1...10, changing: [7: "theirs 7"])], base: base)
        let result = try repository.merge(base: base, ours: ours, theirs: theirs)
        #expect(result.isClean)
        #expect(try repository.files(in: result.tree).map(\.path) == ["new/name.txt"])
        #expect(try content("new/name.txt", in: result.tree) == DiffTests.lines(1...10, changing: [7: "theirs 7"]))
    }

    @Test func addAddConflictsWithoutABase() throws {
        let base = try tree(["keep": "k\n"])
        let ours = try tree(["new.txt": "ours\n"], base: base)
        let theirs = try tree(["new.txt": "theirs\n"], base: base)
        let result = try repository.merge(base: base, ours: ours, theirs: theirs)
        let conflict = try #require(result.conflicts.first)
        #expect(conflict.kind == .bothAdded)
        #expect(conflict.base == nil)
        let text = String(decoding: conflict.workingCopy, as: UTF8.self)
        #expect(text == "<<<<<<< ours\nours\n|||||||\n=======\ntheirs\n>>>>>>> theirs\n")

        // The same content added on both sides is no conflict.
        let same = try repository.merge(base: base, ours: ours, theirs: ours)
        #expect(same.isClean)
        #expect(same.tree == ours)
    }
}
