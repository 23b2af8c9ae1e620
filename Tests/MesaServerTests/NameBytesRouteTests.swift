import Foundation
import HTTPTypes
import HummingbirdTesting
import MesaCore
import MesaServer
import MesaWire
import Testing

/// Paths through REST are bytes: `café` with a precomposed `é` (U+00E9) and with `e` plus a combining accent
/// (U+0301) are equal Swift strings but two names in a tree, as in git and on ext4.
@Suite struct NameBytesRouteTests {
    static let composed = "caf\u{E9}"
    static let decomposed = "cafe\u{301}"

    /// A JSON string literal for `text`, its UTF-8 bytes as they are.
    static func json(_ text: String) throws -> String { String(decoding: try JSONEncoder().encode(text), as: UTF8.self) }

    /// `text` percent-encoded byte by byte, for a query parameter.
    static func query(_ text: String) -> String { text.utf8.map { "%" + String(format: "%02X", $0) }.joined() }

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    /// A file operation's JSON.
    static func file(_ path: String, _ text: String) throws -> String {
        #"{"path":\#(try json(path)),"content":"\#(base64(text))"}"#
    }

    @Test func bothSpellingsAreTwoFilesWithTheirOwnContent() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        let files = [try Self.file(Self.composed, "composed\n"), try Self.file(Self.decomposed, "decomposed\n")]
        try await server.test { http in
            #expect(try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#).status == .created)
            let created = try await http.send(
                .post, "/v1/local/r/changes", credential: admin,
                json: #"{"base_change_id":"\#(ChangeID.root)","files":[\#(files.joined(separator: ","))]}"#)
            #expect(created.status == .created, "\(created.text)")
            let change = try created.decode(Change.self)

            let listing = try await http.send(.get, "/v1/local/r/content?change_id=\(change.id)", credential: admin)
                .decode(ContentEntry.self)
            let entries = try #require(listing.entries)
            // Git order is bytewise: 63 61 66 65 CC 81 before 63 61 66 C3 A9.
            #expect(entries.map { Array($0.name.utf8) } == [Array(Self.decomposed.utf8), Array(Self.composed.utf8)])
            #expect(entries.map { Array($0.path.utf8) } == [Array(Self.decomposed.utf8), Array(Self.composed.utf8)])
            #expect(listing.childCount == 2)

            for (path, text) in [(Self.composed, "composed\n"), (Self.decomposed, "decomposed\n")] {
                let uri = "/v1/local/r/content?change_id=\(change.id)&path=\(Self.query(path))"
                let entry = try await http.send(.get, uri, credential: admin).decode(ContentEntry.self)
                #expect(Array(entry.name.utf8) == Array(path.utf8))
                #expect(Array(entry.path.utf8) == Array(path.utf8))
                #expect(entry.content == Self.base64(text))
                let raw = try await http.send(.get, uri, credential: admin, headers: [.accept: "application/octet-stream"])
                #expect(Array(raw.body) == Array(text.utf8))

                // The mount's lookup finds the same blob.
                let lookup = try await http.send(
                    .post, "/v1/local/r/sync/lookup", credential: admin,
                    json: #"{"revision":"change-id:\#(change.id)","path":\#(try Self.json(path)),"inline_max_bytes":0}"#)
                guard case .json(let header)? = try frames(lookup).first else {
                    Issue.record("no lookup header: \(lookup.text)")
                    continue
                }
                #expect(try JSONDecoder().decode(LookupHeader.self, from: Data(header)).id == entry.sha)
            }
        }
    }

    /// Within one request, an operation on one spelling never touches the other: writing both and deleting the
    /// composed one leaves the decomposed one; deleting the spelling the base lacks is a 404.
    @Test func operationsOnOneSpellingLeaveTheOther() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        let files = [
            try Self.file(Self.composed, "composed\n"), try Self.file(Self.decomposed, "decomposed\n"),
            #"{"path":\#(try Self.json(Self.composed)),"action":"delete"}"#,
        ]
        try await server.test { http in
            #expect(try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#).status == .created)
            let created = try await http.send(
                .post, "/v1/local/r/changes", credential: admin,
                json: #"{"base_change_id":"\#(ChangeID.root)","files":[\#(files.joined(separator: ","))]}"#)
            #expect(created.status == .created, "\(created.text)")
            let change = try created.decode(Change.self)
            let listing = try await http.send(.get, "/v1/local/r/content?change_id=\(change.id)", credential: admin)
                .decode(ContentEntry.self)
            let entries = try #require(listing.entries)
            #expect(entries.map { Array($0.name.utf8) } == [Array(Self.decomposed.utf8)])
            let uri = "/v1/local/r/content?change_id=\(change.id)&path=\(Self.query(Self.decomposed))"
            #expect(try await http.send(.get, uri, credential: admin).decode(ContentEntry.self).content == Self.base64("decomposed\n"))
            let missing = "/v1/local/r/content?change_id=\(change.id)&path=\(Self.query(Self.composed))"
            #expect(try await http.send(.get, missing, credential: admin).status == .notFound)

            let deleteMissing = try await http.send(
                .post, "/v1/local/r/changes", credential: admin,
                json: #"{"base_change_id":"\#(change.id)","files":[{"path":\#(try Self.json(Self.composed)),"action":"delete"}]}"#)
            #expect(deleteMissing.status == .notFound, "\(deleteMissing.text)")
        }
    }
}
