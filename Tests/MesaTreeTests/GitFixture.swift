import Foundation
import MesaCore
import MesaStore
import MesaTesting
import MesaTree

/// Runs real `git` with a fixed identity and dates, so ids are reproducible.
enum Git {
    struct Failure: Error, CustomStringConvertible {
        var arguments: [String]
        var status: Int32
        var standardError: String
        var description: String { "git \(arguments.joined(separator: " ")) exited \(status): \(standardError)" }
    }

    /// Runs git in `directory`; returns standard output as bytes.
    @discardableResult
    static func runBytes(_ arguments: [String], in directory: String, input: [UInt8]? = nil) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "core.autocrlf=false",
            "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_AUTHOR_DATE"] = "1700000000 +0000"
        environment["GIT_COMMITTER_DATE"] = "1700000000 +0000"
        environment["GIT_CONFIG_NOSYSTEM"] = "1"
        environment["HOME"] = directory
        process.environment = environment
        let output = Pipe()
        let error = Pipe()
        let stdin = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(
                arguments: arguments, status: process.terminationStatus,
                standardError: String(decoding: errorData, as: UTF8.self))
        }
        return [UInt8](data)
    }

    /// Runs git in `directory`; returns standard output without its last newline.
    @discardableResult
    static func run(_ arguments: [String], in directory: String, input: [UInt8]? = nil) throws -> String {
        var text = String(decoding: try runBytes(arguments, in: directory, input: input), as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}

/// Writes files for fixtures.
enum Files {
    static func write(_ path: String, _ text: String, executable: Bool = false) throws {
        try write(path, bytes: Array(text.utf8), executable: executable)
    }

    static func write(_ path: String, bytes: [UInt8], executable: Bool = false) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
        try FileManager.default.setAttributes(
            [.posixPermissions: executable ? 0o755 : 0o644], ofItemAtPath: path)
    }

    static func symlink(_ path: String, to target: String) throws {
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
    }

    /// Everything under a directory: relative path -> kind, content or target, executable bit.
    struct Item: Equatable, CustomStringConvertible {
        var kind: String
        var content: [UInt8]
        var executable: Bool
        var description: String { "\(kind)(\(content.count) bytes\(executable ? ", exec" : ""))" }
    }

    static func inventory(_ root: String) throws -> [String: Item] {
        var items: [String: Item] = [:]
        let manager = FileManager.default
        guard let enumerator = manager.enumerator(atPath: root) else { return items }
        while let relative = enumerator.nextObject() as? String {
            let path = root + "/" + relative
            let attributes = try manager.attributesOfItem(atPath: path)
            let type = attributes[.type] as? FileAttributeType
            let permissions = (attributes[.posixPermissions] as? Int) ?? 0
            switch type {
            case .typeSymbolicLink:
                let target = try manager.destinationOfSymbolicLink(atPath: path)
                items[relative] = Item(kind: "symlink", content: Array(target.utf8), executable: false)
            case .typeDirectory:
                items[relative] = Item(kind: "dir", content: [], executable: false)
            default:
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                items[relative] = Item(kind: "file", content: [UInt8](data), executable: permissions & 0o100 != 0)
            }
        }
        return items
    }
}

/// A store in a temporary directory and a repository model over it.
final class StoreFixture {
    let directory: TemporaryDirectory
    let store: ContentStore
    let repository: MesaRepository

    init() throws {
        directory = try TemporaryDirectory(prefix: "mesa-tree-test")
        store = try ContentStore(path: directory.appending("store"))
        repository = try MesaRepository(store: store)
    }

    /// A path in the fixture's temporary directory.
    func path(_ name: String) -> String { directory.appending(name) }

    /// A blob for text content.
    func blob(_ text: String) throws -> ObjectID { try repository.writeBlob(Array(text.utf8)) }

    var records: Int { store.stats().records }
}

let testAuthor = Signature(name: "Test Author", email: "author@example.com", time: 1_700_000_000, offsetMinutes: 60)
