import Foundation
import HTTPTypes
package import MesaCore
import MesaTree
package import MesaWire

extension RepoOperations {
    /// What `GET content` found: a JSON entry, or raw bytes for a file.
    package enum ContentResult: Sendable {
        case entry(ContentEntry)
        /// A file's bytes, to be streamed chunk by chunk from the store.
        case raw(Manifest)
    }

    static func modeText(_ mode: FileMode) -> String {
        switch mode {
        case .regular: "100644"
        case .executable: "100755"
        case .symlink: "120000"
        case .directory: "40000"
        case .submodule: "160000"
        }
    }

    /// `GET content?change_id&path&depth`: a file (with content; `is_conflicted: true` when the change records the path
    /// as conflicted), a symlink (content = target) or a directory (flat entries down to `depth` levels, without
    /// content). Submodules are never listed.
    package func content(change: ChangeID, path: String, depth: Int, raw: Bool) throws -> ContentResult {
        // The same path rules as writes: relative, no empty, `.` or `..` components (the empty path is the root).
        let name = path.isEmpty ? "" : try TreeValidator.components(of: path).last?.string ?? ""
        let root = try repository.tree(ofChange: change)
        if path.isEmpty {
            return try directory(root, path: "", name: "", depth: depth, raw: raw)
        }
        let entry = try repository.entry(at: path, in: root)
        switch entry.mode {
        case .directory:
            return try directory(entry.id, path: path, name: name, depth: depth, raw: raw)
        case .regular, .executable, .symlink:
            if raw { return .raw(try repository.manifest(ofBlob: entry.id)) }
            let bytes = try repository.readBlob(entry.id)
            // A path the change records as conflicted (its content holds conflict markers) says so.
            let conflicted = try catalog.details(of: change)?.conflicts.contains { $0.utf8.elementsEqual(path.utf8) } ?? false
            return .entry(
                ContentEntry(
                    type: entry.mode == .symlink ? "symlink" : "file", name: name, path: path, sha: entry.id.hex,
                    size: Int64(bytes.count), encoding: "base64", content: Data(bytes).base64EncodedString(),
                    mode: Self.modeText(entry.mode), isConflicted: conflicted ? true : nil))
        case .submodule:
            throw APIError.notFound("'\(path)' is a submodule, which has no content here")
        }
    }

    private func directory(_ tree: ObjectID, path: String, name: String, depth: Int, raw: Bool) throws -> ContentResult {
        if raw {
            throw APIError(.notAcceptable, "NOT_ACCEPTABLE", "'\(path.isEmpty ? "/" : path)' is a directory")
        }
        var entries: [ContentEntry] = []
        var count = 0
        func list(_ tree: ObjectID, prefix: String, level: Int) throws {
            for entry in try repository.tree(tree) where entry.mode != .submodule {
                let entryPath = prefix.isEmpty ? entry.name : prefix + "/" + entry.name
                if level == 1 { count += 1 }
                if entry.mode == .directory {
                    entries.append(ContentEntry(type: "dir", name: entry.name, path: entryPath, sha: entry.id.hex))
                    if level < depth { try list(entry.id, prefix: entryPath, level: level + 1) }
                } else {
                    let size = try repository.objectHeader(entry.id).size
                    entries.append(
                        ContentEntry(
                            type: entry.mode == .symlink ? "symlink" : "file", name: entry.name, path: entryPath,
                            sha: entry.id.hex, size: size, mode: Self.modeText(entry.mode)))
                }
            }
        }
        try list(tree, prefix: path, level: 1)
        return .entry(
            ContentEntry(type: "dir", name: name, path: path, sha: tree.hex, childCount: count, entries: entries))
    }
}
