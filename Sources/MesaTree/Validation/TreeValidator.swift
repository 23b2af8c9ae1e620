package import MesaCore

// The one validator of names, paths, trees and commits. REST writes, sync pushes, git imports and (through MesaSync)
// the mount's uploads all call it, so one rule set decides what may enter a repository; reads of stored data stay
// lenient (TreeCodec), because what is stored has been through here.
//
// The rules are git's fsck rules with `core.protectNTFS` and `core.protectHFS` on (git's `verify_path`,
// `is_ntfs_dotgit`, `is_hfs_dotgit`), plus bounds of our own: 255 bytes per name, 4,096 bytes and 256 levels per
// path, valid UTF-8, no control characters and no backslash. Trees must be exactly what git writes: canonical modes,
// entries sorted in git's order, unique names. Depth and length are checked per tree through its `TreeShape` (the
// deepest and longest path below it), which a caller computes children first, so a whole repository is never walked
// to validate one new tree. Every check is linear in its input.

/// The deepest and the longest path below a tree, relative to it: what bounds depth and path length without
/// walking the tree again.
package struct TreeShape: Sendable, Hashable {
    /// The most components of a path below the tree (0 for the empty tree, 1 for a tree of files).
    package var height: Int
    /// The most bytes of a path below the tree, `/` separators included.
    package var longest: Int

    /// Creates a shape.
    package init(height: Int, longest: Int) {
        self.height = height
        self.longest = longest
    }

    /// The empty tree's shape.
    package static let empty = TreeShape(height: 0, longest: 0)

    /// Widens the shape by one entry of the tree: a file (or gitlink) of `nameBytes` bytes, or a directory whose own
    /// shape is `subtree`.
    package mutating func include(nameBytes: Int, subtree: TreeShape?) {
        let entry =
            subtree.map { child in
                TreeShape(height: child.height + 1, longest: nameBytes + (child.height > 0 ? 1 + child.longest : 0))
            } ?? TreeShape(height: 1, longest: nameBytes)
        height = max(height, entry.height)
        longest = max(longest, entry.longest)
    }
}

/// A tree that passed ``TreeValidator/tree(_:id:path:shapeOf:)``: its entries in git order and its shape.
package struct ValidatedTree: Sendable, Hashable {
    /// The entries, in the tree's (git) order.
    package var entries: [TreeEntry]
    /// The deepest and longest path below the tree.
    package var shape: TreeShape
}

/// Names, paths, trees and commits checked against ``ValidationRule``s.
package enum TreeValidator {
    /// The longest name, in bytes (what Linux filesystems store).
    package static let maxNameBytes = 255
    /// The longest path, in bytes (`PATH_MAX` less the terminating NUL).
    package static let maxPathBytes = 4_096
    /// The most components of a path.
    package static let maxDepth = 256
    /// The longest author or committer name or email, in bytes.
    package static let maxSignatureFieldBytes = 1_024

    // MARK: Names

    /// Checks a name given as the bytes a tree stores.
    /// - Parameter parent: the directory's path, to name the place in the error.
    /// - Returns: the name as text.
    package static func name(_ bytes: some Collection<UInt8>, parent: String) throws(TreeError) -> String {
        let location = { PathName.join(parent, PathName.escaped(bytes)) }
        if bytes.isEmpty { throw refusal(.emptyName, location(), "an empty name") }
        if bytes.count > maxNameBytes {
            throw refusal(.nameTooLong, location(), "a name of \(bytes.count) bytes (at most \(maxNameBytes))")
        }
        if bytes.contains(0) { throw refusal(.nulInName, location(), "a NUL byte in a name") }
        if bytes.contains(UInt8(ascii: "/")) { throw refusal(.slashInName, location(), "a '/' inside a name") }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw refusal(.notUTF8, location(), "a name that is not valid UTF-8 (invalid bytes shown as \\xNN)")
        }
        try check(name: text, at: PathName.join(parent, text))
        return text
    }

    /// Checks a name given as text (a path component).
    /// - Parameter location: the path to name in the error.
    package static func check(name: String, at location: String) throws(TreeError) {
        let bytes = name.utf8
        if bytes.isEmpty { throw refusal(.emptyName, location, "an empty path component") }
        if bytes.count > maxNameBytes {
            throw refusal(.nameTooLong, location, "a name of \(bytes.count) bytes (at most \(maxNameBytes))")
        }
        if bytes.elementsEqual(".".utf8) || bytes.elementsEqual("..".utf8) {
            throw refusal(.dotName, location, "a '\(name)' component")
        }
        for scalar in name.unicodeScalars {
            switch scalar.value {
            case 0: throw refusal(.nulInName, location, "a NUL byte in a name")
            case 0x2f: throw refusal(.slashInName, location, "a '/' inside a name")
            case 0x5c: throw refusal(.backslash, location, "a backslash in a name")
            case 0x01...0x1f, 0x7f...0x9f:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                throw refusal(
                    .controlCharacter, location,
                    "the control character U+\(String(repeating: "0", count: 4 - hex.count) + hex) in a name")
            default: continue
            }
        }
        if isDotGit(name) {
            throw refusal(.dotGit, location, "'\(name)' would be taken for '.git' by git or a case-insensitive filesystem")
        }
    }

    /// Whether git (with NTFS and HFS+ protection) or a case-insensitive filesystem takes `name` for `.git`.
    package static func isDotGit(_ name: String) -> Bool {
        // Fast path (every name of every listing comes here): such a name starts with `.`, `g` or `G`, or with an
        // ignorable code point, which is not ASCII.
        guard let first = name.utf8.first else { return false }
        if first < 0x80, first != UInt8(ascii: "."), first | 0x20 != UInt8(ascii: "g") { return false }
        let folded = foldedASCII(name)
        // NTFS: `.git` or `git~1`, then only spaces and dots, up to the end or an alternate stream (`:`).
        for stem in [".git", "git~1"] where folded.hasPrefix(stem) {
            let rest = folded.dropFirst(stem.count).prefix { $0 != ":" }
            if rest.allSatisfy({ $0 == " " || $0 == "." }) { return true }
        }
        return false
    }

    /// Whether a symlink of this name is refused: the files git reads from the work tree (`.gitmodules`,
    /// `.gitattributes`, `.gitignore`, `.mailmap`) in any spelling NTFS or HFS+ maps to them, short names included
    /// (git's `is_ntfs_dotgitmodules` and friends).
    package static func isGitMetadataName(_ name: String) -> Bool {
        var folded = foldedASCII(name)
        while folded.last == " " || folded.last == "." { folded.removeLast() }
        if [".gitmodules", ".gitattributes", ".gitignore", ".mailmap"].contains(folded) { return true }
        // 8.3 short names: six characters, `~`, a digit 1-9.
        let shortStems = ["gitmod", "gi7eba", "gitatt", "gi7d29", "gitign", "gi250a", "mailma", "maba30"]
        let characters = Array(folded)
        guard characters.count == 8, characters[6] == "~", let digit = characters[7].wholeNumberValue, digit >= 1
        else { return false }
        return shortStems.contains(String(characters[0..<6]))
    }

    /// Lower-cases ASCII letters and drops the code points HFS+ ignores (git's `is_hfs_dotgit` list).
    private static func foldedASCII(_ name: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in name.unicodeScalars {
            switch scalar.value {
            case 0x200c...0x200f, 0x202a...0x202e, 0x206a...0x206f, 0xfeff: continue
            // An ASCII capital plus 0x20 is its small letter, a valid scalar.
            case 0x41...0x5a: scalars.append(Unicode.Scalar(scalar.value + 0x20)!)
            default: scalars.append(scalar)
            }
        }
        return String(scalars)
    }

    // MARK: Paths

    /// Splits a slash-separated repository path into checked components.
    ///
    /// Leading, trailing and doubled slashes are refused rather than normalized, so that one path has one spelling.
    /// Length and depth are checked before the path is split, so an absurd path costs no more than reading it. The
    /// path is split on its `/` bytes and each component keeps its bytes exactly: names are compared as bytes, so
    /// canonically equivalent spellings (a precomposed `é` and `e` plus a combining accent) stay distinct names.
    /// - Throws: ``TreeError/invalid(_:)`` naming the rule.
    package static func components(of path: String) throws(TreeError) -> [FileName] {
        let bytes = path.utf8
        guard !bytes.isEmpty else { throw refusal(.emptyPath, path, "an empty path") }
        guard bytes.count <= maxPathBytes else {
            throw refusal(
                .pathTooLong, String(path.prefix(64)) + "...",
                "a path of \(bytes.count) bytes (at most \(maxPathBytes))")
        }
        if bytes.first == UInt8(ascii: "/") {
            throw refusal(.absolutePath, path, "an absolute path (paths are relative to the repository's root)")
        }
        let depth = bytes.reduce(1) { $1 == UInt8(ascii: "/") ? $0 + 1 : $0 }
        guard depth <= maxDepth else {
            throw refusal(.pathTooDeep, path, "a path of \(depth) components (at most \(maxDepth))")
        }
        // Split bytes, not characters: a `/` followed by a combining mark is one `Character` but still a separator.
        let parts = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).map {
            FileName(bytes: Array($0))
        }
        // Each part is valid UTF-8: the path is, and it was cut only at ASCII bytes.
        for part in parts { try check(name: part.string, at: path) }
        return parts
    }

    /// Checks the shape of a tree found at `path` (its id when the path is unknown) against the depth and length
    /// bounds.
    package static func check(shape: TreeShape, at location: String) throws(TreeError) {
        if shape.height > maxDepth {
            throw refusal(.pathTooDeep, location, "a path of \(shape.height) components below (at most \(maxDepth))")
        }
        if shape.longest > maxPathBytes {
            throw refusal(.pathTooLong, location, "a path of \(shape.longest) bytes below (at most \(maxPathBytes))")
        }
    }

    // MARK: Trees

    /// Parses and checks a tree object's body as git writes it: canonical modes (`100644`, `100755`, `120000`,
    /// `40000`, `160000`), valid names, entries strictly in git's order, no name twice, no git metadata file as a
    /// symlink, and a shape within the depth and length bounds.
    /// - Parameters:
    ///   - body: the object's bytes after the `tree <size>\0` header.
    ///   - id: the tree's id, for messages.
    ///   - path: the tree's path when known (empty for a root or an unknown place), for messages.
    ///   - shapeOf: the shape of a subtree this tree names, given its id and path (callers validate children first
    ///     and remember their shapes).
    /// - Throws: ``TreeError/invalid(_:)`` naming the first rule broken, or what `shapeOf` throws.
    package static func tree(
        _ body: [UInt8], id: ObjectID, path: String = "",
        shapeOf: (ObjectID, String) throws(TreeError) -> TreeShape
    ) throws(TreeError) -> ValidatedTree {
        let place = path.isEmpty ? "tree \(id.hex)" : path
        var entries: [TreeEntry] = []
        // By bytes: `String` equality would take canonically equivalent names for one name.
        var names = Set<[UInt8]>()
        var previousKey: [UInt8] = []
        var shape = TreeShape.empty
        var index = 0
        while index < body.count {
            guard let space = body[index...].firstIndex(of: UInt8(ascii: " ")) else {
                throw refusal(.malformedTree, place, "an entry without a mode")
            }
            let modeText = String(decoding: body[index..<space], as: UTF8.self)
            guard let mode = canonicalModes[modeText] else {
                throw refusal(.badMode, place, "the mode '\(PathName.escaped(body[index..<space]))'")
            }
            guard let nul = body[(space + 1)...].firstIndex(of: 0), nul + 21 <= body.count else {
                throw refusal(.malformedTree, place, "a truncated entry at byte \(index)")
            }
            let nameBytes = body[(space + 1)..<nul]
            let name = try Self.name(nameBytes, parent: path)
            // The bounds were checked above, so the 20 id bytes are there.
            let entryID = ObjectID(bytes: body[(nul + 1)..<(nul + 21)])!
            index = nul + 21

            let location = PathName.join(path, name)
            var key = Array(nameBytes)
            if mode == .directory { key.append(UInt8(ascii: "/")) }
            guard names.insert(Array(nameBytes)).inserted else {
                throw refusal(.duplicateEntry, location, "a second entry '\(name)'")
            }
            guard previousKey.isEmpty || previousKey.lexicographicallyPrecedes(key) else {
                throw refusal(.unsortedEntries, location, "entries out of git's order")
            }
            previousKey = key
            if mode == .symlink, isGitMetadataName(name) {
                throw refusal(.gitMetadataSymlink, location, "'\(name)' as a symlink")
            }
            shape.include(nameBytes: nameBytes.count, subtree: mode == .directory ? try shapeOf(entryID, location) : nil)
            entries.append(TreeEntry(name: name, mode: mode, id: entryID))
        }
        try check(shape: shape, at: place)
        return ValidatedTree(entries: entries, shape: shape)
    }

    /// The modes git writes, exactly as it writes them.
    private static let canonicalModes: [String: FileMode] = [
        "100644": .regular, "100755": .executable, "120000": .symlink, "40000": .directory, "160000": .submodule,
    ]

    // MARK: Commits

    /// Parses and checks a commit object's body: `tree`, then `parent` lines, then exactly one `author` and one
    /// `committer` (git's ident format), then other headers (at most one `change-id`, which must parse), then an
    /// optional blank line and message.
    /// - Throws: ``TreeError/invalid(_:)`` naming the rule.
    package static func commit(_ body: [UInt8], id: ObjectID) throws(TreeError) -> Commit {
        let place = "commit \(id.hex)"
        var lines: [ArraySlice<UInt8>] = []
        var index = 0
        while index < body.count {
            let end = body[index...].firstIndex(of: 10) ?? body.count
            if end == index { break }
            lines.append(body[index..<end])
            index = end + 1
        }
        var cursor = 0
        func header(_ name: String) -> ArraySlice<UInt8>? {
            guard cursor < lines.count else { return nil }
            let line = lines[cursor]
            let prefix = Array(name.utf8) + [UInt8(ascii: " ")]
            guard line.starts(with: prefix) else { return nil }
            cursor += 1
            return line.dropFirst(prefix.count)
        }
        guard let tree = header("tree"), isObjectHex(tree) else {
            throw refusal(.malformedCommit, place, "no 'tree <40 hex digits>' first line")
        }
        while let parent = header("parent") {
            guard isObjectHex(parent) else { throw refusal(.malformedCommit, place, "a malformed parent line") }
        }
        guard let author = header("author") else { throw refusal(.malformedCommit, place, "no author line after the parents") }
        try check(ident: author, role: "author", at: place)
        guard let committer = header("committer") else {
            throw refusal(.malformedCommit, place, "no committer line after the author")
        }
        try check(ident: committer, role: "committer", at: place)
        var changeIDs = 0
        while cursor < lines.count {
            let line = lines[cursor]
            cursor += 1
            if line.first == UInt8(ascii: " ") { continue }  // a continuation line (gpgsig, mergetag)
            let key = String(decoding: line.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
            switch key {
            case "tree", "parent", "author", "committer":
                throw refusal(.malformedCommit, place, "a second or misplaced '\(key)' header")
            case "change-id":
                changeIDs += 1
                let value = String(decoding: line.dropFirst(10), as: UTF8.self)
                guard changeIDs == 1, ChangeID(parsing: value) != nil else {
                    throw refusal(.malformedCommit, place, "a change-id header that is repeated or not a change id")
                }
            default:
                guard !key.isEmpty, line.count > key.utf8.count else {
                    throw refusal(.malformedCommit, place, "a header line that is not 'key value'")
                }
            }
        }
        return try Commit(id: id, body: body)
    }

    /// Checks git's ident line `Name <email> 1700000000 +0100` (git fsck's `fsck_ident`).
    private static func check(ident line: ArraySlice<UInt8>, role: String, at place: String) throws(TreeError) {
        let fail = { (what: String) -> TreeError in refusal(.badSignature, place, "the \(role) \(what)") }
        let bytes = Array(line)
        guard bytes.first != UInt8(ascii: "<") else { throw fail("has no name before the email") }
        guard let open = bytes.firstIndex(where: { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") }),
            bytes[open] == UInt8(ascii: "<")
        else { throw fail("has no '<email>' or a '>' in the name") }
        guard open > 0, bytes[open - 1] == UInt8(ascii: " ") else { throw fail("has no space before the email") }
        guard let close = bytes[(open + 1)...].firstIndex(where: { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") }),
            bytes[close] == UInt8(ascii: ">")
        else { throw fail("has a malformed email") }
        let rest = bytes[(close + 1)...]
        guard rest.first == UInt8(ascii: " ") else { throw fail("has no space before the date") }
        let fields = rest.dropFirst().split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard fields.count == 2, let seconds = fields.first, !seconds.isEmpty, seconds.allSatisfy(isDigit),
            seconds.count <= 18, seconds.first != UInt8(ascii: "0") || seconds.count == 1
        else { throw fail("has a malformed date") }
        let zone = Array(fields[1])
        guard zone.count == 5, zone[0] == UInt8(ascii: "+") || zone[0] == UInt8(ascii: "-"),
            zone.dropFirst().allSatisfy(isDigit)
        else { throw fail("has a malformed time zone") }
    }

    /// Checks an author or committer a request names before a commit is built from it: no `<`, `>`, control
    /// characters or line breaks, and at most ``maxSignatureFieldBytes`` bytes each.
    /// - Throws: ``TreeError/invalid(_:)`` with rule ``ValidationRule/badSignature``.
    package static func check(signatureName name: String, email: String, role: String) throws(TreeError) {
        for (field, value) in [("name", name), ("email", email)] {
            if value.utf8.count > maxSignatureFieldBytes {
                throw refusal(.badSignature, role, "the \(role) \(field) is longer than \(maxSignatureFieldBytes) bytes")
            }
            if value.unicodeScalars.contains(where: { $0 == "<" || $0 == ">" || $0.value < 0x20 || $0.value == 0x7f }) {
                throw refusal(.badSignature, role, "the \(role) \(field) holds '<', '>' or a control character")
            }
        }
    }

    private static func isObjectHex(_ bytes: ArraySlice<UInt8>) -> Bool {
        bytes.count == 40 && bytes.allSatisfy { isDigit($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    private static func refusal(_ rule: ValidationRule, _ location: String, _ detail: String) -> TreeError {
        .invalid(ValidationFailure(rule, at: location, detail))
    }
}
