import Foundation
import MesaCore
import MesaTesting

/// Fixtures shared by the FUSE integration tests.
enum Fixtures {
    static let commitTime: Int64 = 1_700_000_000

    static let large: [UInt8] = {
        var generator = SeededBytes(seed: 99)
        return generator.bytes(5 << 20 + 12345)
    }()

    /// A tree with every kind of entry: nested directories, a few-MB file, an empty file, executables, unicode
    /// names, names with spaces, relative, absolute and dangling symlinks.
    static let tree: FixtureTree = {
        var tree = FixtureTree([
            "README.md": .text("# Demo\nneedle in a haystack\n"),
            "bin/tool.sh": .executable(Array("#!/bin/sh\necho tool\n".utf8)),
            "bin/plain.txt": .text("not executable\n"),
            "data/large.bin": .file(large),
            "data/empty": .file([]),
            "docs/naïve café.md": .text("unicode and a space\n"),
            "日本語/ファイル.txt": .text("japanese\n"),
            "emoji/🙂 smile.txt": .text("emoji\n"),
            "links/to-readme": .symlink("../README.md"),
            "links/dangling": .symlink("nowhere/at/all"),
            "links/absolute": .symlink("/etc/hostname"),
            "a/b/c/d/e/f/deep.txt": .text("deep needle\n"),
        ])
        var generator = SeededBytes(seed: 5)
        for index in 0..<30 {
            tree["src/module\(index % 3)/file\(index).swift"] = .file(generator.text(1000 + index * 97))
        }
        return tree
    }()

    /// The number of directories a tree implies (its root excluded).
    static func directoryCount(_ tree: FixtureTree) -> Int {
        var directories = Set<Substring>()
        for path in tree.files.keys {
            var components = path.split(separator: "/").dropLast()
            while !components.isEmpty {
                directories.insert(components.joined(separator: "/")[...])
                components = components.dropLast()
            }
        }
        return directories.count
    }

    /// Writes a fixture tree into a local directory with the same modes and links, for comparison.
    static func materialize(_ tree: FixtureTree, at root: String) throws {
        let manager = FileManager.default
        for (path, node) in tree.files {
            let full = root + "/" + path
            try manager.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            switch node {
            case .file(let bytes):
                _ = manager.createFile(atPath: full, contents: Data(bytes))
                try manager.setAttributes([.posixPermissions: 0o644], ofItemAtPath: full)
            case .executable(let bytes):
                _ = manager.createFile(atPath: full, contents: Data(bytes))
                try manager.setAttributes([.posixPermissions: 0o755], ofItemAtPath: full)
            case .symlink(let target):
                try manager.createSymbolicLink(atPath: full, withDestinationPath: target)
            }
        }
        try chmodDirectories(root)
    }

    private static func chmodDirectories(_ path: String) throws {
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        for name in try FileManager.default.contentsOfDirectory(atPath: path) {
            var isDirectory: ObjCBool = false
            let full = path + "/" + name
            let attributes = try FileManager.default.attributesOfItem(atPath: full)
            if attributes[.type] as? FileAttributeType == .typeDirectory,
                FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), isDirectory.boolValue
            {
                try chmodDirectories(full)
            }
        }
    }
}
