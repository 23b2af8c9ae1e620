import MesaCore
import MesaStore
import MesaTesting
import MesaTree
import Testing

/// Names are bytes, as git keys them. `String` equality is canonical equivalence, under which `café` spelled with a
/// precomposed `é` (U+00E9, bytes 63 61 66 C3 A9) and with `e` plus a combining acute accent (U+0301, bytes 63 61 66
/// 65 CC 81) are equal; a tree must keep them as two names, as git and ext4 do.
@Suite struct NameBytesTests {
    /// `café` with a precomposed `é`.
    static let composed = "caf\u{E9}"
    /// `café` with `e` and a combining acute accent.
    static let decomposed = "cafe\u{301}"

    @Test func theTwoSpellingsAreEqualStringsButDifferentBytes() {
        // What the rest of this suite guards against: Swift merges the two as text.
        #expect(Self.composed == Self.decomposed)
        #expect(Array(Self.composed.utf8) == [0x63, 0x61, 0x66, 0xC3, 0xA9])
        #expect(Array(Self.decomposed.utf8) == [0x63, 0x61, 0x66, 0x65, 0xCC, 0x81])
    }

    @Test func editsKeepBothSpellingsAsTwoEntries() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        let one = try fixture.blob("composed\n")
        let two = try fixture.blob("decomposed\n")
        let tree = try repository.applying(
            [
                .upsert(path: Self.composed, blob: one, mode: .regular),
                .upsert(path: Self.decomposed, blob: two, mode: .regular),
            ], to: nil)
        let entries = try repository.tree(tree)
        // Git order is bytewise: 63 61 66 C3 A9 sorts after 63 61 66 65 CC 81.
        #expect(entries.map { Array($0.name.utf8) } == [Array(Self.decomposed.utf8), Array(Self.composed.utf8)])
        #expect(entries.map(\.id) == [two, one])
    }

    @Test func editsInsideDirectoriesNamedBothWaysKeepTwoDirectories() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        let one = try fixture.blob("composed\n")
        let two = try fixture.blob("decomposed\n")
        let base = try repository.applying([.upsert(path: Self.composed + "/f", blob: one, mode: .regular)], to: nil)
        // A second edit in an existing tree (the base is read from the store, not from the overlay).
        let tree = try repository.applying([.upsert(path: Self.decomposed + "/f", blob: two, mode: .regular)], to: base)
        let entries = try repository.tree(tree)
        #expect(entries.map { Array($0.name.utf8) } == [Array(Self.decomposed.utf8), Array(Self.composed.utf8)])
        #expect(try repository.entry(at: Self.composed + "/f", in: tree).id == one)
        #expect(try repository.entry(at: Self.decomposed + "/f", in: tree).id == two)
    }

    @Test func writeTreeAcceptsBothSpellingsAndRefusesTheSameBytesTwice() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        let one = try fixture.blob("composed\n")
        let two = try fixture.blob("decomposed\n")
        let tree = try repository.writeTree([
            TreeEntry(name: Self.composed, mode: .regular, id: one),
            TreeEntry(name: Self.decomposed, mode: .regular, id: two),
        ])
        let entries = try repository.tree(tree)
        #expect(entries.count == 2)
        #expect(Set(entries.map { Array($0.name.utf8) }) == [Array(Self.composed.utf8), Array(Self.decomposed.utf8)])

        #expect {
            try repository.writeTree([
                TreeEntry(name: Self.composed, mode: .regular, id: one),
                TreeEntry(name: Self.composed, mode: .regular, id: two),
            ])
        } throws: { error in
            guard case .invalidArgument = error as? TreeError else { return false }
            return true
        }
    }

    @Test func lookupFindsEachSpellingByItsOwnBytesOnly() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        let one = try fixture.blob("composed\n")
        let two = try fixture.blob("decomposed\n")
        let both = try repository.applying(
            [
                .upsert(path: Self.composed, blob: one, mode: .regular),
                .upsert(path: Self.decomposed, blob: two, mode: .regular),
            ], to: nil)
        let composed = try repository.entry(at: Self.composed, in: both)
        let decomposed = try repository.entry(at: Self.decomposed, in: both)
        #expect(composed.id == one)
        #expect(Array(composed.name.utf8) == Array(Self.composed.utf8))
        #expect(decomposed.id == two)
        #expect(Array(decomposed.name.utf8) == Array(Self.decomposed.utf8))

        let composedOnly = try repository.applying([.upsert(path: Self.composed, blob: one, mode: .regular)], to: nil)
        #expect(throws: TreeError.notFound(path: Self.decomposed)) {
            try repository.entry(at: Self.decomposed, in: composedOnly)
        }
        #expect(throws: TreeError.notFound(path: Self.decomposed)) {
            try repository.applying([.delete(path: Self.decomposed)], to: composedOnly)
        }
    }

    @Test func renameOrDeleteOfOneSpellingLeavesTheOther() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        let one = try fixture.blob("composed\n")
        let two = try fixture.blob("decomposed\n")
        let both = try repository.applying(
            [
                .upsert(path: Self.composed, blob: one, mode: .regular),
                .upsert(path: Self.decomposed, blob: two, mode: .regular),
            ], to: nil)

        let renamed = try repository.applying([.rename(from: Self.composed, to: "moved")], to: both)
        let afterRename = try repository.tree(renamed)
        #expect(afterRename.map { Array($0.name.utf8) } == [Array(Self.decomposed.utf8), Array("moved".utf8)])
        #expect(afterRename.map(\.id) == [two, one])

        let deleted = try repository.applying([.delete(path: Self.decomposed)], to: both)
        let afterDelete = try repository.tree(deleted)
        #expect(afterDelete.map { Array($0.name.utf8) } == [Array(Self.composed.utf8)])
        #expect(afterDelete.map(\.id) == [one])
    }

    @Test func theValidatorAcceptsATreeHoldingBothSpellings() throws {
        let fixture = try StoreFixture()
        let one = try fixture.blob("composed\n")
        let two = try fixture.blob("decomposed\n")
        let body = TreeCodec.encode([
            TreeEntry(name: Self.composed, mode: .regular, id: one),
            TreeEntry(name: Self.decomposed, mode: .regular, id: two),
        ])
        let tree = try TreeValidator.tree(body, id: one) { _, _ in .empty }
        #expect(tree.entries.map { Array($0.name.utf8) } == [Array(Self.decomposed.utf8), Array(Self.composed.utf8)])
    }

    @Test func pathComponentsKeepTheirBytes() throws {
        let parts = try TreeValidator.components(of: Self.composed + "/" + Self.decomposed)
        #expect(parts.map(\.bytes) == [Array(Self.composed.utf8), Array(Self.decomposed.utf8)])
        // A combining mark after `/` makes one `Character` of both, yet the `/` still separates.
        #expect(try TreeValidator.components(of: "a/\u{301}b").map(\.bytes) == [[0x61], [0xCC, 0x81, 0x62]])
    }

    @Test func entriesCompareTheirNamesAsBytes() throws {
        let fixture = try StoreFixture()
        let blob = try fixture.blob("x")
        let composed = TreeEntry(name: Self.composed, mode: .regular, id: blob)
        let decomposed = TreeEntry(name: Self.decomposed, mode: .regular, id: blob)
        #expect(composed != decomposed)
        #expect(Set([composed, decomposed]).count == 2)
        let walked = TreeWalkEntry(path: "d/" + Self.composed, entry: composed)
        #expect(walked != TreeWalkEntry(path: "d/" + Self.decomposed, entry: composed))
    }

    /// The tree git writes for a directory holding both names (ext4 keeps them apart, as git does).
    @Test func editsBuildTheTreeGitBuildsForBothSpellings() throws {
        let fixture = try StoreFixture()
        let root = fixture.path("work")
        try Files.write(root + "/" + Self.composed, "composed\n")
        try Files.write(root + "/" + Self.decomposed, "decomposed\n")
        try Git.run(["init", "-q"], in: root)
        try Git.run(["add", "-A"], in: root)
        let expected = try Git.run(["write-tree"], in: root)

        let tree = try fixture.repository.applying(
            [
                .upsert(path: Self.composed, blob: try fixture.blob("composed\n"), mode: .regular),
                .upsert(path: Self.decomposed, blob: try fixture.blob("decomposed\n"), mode: .regular),
            ], to: nil)
        #expect(tree.hex == expected)
    }
}
