import Foundation
import MesaCore
import MesaFS
import MesaTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One row of the syntax table: rules, a path, whether it is a directory, and whether it is ignored.
struct IgnoreCase: Sendable, CustomTestStringConvertible {
    var rules: String
    var path: String
    var isDirectory: Bool
    var ignored: Bool

    var components: [FileName] { path.split(separator: "/").map { FileName(String($0)) } }
    var testDescription: String {
        "\(rules.debugDescription) \(isDirectory ? "dir" : "file") \(path) → \(ignored ? "ignored" : "kept")"
    }
}

private func file(_ rules: String, _ path: String, _ ignored: Bool) -> IgnoreCase {
    IgnoreCase(rules: rules, path: path, isDirectory: false, ignored: ignored)
}

private func directory(_ rules: String, _ path: String, _ ignored: Bool) -> IgnoreCase {
    IgnoreCase(rules: rules, path: path, isDirectory: true, ignored: ignored)
}

/// Every syntax item of gitignore(5), one or more rows each; each row is also checked against git below.
let ignoreSyntaxTable: [IgnoreCase] = [
    // Blank lines and comments.
    file("\n\n# foo\nfoo\n", "foo", true),
    file("#foo", "#foo", false),
    file("\n   \n\t\nbar", "baz", false),
    file("\n   \nbar", "bar", true),
    // Escapes: \# is a pattern starting with #, \! one starting with !.
    file("\\#foo", "#foo", true),
    file("\\!important", "!important", true),
    file("\\!important", "important", false),
    // Trailing spaces are trimmed unless escaped; tabs are not trimmed; a CR before LF is dropped.
    file("foo   ", "foo", true),
    file("foo\\ ", "foo ", true),
    file("foo\\ ", "foo", false),
    file("foo\\  ", "foo ", true),
    file("foo\t", "foo", false),
    file("foo\r\nbar\r\n", "bar", true),
    file("foo\r\nbar\r\n", "foo", true),
    // Negation, and the last matching rule wins.
    file("*.log\n!keep.log", "keep.log", false),
    file("*.log\n!keep.log", "a.log", true),
    file("!keep.log\n*.log", "keep.log", true),
    file("!keep.log", "keep.log", false),
    // A leading / anchors to the root; without any / a pattern matches at every depth.
    file("/foo", "foo", true),
    file("/foo", "a/foo", false),
    file("foo", "a/b/foo", true),
    directory("foo", "a/foo", true),
    // A / in the middle anchors to the root too.
    file("a/foo", "a/foo", true),
    file("a/foo", "b/a/foo", false),
    file("a/*.c", "a/x.c", true),
    file("a/*.c", "a/b/x.c", false),
    // A trailing / matches only directories (and so everything in them).
    directory("build/", "build", true),
    file("build/", "build", false),
    directory("build/", "src/build", true),
    file("build/", "build/out.o", true),
    directory("a/b/", "a/b", true),
    file("a/b/", "a/b", false),
    // * and ?: never across a /.
    file("*.c", "x.c", true),
    file("*.c", "a/b/x.c", true),
    file("*.c", "x.cc", false),
    file("a?c", "abc", true),
    file("a?c", "ac", false),
    file("a*c", "a/c", false),
    file("x/a*c", "x/abbc", true),
    file("x/a?c", "x/a/c", false),
    file("x/*", "x/y", true),
    file("x/*", "x", false),
    // Classes: members, ranges, negation with ! or ^, ] first, - last, POSIX classes, escapes.
    file("[abc].txt", "b.txt", true),
    file("[abc].txt", "d.txt", false),
    file("[a-c]x", "bx", true),
    file("[a-c]x", "dx", false),
    file("[!a-c]x", "dx", true),
    file("[!a-c]x", "bx", false),
    file("[^a]x", "bx", true),
    file("[]]x", "]x", true),
    file("[a-]x", "-x", true),
    file("[[:digit:]]*", "9lives", true),
    file("[[:digit:]]*", "nine", false),
    file("[[:upper:]]", "Q", true),
    file("[\\]]", "]", true),
    file("[abc", "[abc", false),
    file("\\*", "*", true),
    file("\\*", "a", false),
    file("\\?", "?", true),
    file("\\[a]", "[a]", true),
    // ** in its three positions, and elsewhere (where it is one *).
    file("**/foo", "foo", true),
    file("**/foo", "a/b/foo", true),
    directory("**/foo", "a/foo", true),
    file("**/foo/bar", "foo/bar", true),
    file("**/foo/bar", "x/y/foo/bar", true),
    file("**/foo/bar", "foo/x/bar", false),
    file("abc/**", "abc/x", true),
    file("abc/**", "abc/x/y", true),
    directory("abc/**", "abc", false),
    file("abc/**", "abd/x", false),
    file("a/**/b", "a/b", true),
    file("a/**/b", "a/x/b", true),
    file("a/**/b", "a/x/y/b", true),
    file("a/**/b", "a/xb", false),
    file("a**b", "axxb", true),
    file("a/**b", "a/xb", true),
    file("a/**b", "a/x/b", false),
    directory("**/", "any", true),
    file("**/", "any", false),
    // A path inside an excluded directory cannot be re-included.
    file("build/\n!build/keep.txt", "build/keep.txt", true),
    file("build\n!build/keep.txt", "build/keep.txt", true),
    file("build/*\n!build/keep.txt", "build/keep.txt", false),
    file("build/*\n!build/keep.txt", "build/other", true),
    directory("/*\n!/src/", "src", false),
    file("/*\n!/src/", "src/x", false),
    file("/*\n!/src/", "docs/x", true),
    file("*\n!*/\n!*.c", "a/b.c", false),
    file("*\n!*/\n!*.c", "a/b.h", true),
    // .mesaignore is never ignored itself, even by *; inside an ignored directory it is, as in git.
    file("*", ".mesaignore", false),
    file("*", "a", true),
    file("*", "sub/.mesaignore", true),
    file(".mesaignore", ".mesaignore", false),
    directory(".mesaignore/", ".mesaignore", false),
    file("*\n!*/", "sub/.mesaignore", false),
]

/// Paths checked against the built-in rules: (path, isDirectory, ignored).
let defaultRuleTable: [(String, Bool, Bool)] = [
    (".git/config", false, true), ("src/.git/HEAD", false, true), (".git", true, true), ("wt/.git", false, true),
    ("vendor/lib/.git/objects/pack/p.pack", false, true), ("foo.swp", false, true), ("src/.main.c.swp", false, true),
    (".main.c.swo", false, true), ("main.c~", false, true), ("#main.c#", false, true), (".#main.c", false, true),
    (".main.c.kate-swp", false, true), (".goutputstream-ABC123", false, true), ("a.txt___jb_tmp___", false, true),
    ("a.txt___jb_old___", false, true), (".~lock.report.odt#", false, true), ("~$report.docx", false, true),
    (".DS_Store", false, true), ("docs/._image.png", false, true), ("Thumbs.db", false, true),
    ("ehthumbs.db", false, true), ("docs/desktop.ini", false, true),
    ("src/main.c", false, false), (".gitignore", false, false), (".github/workflows/ci.yml", false, false),
    (".gitmodules", false, false), ("#notes", false, false), ("notes#", false, false), ("README.md", false, false),
    (".mesaignore", false, false), ("src", true, false), ("swp", false, false), ("a.swpx", false, false),
    ("lock.txt", false, false), ("git", true, false), ("x.git", true, false),
]

@Suite struct IgnoreRulesTests {
    @Test(arguments: ignoreSyntaxTable)
    func syntaxRow(_ row: IgnoreCase) {
        let rules = IgnoreRules(parsing: row.rules)
        #expect(rules.isIgnored(row.components, isDirectory: row.isDirectory) == row.ignored)
    }

    @Test func builtInRules() {
        for (path, isDirectory, ignored) in defaultRuleTable {
            let components = path.split(separator: "/").map { FileName(String($0)) }
            #expect(IgnoreRules.default.isIgnored(components, isDirectory: isDirectory) == ignored, "\(path)")
        }
        #expect(IgnoreRules.defaultText.hasSuffix("\n"))
    }

    @Test func theRootAndEmptyRulesIgnoreNothing() {
        #expect(!IgnoreRules(parsing: "*").isIgnored([], isDirectory: true))
        #expect(!IgnoreRules(parsing: "").isIgnored([FileName("a")], isDirectory: false))
        #expect(!IgnoreRules(parsing: "# only\n\n!\n/\n").isIgnored([FileName("a")], isDirectory: true))
    }

    @Test func namesThatAreNotUTF8MatchByteForByte() {
        let invalid = FileName(bytes: [0xFF])
        #expect(IgnoreRules(parsing: "*").isIgnored([invalid], isDirectory: false))
        #expect(IgnoreRules(parsing: "?").isIgnored([invalid], isDirectory: false))
        #expect(IgnoreRules(parsing: "[!a]").isIgnored([invalid], isDirectory: false))
        #expect(IgnoreRules(parsing: "a*").isIgnored([FileName(bytes: [0x61, 0xFE, 0xFF])], isDirectory: false))
        #expect(!IgnoreRules(parsing: "a").isIgnored([invalid], isDirectory: false))
        // A pattern of raw bytes (a file need not be UTF-8) matches the same bytes, not a replacement character.
        let raw = IgnoreRules(parsing: [0xFF, 0x2A])
        #expect(raw.isIgnored([FileName(bytes: [0xFF, 0x41])], isDirectory: false))
        #expect(!raw.isIgnored([FileName("\u{FFFD}A")], isDirectory: false))
        #expect(IgnoreRules(parsing: "dir/").isIgnored([FileName("dir"), invalid], isDirectory: false))
    }

    @Test func arbitraryBytesNeverCrash() {
        var random = SeededBytes(seed: 9)
        let alphabet = Array("ab*?[]!^-\\/: \r\n#".utf8) + [0x00, 0x80, 0xFF]
        let nameBytes = alphabet.filter { $0 != 0x2F && $0 != 0 }
        for _ in 0..<2000 {
            let ruleLength = Int.random(in: 0...24, using: &random)
            let rules = (0..<ruleLength).map { _ in alphabet.randomElement(using: &random)! }
            let path = (0..<Int.random(in: 1...3, using: &random)).map { _ in
                let length = Int.random(in: 1...6, using: &random)
                return FileName(bytes: (0..<length).map { _ in nameBytes.randomElement(using: &random)! })
            }
            _ = IgnoreRules(parsing: rules).isIgnored(path, isDirectory: Bool.random(using: &random))
        }
    }

    @Test func loadReadsTheNamedFileOrTheDefaults() throws {
        let defaults = try IgnoreRules.load(path: nil)
        #expect(defaults.isIgnored([FileName(".git"), FileName("config")], isDirectory: false))
        let directory = try TemporaryDirectory()
        let path = directory.appending("mesaignore")
        #expect(FileManager.default.createFile(atPath: path, contents: Data("\u{FEFF}*.o\n!keep.o\n".utf8)))
        let rules = try IgnoreRules.load(path: path)
        #expect(rules.isIgnored([FileName("a.o")], isDirectory: false))
        #expect(!rules.isIgnored([FileName("keep.o")], isDirectory: false))
        #expect(!rules.isIgnored([FileName(".git"), FileName("config")], isDirectory: false))
    }

    @Test func aMissingOrUnreadableFileIsAnInvalidArgument() throws {
        let directory = try TemporaryDirectory()
        for path in [directory.appending("missing"), directory.path] {
            do throws(FSError) {
                _ = try IgnoreRules.load(path: path)
                Issue.record("loading \(path) succeeded")
            } catch {
                guard case .invalidArgument(let message) = error else {
                    Issue.record("unexpected \(error)")
                    continue
                }
                #expect(message.contains(path) && message.contains("MESA_MESAIGNORE_PATH"))
            }
        }
    }
}

/// IgnoreRules against `git check-ignore`: the reference the syntax must agree with.
@Suite(.enabled(if: GitCheckIgnore.executable != nil, "git is not installed"))
struct IgnoreRulesGitConformanceTests {
    @Test func theSyntaxTableAgreesWithGit() throws {
        let git = try GitCheckIgnore()
        let groups = Dictionary(grouping: ignoreSyntaxTable, by: \.rules)
        for (rules, rows) in groups.sorted(by: { $0.key < $1.key }) {
            // One path can be a file in one row and a directory in another: one scratch tree per row.
            for row in rows {
                let fromGit = try git.ignored(rules: Array(rules.utf8), paths: [(row.components, row.isDirectory)])
                #expect(fromGit == [row.ignored], "git: \(row.testDescription)")
            }
        }
    }

    @Test func theBuiltInRulesAgreeWithGit() throws {
        let git = try GitCheckIgnore()
        let paths = defaultRuleTable.map { ($0.0.split(separator: "/").map { FileName(String($0)) }, $0.1) }
        let fromGit = try git.ignored(rules: Array(IgnoreRules.defaultText.utf8), paths: paths)
        for (index, (path, isDirectory)) in paths.enumerated() {
            #expect(fromGit[index] == defaultRuleTable[index].2, "git: \(defaultRuleTable[index].0)")
            #expect(IgnoreRules.default.isIgnored(path, isDirectory: isDirectory) == fromGit[index])
        }
    }

    /// A realistic ignore file over a project tree: every path answered as git answers it.
    @Test func aProjectIgnoreFileAgreesWithGit() throws {
        let rules = """
            # build output
            /build/
            *.o
            !vendor/**/*.o
            dist
            # logs, but keep one
            logs/*
            !logs/.keep
            # editor
            *.sw[op]
            .idea/
            # generated, except the checked-in schema
            gen/**
            !gen/schema.json
            docs/**/*.html
            **/node_modules
            **/cache/**
            tmp?/
            [Dd]ebug*/
            *.[!ch]
            \\#*
            file\\ with\\ space\\\u{20}
            """
        let paths: [(String, Bool)] = [
            ("build", true), ("build/x/y.txt", false), ("src/build", true), ("src/build/a.c", false),
            ("main.o", false), ("src/deep/x.o", false), ("vendor/lib/a.o", false), ("vendor/a.o", false),
            ("vendor/x/y/z.o", false), ("dist", false), ("pkg/dist", true), ("pkg/dist/app.js", false),
            ("logs/.keep", false), ("logs/today.log", false), ("logs/old", true), ("a.swp", false), ("a.swo", false),
            ("a.swx", false), (".idea", true), (".idea/workspace.xml", false), ("x/.idea", false),
            ("gen/schema.json", false), ("gen/a.go", false), ("gen/sub/schema.json", false), ("docs/index.html", false),
            ("docs/api/v1/page.html", false), ("docs/index.md", false), ("web/node_modules", true),
            ("web/node_modules/left-pad/index.js", false), ("node_modules", false), ("x/cache/a", false),
            ("cache", true), ("cache/a/b", false), ("tmp1", true), ("tmp1/f", false), ("tmp12", true), ("tmp2", false),
            ("Debug", true), ("debugging", true), ("Debug.c", false), ("main.c", false), ("main.h", false),
            ("main.cc", false), ("README", false), ("#scratch", false), ("a#b", false), ("file with space ", false),
            ("file with space", false), ("src/lib/util.c", false), ("src/lib/util.py", false), ("Makefile", false),
            ("src/a.b/c", true), ("src/a.b/c/d.c", false), (".mesaignore", false),
        ]
        let git = try GitCheckIgnore()
        let components = paths.map { ($0.0.split(separator: "/").map { FileName(String($0)) }, $0.1) }
        let fromGit = try git.ignored(rules: Array(rules.utf8), paths: components)
        let parsed = IgnoreRules(parsing: rules)
        var ignoredCount = 0
        for (index, (path, isDirectory)) in components.enumerated() {
            let ours = parsed.isIgnored(path, isDirectory: isDirectory)
            #expect(ours == fromGit[index], "\(paths[index].0): git says \(fromGit[index] ? "ignored" : "kept")")
            if fromGit[index] { ignoredCount += 1 }
        }
        // Both answers are well represented.
        #expect(ignoredCount > 15 && paths.count - ignoredCount > 10 && paths.count >= 40)
    }

    /// Seeded random rule sets and trees, each answered by git and by IgnoreRules.
    @Test func randomRulesAgreeWithGit() throws {
        let git = try GitCheckIgnore()
        var random = SeededBytes(seed: 42)
        let pieces = ["a", "b", "a", "b", "*", "**", "?", "/", "/", "[ab]", "[!a]", "[a-b]", "\\*", ".", "**/", "/**"]
        let names = ["a", "b", "ab", "ba", "aa", ".a", "*", "a.b", "bb", ".mesaignore"]
        var answers = (ignored: 0, kept: 0)
        for _ in 0..<120 {
            var lines: [String] = []
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                var line = Bool.random(using: &random) && Bool.random(using: &random) ? "!" : ""
                for _ in 0..<Int.random(in: 1...5, using: &random) { line += pieces.randomElement(using: &random)! }
                lines.append(line)
            }
            var paths: [[String]: Bool] = [:]
            for _ in 0..<12 {
                let path = (0..<Int.random(in: 1...3, using: &random)).map { _ in names.randomElement(using: &random)! }
                paths[path] = paths[path] ?? Bool.random(using: &random)
            }
            // An ancestor of another path must be a directory.
            for path in paths.keys {
                for length in 1..<path.count { paths[Array(path[..<length])] = true }
            }
            let listed = paths.sorted { $0.key.joined(separator: "/") < $1.key.joined(separator: "/") }
                .map { (path: $0.key.map { FileName($0) }, isDirectory: $0.value) }
            let text = lines.joined(separator: "\n")
            let fromGit = try git.ignored(rules: Array(text.utf8), paths: listed)
            let rules = IgnoreRules(parsing: text)
            for (index, entry) in listed.enumerated() {
                let ours = rules.isIgnored(entry.path, isDirectory: entry.isDirectory)
                if fromGit[index] { answers.ignored += 1 } else { answers.kept += 1 }
                #expect(
                    ours == fromGit[index],
                    "rules \(lines) \(entry.isDirectory ? "dir" : "file") \(entry.path.map(\.string).joined(separator: "/"))"
                )
            }
        }
        // Both answers are well represented.
        #expect(answers.ignored > 300 && answers.kept > 300, "\(answers)")
    }

    @Test func namesThatAreNotUTF8AgreeWithGit() throws {
        let git = try GitCheckIgnore()
        let rules: [UInt8] = Array("*\\\u{7F}\n[!a]\n".utf8) + [0xFF, 0x2A, 0x0A]
        let paths: [([FileName], Bool)] = [
            ([FileName(bytes: [0xFF])], false), ([FileName(bytes: [0x62, 0xFF, 0x7F])], false),
            ([FileName(bytes: [0xFF, 0x62, 0x62])], true), ([FileName(bytes: [0x61, 0xFE])], false),
            ([FileName("ab")], false),
        ]
        let fromGit = try git.ignored(rules: rules, paths: paths)
        let parsed = IgnoreRules(parsing: rules)
        for (index, (path, isDirectory)) in paths.enumerated() {
            #expect(parsed.isIgnored(path, isDirectory: isDirectory) == fromGit[index], "\(path.map(\.bytes))")
        }
    }
}

/// `git check-ignore --no-index` in scratch work trees: the rules go to `core.excludesFile` (anchored at the work
/// tree's root, like a root `.gitignore`) followed by `!.mesaignore`, the rule Mesa always adds; the paths are made
/// on disk, since git asks the filesystem whether a path is a directory.
struct GitCheckIgnore {
    static let executable: String? = ["/usr/bin/git", "/usr/local/bin/git", "/bin/git"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    private let directory: TemporaryDirectory
    private let environment: [String: String]

    init() throws {
        directory = try TemporaryDirectory(prefix: "mesa-check-ignore")
        environment = [
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": directory.path,
            "XDG_CONFIG_HOME": directory.path,
        ]
        let result = try ProcessRunner.run(
            Self.executable ?? "git",
            ["init", "--quiet", "--bare", directory.appending("repository.git")],
            environment: environment
        )
        guard result.status == 0 else { throw GitFailure(message: "git init: \(result.error)") }
    }

    struct GitFailure: Error { var message: String }

    /// Whether git ignores each of `paths` under `rules`.
    func ignored(rules: [UInt8], paths: [(path: [FileName], isDirectory: Bool)]) throws -> [Bool] {
        let scratch = directory.appending("tree-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(atPath: scratch + "/work", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let work = Array((scratch + "/work").utf8)
        for (path, isDirectory) in paths {
            var current = work
            for (index, name) in path.enumerated() {
                current += [0x2F] + name.bytes
                let isLast = index == path.count - 1
                let made: Int32
                if isLast && !isDirectory {
                    let descriptor = Self.withCString(current) { open($0, O_CREAT | O_WRONLY, 0o644) }
                    made = descriptor < 0 ? descriptor : close(descriptor)
                } else {
                    made = Self.withCString(current) { mkdir($0, 0o755) }
                }
                if made != 0 && errno != EEXIST {
                    throw GitFailure(message: "cannot make \(String(decoding: current, as: UTF8.self)): \(errno)")
                }
            }
        }
        let rulesPath = scratch + "/rules"
        let standardInput = scratch + "/paths"
        #expect(
            FileManager.default.createFile(atPath: rulesPath, contents: Data(rules + Array("\n!.mesaignore\n".utf8)))
        )
        let list = paths.flatMap { Array($0.path.map(\.bytes).joined(separator: [0x2F])) + [0] }
        #expect(FileManager.default.createFile(atPath: standardInput, contents: Data(list)))

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.executable ?? "git")
        process.arguments = [
            "--git-dir=\(directory.appending("repository.git"))", "--work-tree=\(scratch)/work",
            "-c", "core.excludesFile=\(rulesPath)", "-c", "core.ignoreCase=false",
            "check-ignore", "--no-index", "--stdin", "-z",
        ]
        process.currentDirectoryURL = URL(fileURLWithPath: scratch + "/work")
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardInput = FileHandle(forReadingAtPath: standardInput)
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        // 0: some path is ignored; 1: none is.
        guard process.terminationStatus == 0 || process.terminationStatus == 1 else {
            throw GitFailure(message: "git check-ignore exited with \(process.terminationStatus)")
        }
        let ignored = Set(Array(data).split(separator: 0, omittingEmptySubsequences: true).map(Array.init))
        return paths.map { ignored.contains(Array($0.path.map(\.bytes).joined(separator: [0x2F]))) }
    }

    private static func withCString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
        (bytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { body($0.baseAddress!) }
        }
    }
}
