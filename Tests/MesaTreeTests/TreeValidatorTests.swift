import Foundation
import MesaCore
import MesaStore
import MesaTesting
import MesaTree
import PropertyBased
import Testing

/// The rule a validation throws, or `nil` when it passes.
private func rule(_ body: () throws(TreeError) -> Void) -> ValidationRule? {
    do throws(TreeError) {
        try body()
        return nil
    } catch .invalid(let failure) {
        return failure.rule
    } catch {
        Issue.record("expected a validation refusal, got \(error)")
        return nil
    }
}

/// A tree body written by hand: `(mode text, name bytes, id)` in the given order, as a hostile client could.
private func rawTree(_ entries: [(String, [UInt8], ObjectID)]) -> [UInt8] {
    var body: [UInt8] = []
    for (mode, name, id) in entries {
        body += Array(mode.utf8) + [0x20] + name + [0] + id.bytes
    }
    return body
}

private let blobID = TreeCodec.objectID(kind: "blob", body: Array("x".utf8))
private let subtreeID = TreeCodec.objectID(kind: "tree", body: rawTree([("100644", Array("f".utf8), blobID)]))

@Suite struct TreeValidatorTests {
    // MARK: Names

    @Test(arguments: [
        ("", ValidationRule.emptyName), (".", .dotName), ("..", .dotName), (".git", .dotGit), (".GIT", .dotGit),
        (".Git", .dotGit), (".git.", .dotGit), (".git ", .dotGit), (".git. . ", .dotGit),
        (".git::$INDEX_ALLOCATION", .dotGit), ("git~1", .dotGit), ("GIT~1", .dotGit), (".g\u{200C}it", .dotGit),
        ("\u{FEFF}.git", .dotGit), (".gi\u{206A}T", .dotGit), ("a\nb", .controlCharacter),
        ("a\rb", .controlCharacter), ("tab\there", .controlCharacter), ("del\u{7F}", .controlCharacter),
        ("c1\u{85}", .controlCharacter), ("a\\b", .backslash), ("nul\u{0}byte", .nulInName),
        (String(repeating: "n", count: 256), .nameTooLong), (String(repeating: "é", count: 128), .nameTooLong),
    ])
    func hostileNamesAreRefusedNamingTheRule(name: String, expected: ValidationRule) {
        #expect(rule { () throws(TreeError) in try TreeValidator.check(name: name, at: name) } == expected)
    }

    @Test(arguments: [
        "a", "README.md", ".gitignore", ".github", ".gitmodules", "git", ".gitx", "git~2", "x.git", "ünïcödé", "a b",
        "a:b", "-rf", "日本語", String(repeating: "n", count: 255), ".git-blame-ignore-revs", "...",
    ])
    func ordinaryNamesPass(name: String) {
        #expect(rule { () throws(TreeError) in try TreeValidator.check(name: name, at: name) } == nil)
    }

    @Test func nameBytesMustBeUTF8AndHoldNoSlash() {
        let latin1: [UInt8] = Array("caf".utf8) + [0xe9]
        #expect(rule { () throws(TreeError) in _ = try TreeValidator.name(latin1, parent: "dir") } == .notUTF8)
        #expect(rule { () throws(TreeError) in _ = try TreeValidator.name(Array("a/b".utf8), parent: "") } == .slashInName)
        #expect(rule { () throws(TreeError) in _ = try TreeValidator.name([0xed, 0xa0, 0x80], parent: "") } == .notUTF8)
        do {
            _ = try TreeValidator.name(latin1, parent: "dir")
        } catch .invalid(let failure) {
            #expect(failure.location == "dir/caf\\xe9")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    // MARK: Paths

    @Test(arguments: [
        ("", ValidationRule.emptyPath), ("/etc/passwd", .absolutePath), ("a/", .emptyName), ("a//b", .emptyName),
        ("a/./b", .dotName), ("../config", .dotName), ("a/../../b", .dotName), (".GIT/config", .dotGit),
        (".Git/hooks/pre-commit", .dotGit), ("git~1/config", .dotGit), (".git./config", .dotGit),
        ("src/.g\u{200D}it/x", .dotGit), ("a\\b/c", .backslash), ("new\nline", .controlCharacter),
        (Array(repeating: "d", count: 257).joined(separator: "/"), .pathTooDeep),
        (Array(repeating: String(repeating: "p", count: 200), count: 21).joined(separator: "/"), .pathTooLong),
        (Array(repeating: "d", count: 10_000).joined(separator: "/"), .pathTooLong),
    ])
    func hostilePathsAreRefusedNamingTheRule(path: String, expected: ValidationRule) {
        #expect(rule { () throws(TreeError) in _ = try TreeValidator.components(of: path) } == expected)
    }

    @Test func pathsAtTheBoundsPass() throws {
        let deepest = Array(repeating: "d", count: 256).joined(separator: "/")
        #expect(try TreeValidator.components(of: deepest).count == 256)
        let longest = Array(repeating: String(repeating: "p", count: 255), count: 16).joined(separator: "/")
        #expect(longest.utf8.count == 4_095)
        #expect(try TreeValidator.components(of: longest).count == 16)
    }

    // MARK: Trees

    @Test func aTreeGitWritesPassesWithItsEntriesAndShape() throws {
        let body = TreeCodec.encode([
            TreeEntry(name: "b", mode: .regular, id: blobID), TreeEntry(name: "a", mode: .directory, id: subtreeID),
            TreeEntry(name: "run", mode: .executable, id: blobID), TreeEntry(name: "link", mode: .symlink, id: blobID),
            TreeEntry(name: "module", mode: .submodule, id: blobID),
        ])
        let id = TreeCodec.objectID(kind: "tree", body: body)
        let tree = try TreeValidator.tree(body, id: id) { _, _ in TreeShape(height: 3, longest: 20) }
        #expect(tree.entries.map(\.name) == ["a", "b", "link", "module", "run"])
        #expect(tree.shape == TreeShape(height: 4, longest: 22))
    }

    @Test(arguments: [
        ("040000", ValidationRule.badMode), ("100664", .badMode), ("100600", .badMode), ("644", .badMode),
        ("120755", .badMode), ("1o0644", .badMode),
    ])
    func modesGitDoesNotWriteAreRefused(mode: String, expected: ValidationRule) {
        let body = rawTree([(mode, Array("f".utf8), blobID)])
        #expect(
            rule { () throws(TreeError) in
                _ = try TreeValidator.tree(body, id: blobID) { _, _ in .empty }
            } == expected)
    }

    @Test func treesOutOfOrderWithDuplicatesOrHostileNamesAreRefused() {
        func check(_ entries: [(String, [UInt8], ObjectID)]) -> ValidationRule? {
            rule { () throws(TreeError) in _ = try TreeValidator.tree(rawTree(entries), id: blobID) { _, _ in .empty } }
        }
        let file = "100644"
        let dir = "40000"
        #expect(check([(file, Array("b".utf8), blobID), (file, Array("a".utf8), blobID)]) == .unsortedEntries)
        #expect(check([(file, Array("a".utf8), blobID), (file, Array("a".utf8), blobID)]) == .duplicateEntry)
        // A file and a directory of one name are not adjacent in git's order ("a" < "a.txt" < "a/").
        #expect(
            check([(file, Array("a".utf8), blobID), (file, Array("a.txt".utf8), blobID), (dir, Array("a".utf8), subtreeID)])
                == .duplicateEntry)
        // Directories sort as if their name ended in "/": "a/" after "a.txt".
        #expect(check([(dir, Array("a".utf8), subtreeID), (file, Array("a.txt".utf8), blobID)]) == .unsortedEntries)
        #expect(check([(file, Array("..".utf8), blobID)]) == .dotName)
        #expect(check([(file, Array("../../name".utf8), blobID)]) == .slashInName)
        #expect(check([(file, Array("/abs".utf8), blobID)]) == .slashInName)
        #expect(check([(dir, Array(".GIT".utf8), subtreeID)]) == .dotGit)
        #expect(check([(file, [], blobID)]) == .emptyName)
        #expect(check([("120000", Array(".gitmodules".utf8), blobID)]) == .gitMetadataSymlink)
        #expect(check([("120000", Array(".GitAttributes .".utf8), blobID)]) == .gitMetadataSymlink)
        #expect(check([("120000", Array("GITMOD~1".utf8), blobID)]) == .gitMetadataSymlink)
        #expect(check([(file, Array(".gitmodules".utf8), blobID)]) == nil)
    }

    @Test func truncatedTreesAreMalformed() {
        let body = rawTree([("100644", Array("f".utf8), blobID)])
        for cut in [1, 7, 9, body.count - 1] {
            let prefix = Array(body.prefix(cut))
            #expect(
                rule { () throws(TreeError) in _ = try TreeValidator.tree(prefix, id: blobID) { _, _ in .empty } }
                    == .malformedTree, "cut at \(cut)")
        }
    }

    @Test func depthAndLengthBelowATreeAreBoundedThroughShapes() {
        let body = rawTree([("40000", Array("d".utf8), subtreeID)])
        let deep = rule { () throws(TreeError) in
            _ = try TreeValidator.tree(body, id: blobID) { _, _ in TreeShape(height: 256, longest: 600) }
        }
        #expect(deep == .pathTooDeep)
        let long = rule { () throws(TreeError) in
            _ = try TreeValidator.tree(body, id: blobID) { _, _ in TreeShape(height: 10, longest: 4_095) }
        }
        #expect(long == .pathTooLong)
        let fits = rule { () throws(TreeError) in
            _ = try TreeValidator.tree(body, id: blobID) { _, _ in TreeShape(height: 255, longest: 4_094) }
        }
        #expect(fits == nil)
    }

    @Test func storedShapesFollowSubtreesAndStopPastTheDepthBound() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        let blob = try fixture.blob("x")
        let tree = try repository.applying([.upsert(path: "ab/cde/f", blob: blob, mode: .regular)], to: nil)
        var memo: [ObjectID: TreeShape] = [:]
        #expect(try repository.shape(ofTree: tree, memo: &memo) == TreeShape(height: 3, longest: 8))

        // A chain of 300 trees written raw, as no validated path could make.
        var current = try repository.writeTree([TreeEntry(name: "f", mode: .regular, id: blob)])
        for _ in 0..<300 { current = try repository.writeTree([TreeEntry(name: "d", mode: .directory, id: current)]) }
        var deepMemo: [ObjectID: TreeShape] = [:]
        let top = current
        #expect(rule { () throws(TreeError) in _ = try repository.shape(ofTree: top, memo: &deepMemo) } == .pathTooDeep)
    }

    // MARK: Commits

    @Test func commitsTheModelWritesPass() throws {
        let fixture = try StoreFixture()
        let record = try fixture.repository.createChange(
            parents: [.root], edits: [.upsert(path: "a", blob: try fixture.blob("a"), mode: .regular)],
            message: "first\n\nbody", author: Signature(name: "A U Thor", email: "a@example.com", time: 1_700_000_000))
        let body = try fixture.repository.commitBytes(record.commit)
        let commit = try TreeValidator.commit(body, id: record.commit)
        #expect(commit.changeID == record.id)
    }

    @Test(arguments: [
        ("parent \(String(repeating: "a", count: 40))\ntree \(String(repeating: "b", count: 40))\n", ValidationRule.malformedCommit),
        ("tree xyz\n", .malformedCommit),
        ("tree \(String(repeating: "b", count: 40))\ncommitter C <c@x> 1 +0000\n", .malformedCommit),
        ("tree \(String(repeating: "b", count: 40))\nauthor A <a@x> 1 +0000\n", .malformedCommit),
        ("tree \(String(repeating: "b", count: 40))\nauthor A a@x 1 +0000\ncommitter C <c@x> 1 +0000\n", .badSignature),
        ("tree \(String(repeating: "b", count: 40))\nauthor <a@x> 1 +0000\ncommitter C <c@x> 1 +0000\n", .badSignature),
        ("tree \(String(repeating: "b", count: 40))\nauthor A<a@x> 1 +0000\ncommitter C <c@x> 1 +0000\n", .badSignature),
        ("tree \(String(repeating: "b", count: 40))\nauthor A <a@x> 01 +0000\ncommitter C <c@x> 1 +0000\n", .badSignature),
        ("tree \(String(repeating: "b", count: 40))\nauthor A <a@x> 1 0000\ncommitter C <c@x> 1 +0000\n", .badSignature),
        ("tree \(String(repeating: "b", count: 40))\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 1 +0000\nauthor B <b@x> 1 +0000\n", .malformedCommit),
        ("tree \(String(repeating: "b", count: 40))\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 1 +0000\nchange-id nope\n", .malformedCommit),
    ])
    func malformedCommitsAreRefused(text: String, expected: ValidationRule) {
        let body = Array(text.utf8) + Array("\nmessage\n".utf8)
        #expect(rule { () throws(TreeError) in _ = try TreeValidator.commit(body, id: blobID) } == expected)
    }

    @Test func signaturesARequestNamesAreChecked() {
        func check(_ name: String, _ email: String) -> ValidationRule? {
            rule { () throws(TreeError) in try TreeValidator.check(signatureName: name, email: email, role: "author") }
        }
        #expect(check("Jane Doe", "jane@example.com") == nil)
        #expect(check("Jane\nDoe", "jane@example.com") == .badSignature)
        #expect(check("Jane <x>", "jane@example.com") == .badSignature)
        #expect(check("Jane", "jane@example.com>\ncommitter x") == .badSignature)
        #expect(check(String(repeating: "j", count: 1_025), "j@x") == .badSignature)
    }

    // MARK: Properties

    /// Names drawn from letters, digits and `._- ` that are not `.`, `..` or a `.git` spelling always pass, and a
    /// tree of them round-trips through git's encoding and the validator.
    @Test func validNamesRoundTripThroughTreesGitEncodes() async {
        let name = Gen<Character?>.element(of: Array("abcXYZ019._- é") as [Character]).map { $0! }.string(of: 1...40)
        await propertyCheck(count: 300, input: name.array(of: 1...12)) { names in
            let unique = Array(Set(names)).filter { $0 != "." && $0 != ".." && !TreeValidator.isDotGit($0) }
            let entries = unique.map { TreeEntry(name: $0, mode: .regular, id: blobID) }
            let body = TreeCodec.encode(entries)
            do {
                let tree = try TreeValidator.tree(body, id: blobID) { _, _ in .empty }
                #expect(Set(tree.entries.map(\.name)) == Set(unique))
                #expect(tree.entries == TreeCodec.sortedForGit(entries))
                for name in unique { #expect(try TreeValidator.components(of: "dir/" + name) == [FileName("dir"), FileName(name)]) }
            } catch {
                Issue.record("valid names \(unique) refused: \(error)")
            }
        }
    }

    /// Arbitrary bytes as a tree body or a name never crash the validator, and what passes never holds a name the
    /// kernel or git must not see.
    @Test func arbitraryBytesNeverCrashAndWhatPassesIsSafe() async {
        let bytes = Gen<UInt8>.value(in: 0...255).array(of: 0...300)
        await propertyCheck(count: 2_000, input: bytes) { body in
            if let tree = try? TreeValidator.tree(body, id: blobID, shapeOf: { _, _ in .empty }) {
                for entry in tree.entries { #expect(Self.isSafe(entry.name)) }
            }
            if let name = try? TreeValidator.name(body, parent: "") { #expect(Self.isSafe(name)) }
            if let text = String(validating: body, as: UTF8.self), let parts = try? TreeValidator.components(of: text) {
                #expect(parts.map(\.string).allSatisfy(Self.isSafe))
                #expect(parts.count <= TreeValidator.maxDepth && text.utf8.count <= TreeValidator.maxPathBytes)
            }
            _ = try? TreeValidator.commit(body, id: blobID)
        }
    }

    /// Mutating one byte of a valid tree either still passes (a name changed to another valid one) or is refused
    /// with a rule, never anything else.
    @Test func mutatedTreesAreRefusedWithARuleOrStillValid() async {
        let base = TreeCodec.encode([
            TreeEntry(name: "alpha", mode: .regular, id: blobID), TreeEntry(name: "beta", mode: .directory, id: subtreeID),
            TreeEntry(name: "gamma.txt", mode: .executable, id: blobID),
        ])
        await propertyCheck(count: 1_000, input: Gen.int(in: 0..<base.count), Gen<UInt8>.value(in: 0...255)) {
            index, value in
            var body = base
            body[index] = value
            do throws(TreeError) {
                let tree = try TreeValidator.tree(body, id: blobID) { _, _ in .empty }
                #expect(!tree.entries.isEmpty)
                for entry in tree.entries { #expect(Self.isSafe(entry.name)) }
            } catch .invalid {
                // Refused with a named rule.
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }

    private static func isSafe(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && !name.contains("\\")
            && !name.unicodeScalars.contains { $0.value < 0x20 || (0x7f...0x9f).contains($0.value) }
            && !TreeValidator.isDotGit(name) && name.utf8.count <= TreeValidator.maxNameBytes
    }
}
