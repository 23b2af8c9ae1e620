import Foundation
import MesaTesting
import Testing

/// A git repository made by the test with the real `git`, with fixed identities and dates.
final class GitSource {
    let directory: TemporaryDirectory
    let path: String
    private var clock = 1_700_000_000

    init(branch: String = "main") throws {
        directory = try TemporaryDirectory(prefix: "mesa-e2e-git")
        path = directory.appending("src")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try git("init -q -b \(branch)")
    }

    /// Runs `git` in the repository; fails the test on a non-zero exit.
    @discardableResult
    func git(_ arguments: String) throws -> String {
        let date = "@\(clock) +0000"
        let result = try Shell.run(
            "git -C '\(path)' -c user.name=t -c user.email=t@t -c core.autocrlf=false \(arguments)",
            environment: ["GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "GIT_CONFIG_NOSYSTEM": "1"])
        guard result.status == 0 else { throw ShellFailure(command: "git \(arguments)", output: result.error) }
        return result.output
    }

    func write(_ relative: String, _ bytes: [UInt8], executable: Bool = false) throws {
        let file = path + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: file, contents: Data(bytes)))
        if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: file) }
    }

    func write(_ relative: String, _ text: String, executable: Bool = false) throws {
        try write(relative, Array(text.utf8), executable: executable)
    }

    func commit(_ message: String, amend: Bool = false) throws {
        clock += 60
        try git("add -A")
        try git("commit -q \(amend ? "--amend " : "")-m '\(message)'")
    }

    /// The id `git rev-parse` gives for a revision.
    func revParse(_ revision: String) throws -> String {
        try git("rev-parse \(revision)").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

struct ShellFailure: Error, CustomStringConvertible {
    let command: String
    let output: String
    var description: String { "\(command) failed: \(output)" }
}

/// `mesa import` and the sync client against a real `mesa serve` process.
