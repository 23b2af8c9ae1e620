import Crypto
package import MesaCore

/// Git's tree object format: entries `<octal mode> <name>\0<20-byte id>`, sorted by name with directories compared
/// as if their name ended in `/` (git `base_name_compare`).
package enum TreeCodec {
    /// The id of the empty tree, `4b825dc642cb6eb9a060e54bf8d69288fbee4904`.
    package static let emptyTreeID = objectID(kind: "tree", body: [])

    /// Encodes entries into a tree object's body, sorting them in git's order.
    /// - Precondition: names are unique.
    package static func encode(_ entries: [TreeEntry]) -> [UInt8] {
        let sorted = sortedForGit(entries)
        var body = [UInt8]()
        body.reserveCapacity(sorted.count * 48)
        for entry in sorted {
            body.append(contentsOf: entry.mode.treeText.utf8)
            body.append(UInt8(ascii: " "))
            body.append(contentsOf: entry.name.utf8)
            body.append(0)
            body.append(contentsOf: entry.id.bytes)
        }
        return body
    }

    /// Sorts entries in git's tree order.
    package static func sortedForGit(_ entries: [TreeEntry]) -> [TreeEntry] {
        let keyed = entries.map { entry in
            (key: Array(entry.name.utf8) + (entry.mode == .directory ? [UInt8(ascii: "/")] : []), entry: entry)
        }
        return keyed.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.entry)
    }

    /// Decodes a tree object's body.
    /// - Parameters:
    ///   - body: the object's bytes after the `tree <size>\0` header (as stored).
    ///   - id: the tree's id, for error messages.
    ///   - path: the tree's path from the root being read, for error messages naming non-UTF-8 names.
    /// - Throws: ``TreeError/corruptObject(_:reason:)``, ``TreeError/invalid(_:)`` (a name that is not UTF-8).
    package static func decode(_ body: [UInt8], id: ObjectID, path: String = "") throws(TreeError) -> [TreeEntry] {
        var entries = [TreeEntry]()
        var index = 0
        let count = body.count
        while index < count {
            var mode: UInt32 = 0
            while index < count, body[index] != UInt8(ascii: " ") {
                let digit = body[index] &- UInt8(ascii: "0")
                guard digit < 8 else { throw .corruptObject(id, reason: "bad mode at byte \(index)") }
                mode = mode << 3 | UInt32(digit)
                index += 1
            }
            index += 1
            let nameStart = index
            while index < count, body[index] != 0 { index += 1 }
            guard index + 21 <= count else {
                throw .corruptObject(id, reason: "truncated entry at byte \(nameStart)")
            }
            let nameBytes = body[nameStart..<index]
            index += 1
            // The bounds were checked above, so the 20 id bytes are there.
            let objectID = ObjectID(bytes: body[index..<index + 20])!
            index += 20
            guard let fileMode = FileMode(octal: mode) else {
                throw .corruptObject(id, reason: "unknown mode \(String(mode, radix: 8))")
            }
            guard !nameBytes.isEmpty else { throw .corruptObject(id, reason: "empty name") }
            let name = try PathName.decode(nameBytes, parent: path)
            entries.append(TreeEntry(name: name, mode: fileMode, id: objectID))
        }
        return entries
    }

    /// The git id of an object: SHA-1 of `<kind> <size>\0` and the body.
    package static func objectID(kind: String, body: [UInt8]) -> ObjectID {
        var hasher = Insecure.SHA1()
        hasher.update(data: Array("\(kind) \(body.count)\0".utf8))
        hasher.update(data: body)
        // SHA-1 digests are always 20 bytes, so the id always exists.
        return ObjectID(bytes: Array(hasher.finalize()))!
    }
}
