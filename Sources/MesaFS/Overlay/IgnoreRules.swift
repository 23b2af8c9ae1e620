package import MesaCore
import SystemPackage

// `.mesaignore` rules: gitignore syntax (gitignore(5)), matched on bytes. A matching path lives only in the mount's
// overlay: it is never uploaded and is gone when the daemon restarts. The file is read once, at mount time.
//
// Parsing and matching follow git's own code rather than its manual wherever the two could be read differently:
// `add_patterns_from_buffer`, `trim_trailing_spaces` and `parse_path_pattern` in git's dir.c (a UTF-8 BOM is
// skipped, a CR before LF dropped, trailing spaces trimmed unless escaped, a `!` negates, one trailing `/` means
// directories only, a pattern without another `/` matches the last component at any depth, one with a `/` is matched
// against the whole path from the root with its leading `/` removed), and `dowild` in git's wildmatch.c with
// WM_PATHNAME for the glob itself (`*`, `?`, `[...]` with ranges, `!`/`^` negation and `[:class:]`, `\` escapes,
// `**` only between slashes or at an end). The last matching rule wins. Like git, a path inside an ignored directory
// is ignored whatever later rules say (`prep_exclude` stops at the first excluded ancestor), so `isIgnored` checks
// each ancestor as a directory before the path itself. `.mesaignore` behaves as if `!.mesaignore` ended every rule
// set (MESA-API.md: "`!.mesaignore` always applies"). IgnoreRulesTests compares all of it with `git check-ignore`.

/// The rules of a `.mesaignore` file (gitignore syntax), answering whether a repository path stays local.
package struct IgnoreRules: Sendable {
    /// The name of the ignore file, which is never ignored.
    package static let fileName = FileName(".mesaignore")

    /// The built-in rules used when `MESA_MESAIGNORE_PATH` is unset; `mesa dump-default-mesaignore` prints them.
    package static let defaultText = """
        # The built-in .mesaignore, used when MESA_MESAIGNORE_PATH is unset. The syntax is gitignore's.
        # A matching path lives only in the mount's overlay: it is never uploaded and is gone when the daemon
        # restarts. A path inside an ignored directory is ignored too. .mesaignore itself is never ignored.

        # Git: repositories made inside a repository (git init, git clone) and the .git file of a worktree or a
        # submodule. A repository cannot store the name .git, and a nested repository's objects are local work.
        .git

        # Vim swap files.
        *.swp
        *.swo
        # Emacs: backups (also most editors' backups), auto-save files (the leading # is escaped, or the line
        # would be a comment) and lock links.
        *~
        \\#*#
        .#*
        # Kate swap files and the temporary files of gedit's (GIO's) safe save.
        .*.kate-swp
        .goutputstream-*
        # JetBrains IDEs' safe-write temporaries.
        *___jb_tmp___
        *___jb_old___
        # Office lock files: LibreOffice and Microsoft Office.
        .~lock.*#
        ~$*

        # macOS: Finder's folder metadata and AppleDouble files (extended attributes kept beside a file).
        .DS_Store
        ._*
        # Windows: Explorer's thumbnail caches and folder settings.
        Thumbs.db
        ehthumbs.db
        desktop.ini

        """

    /// The built-in rules, parsed from ``defaultText``.
    package static let `default` = IgnoreRules(parsing: defaultText)

    /// The rules in file order (the last match wins).
    private let rules: [Rule]

    /// Parses gitignore text.
    package init(parsing text: String) {
        self.init(parsing: Array(text.utf8))
    }

    /// Parses gitignore text given as bytes (a file need not be UTF-8; patterns match names byte for byte).
    package init(parsing bytes: [UInt8]) {
        var text = bytes[...]
        if text.starts(with: [0xEF, 0xBB, 0xBF]) { text = text.dropFirst(3) }
        rules = text.split(separator: Byte.newline, omittingEmptySubsequences: true).compactMap { Rule(line: $0) }
    }

    /// Whether `path` stays local: it, or one of its ancestors as a directory, is matched last by a rule that is
    /// not a negation. A component named `.mesaignore` is never matched itself (an implicit last `!.mesaignore`),
    /// though it is still ignored inside an ignored directory, as in git.
    /// - Parameters:
    ///   - path: Components from the root the rules' anchored patterns refer to (the repository root); an empty
    ///     path (the root itself) is never ignored.
    ///   - isDirectory: Whether the last component is a directory (rules ending in `/` match only directories;
    ///     a symbolic link to a directory is not one).
    package func isIgnored(_ path: [FileName], isDirectory: Bool) -> Bool {
        var joined: [UInt8] = []
        for (index, name) in path.enumerated() {
            if index > 0 { joined.append(Byte.slash) }
            joined.append(contentsOf: name.bytes)
            if name == Self.fileName { continue }
            let isLast = index == path.count - 1
            if let rule = lastMatch(name: name.bytes, path: joined, isDirectory: isLast ? isDirectory : true),
                !rule.isNegated
            {
                return true
            }
        }
        return false
    }

    /// The rules `MESA_MESAIGNORE_PATH` names: ``default`` when `path` is nil, else the file's rules.
    /// - Throws: ``FSError/invalidArgument(_:)`` when the file cannot be read (missing, a directory, unreadable).
    package static func load(path: String?) throws(FSError) -> IgnoreRules {
        guard let path else { return .default }
        do {
            let bytes = try readFile(path)
            return IgnoreRules(parsing: bytes)
        } catch {
            let reason = (error as? Errno).map { "\($0)" } ?? "\(error)"
            throw .invalidArgument(
                "cannot read the .mesaignore file \(path) (\(reason)): fix MESA_MESAIGNORE_PATH, or unset it to use "
                    + "the built-in rules that mesa dump-default-mesaignore prints"
            )
        }
    }

    private static func readFile(_ path: String) throws -> [UInt8] {
        let descriptor = try FileDescriptor.open(FilePath(path), .readOnly)
        return try descriptor.closeAfter {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let count = try buffer.withUnsafeMutableBytes { try descriptor.read(into: $0) }
                if count == 0 { return bytes }
                bytes.append(contentsOf: buffer[..<count])
            }
        }
    }

    /// The last rule matching a path, looked at as its last component `name` and its full `path`.
    private func lastMatch(name: [UInt8], path: [UInt8], isDirectory: Bool) -> Rule? {
        rules.last { rule in
            guard isDirectory || !rule.isDirectoryOnly else { return false }
            return Wildmatch.matches(rule.pattern, rule.matchesName ? name : path)
        }
    }
}

/// One line of an ignore file.
private struct Rule: Sendable {
    /// The glob, without its `!`, trailing `/` and leading `/`; escapes are kept for ``Wildmatch``.
    var pattern: [UInt8]
    /// `!pattern`: a match re-includes the path.
    var isNegated = false
    /// `pattern/`: only directories match.
    var isDirectoryOnly = false
    /// No `/` apart from a trailing one: the pattern matches the last component at any depth. Otherwise it
    /// matches the whole path from the root.
    var matchesName = false

    /// Parses one line (without its newline) as git's `add_patterns_from_buffer` and `parse_path_pattern` do;
    /// nil for a comment, a blank line, or a pattern that is empty once parsed (it could match nothing).
    init?(line: ArraySlice<UInt8>) {
        guard line.first != Byte.hash else { return nil }
        var line = line
        if line.last == Byte.carriageReturn { line = line.dropLast() }
        line = Self.trimmingTrailingSpaces(line)
        if line.first == Byte.bang {
            isNegated = true
            line = line.dropFirst()
        }
        if line.last == Byte.slash {
            isDirectoryOnly = true
            line = line.dropLast()
        }
        matchesName = !line.contains(Byte.slash)
        if line.first == Byte.slash { line = line.dropFirst() }
        guard !line.isEmpty else { return nil }
        pattern = Array(line)
    }

    /// Drops trailing spaces unless the first of them is escaped by a backslash (git's `trim_trailing_spaces`:
    /// only spaces, not tabs; the escape stays in the pattern, where it matches a space).
    private static func trimmingTrailingSpaces(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var lastSpace: Int?
        var index = line.startIndex
        while index < line.endIndex {
            switch line[index] {
            case Byte.space:
                if lastSpace == nil { lastSpace = index }
            case Byte.backslash:
                index += 1
                if index == line.endIndex { return line }
                lastSpace = nil
            default:
                lastSpace = nil
            }
            index += 1
        }
        return lastSpace.map { line[..<$0] } ?? line
    }
}

/// The bytes the syntax gives a meaning to.
private enum Byte {
    static let newline = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let space = UInt8(ascii: " ")
    static let hash = UInt8(ascii: "#")
    static let bang = UInt8(ascii: "!")
    static let caret = UInt8(ascii: "^")
    static let slash = UInt8(ascii: "/")
    static let backslash = UInt8(ascii: "\\")
    static let star = UInt8(ascii: "*")
    static let question = UInt8(ascii: "?")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let dash = UInt8(ascii: "-")
    static let colon = UInt8(ascii: ":")
}

/// git's wildmatch with WM_PATHNAME (`*` and `?` never match `/`, `**` between slashes matches any number of
/// directories), ported from wildmatch.c's `dowild` branch for branch so that the two answer alike. A byte past the
/// end reads as 0, as the C strings' terminator does.
private struct Wildmatch {
    private enum Outcome {
        case match
        case noMatch
        /// The text ran out: no shorter start of a `*` can match either.
        case abortAll
        /// A `*` reached a `/`: only an enclosing `**` may go on trying.
        case abortToStarStar
    }

    private let pattern: [UInt8]
    private let text: [UInt8]

    /// Whether `text` matches the glob `pattern`.
    static func matches(_ pattern: [UInt8], _ text: [UInt8]) -> Bool {
        Wildmatch(pattern: pattern, text: text).match(from: 0, text: 0) == .match
    }

    private func patternByte(_ index: Int) -> UInt8 { index < pattern.count ? pattern[index] : 0 }
    private func textByte(_ index: Int) -> UInt8 { index < text.count ? text[index] : 0 }

    /// Whether the rest of `text` from `textStart` contains a `/`.
    private func textHasSlash(from textStart: Int) -> Bool { text[min(textStart, text.count)...].contains(Byte.slash) }

    private static func isGlobSpecial(_ byte: UInt8) -> Bool {
        byte == Byte.star || byte == Byte.question || byte == Byte.openBracket || byte == Byte.backslash
    }

    private func match(from patternStart: Int, text textStart: Int) -> Outcome {
        var p = patternStart
        var t = textStart
        while patternByte(p) != 0 {
            var patternChar = patternByte(p)
            var textChar = textByte(t)
            if textChar == 0 && patternChar != Byte.star { return .abortAll }
            switch patternChar {
            case Byte.backslash:
                // A literal match with the next byte (a trailing backslash matches nothing: 0 is no text byte).
                p += 1
                patternChar = patternByte(p)
                if textChar != patternChar { return .noMatch }
            case Byte.question:
                if textChar == Byte.slash { return .noMatch }
            case Byte.star:
                var matchesSlash = false
                p += 1
                if patternByte(p) == Byte.star {
                    let before = p - 2
                    while patternByte(p) == Byte.star { p += 1 }
                    let next = patternByte(p)
                    if (before < patternStart || pattern[before] == Byte.slash)
                        && (next == 0 || next == Byte.slash
                            || (next == Byte.backslash && patternByte(p + 1) == Byte.slash))
                    {
                        // `**/` may match nothing: try the rest at once, so `a/**/b` matches `a/b`.
                        if next == Byte.slash && match(from: p + 1, text: t) == .match { return .match }
                        matchesSlash = true
                    }
                }
                if patternByte(p) == 0 {
                    // A trailing `**` matches everything; a trailing `*` only what has no more `/`.
                    return !matchesSlash && textHasSlash(from: t) ? .noMatch : .match
                }
                if !matchesSlash && patternByte(p) == Byte.slash {
                    // `*/` matches the rest of this component; the loop's step consumes both slashes.
                    guard let slash = text[min(t, text.count)...].firstIndex(of: Byte.slash) else { return .noMatch }
                    t = slash
                    break
                }
                while textChar != 0 {
                    // Skip ahead to the literal that follows the `*` (not past a `/` unless `**`).
                    let literal = patternByte(p)
                    if !Self.isGlobSpecial(literal) {
                        while true {
                            textChar = textByte(t)
                            if textChar == 0 || (!matchesSlash && textChar == Byte.slash) || textChar == literal {
                                break
                            }
                            t += 1
                        }
                        if textChar != literal { return .noMatch }
                    }
                    let outcome = match(from: p, text: t)
                    if outcome != .noMatch {
                        if !matchesSlash || outcome != .abortToStarStar { return outcome }
                    } else if !matchesSlash && textChar == Byte.slash {
                        return .abortToStarStar
                    }
                    t += 1
                    textChar = textByte(t)
                }
                return .abortAll
            case Byte.openBracket:
                p += 1
                patternChar = patternByte(p)
                if patternChar == Byte.caret { patternChar = Byte.bang }
                let negated = patternChar == Byte.bang
                if negated {
                    p += 1
                    patternChar = patternByte(p)
                }
                var previous: UInt8 = 0
                var matched = false
                // The first byte is a member even when it is `]`: the do-while of wildmatch.c.
                repeat {
                    if patternChar == 0 { return .abortAll }
                    if patternChar == Byte.backslash {
                        p += 1
                        patternChar = patternByte(p)
                        if patternChar == 0 { return .abortAll }
                        if textChar == patternChar { matched = true }
                    } else if patternChar == Byte.dash && previous != 0 && patternByte(p + 1) != 0
                        && patternByte(p + 1) != Byte.closeBracket
                    {
                        p += 1
                        patternChar = patternByte(p)
                        if patternChar == Byte.backslash {
                            p += 1
                            patternChar = patternByte(p)
                            if patternChar == 0 { return .abortAll }
                        }
                        if textChar <= patternChar && textChar >= previous { matched = true }
                        patternChar = 0  // A range's end starts no new range.
                    } else if patternChar == Byte.openBracket && patternByte(p + 1) == Byte.colon {
                        p += 2
                        let classStart = p
                        while patternByte(p) != 0 && patternByte(p) != Byte.closeBracket { p += 1 }
                        if patternByte(p) == 0 { return .abortAll }
                        let length = p - classStart - 1
                        if length < 0 || pattern[p - 1] != Byte.colon {
                            // No `:]`: the `[` is an ordinary member.
                            p = classStart - 2
                            patternChar = Byte.openBracket
                            if textChar == patternChar { matched = true }
                        } else {
                            guard let member = Self.characterClass(pattern[classStart..<(classStart + length)]) else {
                                return .abortAll
                            }
                            if member(textChar) { matched = true }
                            patternChar = 0
                        }
                    } else if textChar == patternChar {
                        matched = true
                    }
                    previous = patternChar
                    p += 1
                    patternChar = patternByte(p)
                } while patternChar != Byte.closeBracket
                if matched == negated || textChar == Byte.slash { return .noMatch }
            default:
                if textChar != patternChar { return .noMatch }
            }
            p += 1
            t += 1
        }
        return textByte(t) != 0 ? .noMatch : .match
    }

    /// The POSIX class `[:name:]` as git's ASCII-only ctype sees it; nil for an unknown name.
    private static func characterClass(_ name: ArraySlice<UInt8>) -> ((UInt8) -> Bool)? {
        let isUpper: (UInt8) -> Bool = { $0 >= 0x41 && $0 <= 0x5A }
        let isLower: (UInt8) -> Bool = { $0 >= 0x61 && $0 <= 0x7A }
        let isDigit: (UInt8) -> Bool = { $0 >= 0x30 && $0 <= 0x39 }
        let isAlpha: (UInt8) -> Bool = { isUpper($0) || isLower($0) }
        let isGraph: (UInt8) -> Bool = { $0 >= 0x21 && $0 <= 0x7E }
        switch String(decoding: name, as: UTF8.self) {
        case "alnum": return { isAlpha($0) || isDigit($0) }
        case "alpha": return isAlpha
        case "blank": return { $0 == 0x20 || $0 == 0x09 }
        case "cntrl": return { $0 < 0x20 || $0 == 0x7F }
        case "digit": return isDigit
        case "graph": return isGraph
        case "lower": return isLower
        case "print": return { $0 >= 0x20 && $0 <= 0x7E }
        case "punct": return { isGraph($0) && !isAlpha($0) && !isDigit($0) }
        // git's isspace: space, tab, newline and carriage return (not vertical tab or form feed).
        case "space": return { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        case "upper": return isUpper
        case "xdigit": return { isDigit($0) || ($0 >= 0x41 && $0 <= 0x46) || ($0 >= 0x61 && $0 <= 0x66) }
        default: return nil
        }
    }
}
