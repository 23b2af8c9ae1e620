#if canImport(Glibc)
import Glibc
#endif
package import MesaCore

/// A person and a moment, as git records authors and committers.
package struct Signature: Sendable, Hashable {
    /// The name.
    package var name: String
    /// The email address.
    package var email: String
    /// Seconds since the Unix epoch.
    package var time: Int64
    /// The time zone's offset from UTC, in minutes (git's `+0100` is 60).
    package var offsetMinutes: Int32

    /// Creates a signature.
    package init(name: String, email: String, time: Int64, offsetMinutes: Int32 = 0) {
        self.name = name
        self.email = email
        self.time = time
        self.offsetMinutes = offsetMinutes
    }

    /// A signature at the current time, in UTC.
    package static func now(name: String, email: String) -> Signature {
        Signature(name: name, email: email, time: Int64(Glibc.time(nil)))
    }

    /// Parses git's `Name <email> 1700000000 +0100`.
    init?(parsing text: Substring) {
        guard let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close else { return nil }
        name = String(text[..<open]).trimmingSuffixSpace()
        email = String(text[text.index(after: open)..<close])
        let rest = text[text.index(after: close)...].split(separator: " ")
        guard rest.count == 2, let seconds = Int64(rest[0]), let zone = Int32(rest[1]) else { return nil }
        time = seconds
        let sign: Int32 = rest[1].hasPrefix("-") ? -1 : 1
        let magnitude = abs(zone)
        offsetMinutes = sign * (magnitude / 100 * 60 + magnitude % 100)
    }
}

/// A parsed git commit.
package struct Commit: Sendable, Hashable {
    /// The commit's id.
    package var id: ObjectID
    /// The root tree.
    package var tree: ObjectID
    /// Parent commits, in order.
    package var parents: [ObjectID]
    /// The author.
    package var author: Signature
    /// The committer.
    package var committer: Signature
    /// The change id from the `change-id` header; `nil` for commits not made by Mesa (imported ones).
    package var changeID: ChangeID?
    /// The message (bytes that are not UTF-8 are replaced).
    package var message: String

    /// Parses a commit object's body.
    /// - Throws: ``TreeError/corruptObject(_:reason:)`` when the headers git requires are missing or malformed.
    package init(id: ObjectID, body: [UInt8]) throws(TreeError) {
        self.id = id
        var tree: ObjectID?
        var parents: [ObjectID] = []
        var author: Signature?
        var committer: Signature?
        var changeID: ChangeID?
        var index = 0
        while index < body.count {
            let end = body[index...].firstIndex(of: 10) ?? body.count
            if end == index {
                index += 1
                break
            }
            let line = String(decoding: body[index..<end], as: UTF8.self)
            index = end + 1
            guard let space = line.firstIndex(of: " ") else { continue }
            let key = line[..<space]
            let value = line[line.index(after: space)...]
            switch key {
            case "tree": tree = ObjectID(hex: value)
            case "parent":
                guard let parent = ObjectID(hex: value) else { throw .corruptObject(id, reason: "bad parent line") }
                parents.append(parent)
            case "author": author = Signature(parsing: value)
            case "committer": committer = Signature(parsing: value)
            case "change-id": changeID = ChangeID(parsing: value)
            default: continue
            }
        }
        guard let tree else { throw .corruptObject(id, reason: "no tree header") }
        guard let author, let committer else { throw .corruptObject(id, reason: "bad author or committer") }
        self.tree = tree
        self.parents = parents
        self.author = author
        self.committer = committer
        self.changeID = changeID
        message = index < body.count ? String(decoding: body[index...], as: UTF8.self) : ""
    }
}

extension String {
    fileprivate func trimmingSuffixSpace() -> String {
        var text = self
        while text.hasSuffix(" ") { text.removeLast() }
        return text
    }
}
