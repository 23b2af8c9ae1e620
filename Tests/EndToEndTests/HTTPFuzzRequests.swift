import Foundation
import MesaCore
import MesaTesting
import MesaWire

// The request generator of the HTTP campaign (HTTPFuzzTests.swift). Request `i` of seed `s` depends only on `s`, `i`
// and the fixtures (the repo's change id, the keys), so a failing request is reproduced by its seed and index.
//
// Writes are generated invalid by construction: every request that could change something (a write method on a
// write route, sent with a credential that may write) carries at least one defect the server must refuse it for (a
// repo or org that is not there, a name or path the validator refuses, a body of the wrong shape, a stale base, a
// corrupted push stream), so any 2xx answer to a write, and any byte added to the store, is the server's fault.

/// What a campaign's requests refer to: the server, its one repo and change, and credentials of every kind.
struct FuzzFixtures: Sendable {
    var port: Int
    var adminKey: String
    /// A key with the `read` scope only.
    var readKey: String
    /// A key revoked during setup.
    var revokedKey: String
    /// Tokens that must be refused: expired, signed with the wrong secret, naming an unknown key, issued in the
    /// future, living longer than allowed, unsigned (`alg: none`).
    var refusedTokens: [String]
    /// A valid token with the `read` scope only.
    var readToken: String
    /// The change created during setup, and its commit.
    var changeID: String
    var commit: String
    /// The id (SHA-256) of a chunk's content, for push streams with verifiable records.
    var chunkID: @Sendable ([UInt8]) -> [UInt8]
}

/// One generated request and what the campaign expects of it.
struct FuzzRequest {
    /// The request's number in the campaign.
    var index: Int
    /// What kind of hostility it carries, for the report.
    var category: String
    /// The method and target, for the report (the bytes sent are in `raw`).
    var method: String
    var target: String
    /// The credential, for the report.
    var credential: String
    var raw: RawHTTPClient.Request
    /// Whether the request could change something if the server accepted it (it must be refused).
    var isWrite: Bool
    /// Whether the server must answer (not just close): a complete, parseable request.
    var mustAnswer: Bool
    /// The status the answer must have, when it is known exactly.
    var expectedStatus: Int?
    /// A status the answer must not have.
    var forbiddenStatus: Int?

    /// The request as a reproducible line for the report: everything sent, escaped, the body cut short.
    var reproduction: String {
        var text = "#\(index) [\(category)] \(method) \(Self.escape(Array(target.utf8), limit: 300)) (\(credential))\n"
        text += "    head: \(Self.escape(raw.head, limit: 1500))\n"
        let bodyCount = raw.body.reduce(0) { $0 + $1.count }
        if bodyCount > 0 {
            var shown: [UInt8] = []
            for piece in raw.body where shown.count < 600 {
                switch piece {
                case .bytes(let bytes): shown += bytes.prefix(600 - shown.count)
                case .repeating(let byte, let count):
                    shown += [UInt8](repeating: byte, count: min(count, 600 - shown.count))
                }
            }
            text += "    body (\(bodyCount) bytes): \(Self.escape(shown, limit: 600))\n"
        }
        return text
    }

    /// Bytes as text: printable ASCII as is, `\r`, `\n`, and `\xNN` for the rest.
    static func escape(_ bytes: [UInt8], limit: Int) -> String {
        var text = ""
        for byte in bytes.prefix(limit) {
            switch byte {
            case 13: text += "\\r"
            case 10: text += "\\n"
            case 92: text += "\\\\"
            case 32...126: text.append(Character(Unicode.Scalar(byte)))
            default: text += "\\x" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return bytes.count > limit ? text + "...(\(bytes.count) bytes)" : text
    }
}

extension Array {
    /// A random element; the generator's choices are never empty.
    fileprivate func pick(_ rng: inout SeededBytes) -> Element { self[Int(rng.next() % UInt64(count))] }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// Builds request `index` of a campaign.
struct FuzzGenerator {
    let fixtures: FuzzFixtures
    let seed: UInt64

    /// Requests at these indices send bodies over the server's 64 MiB limit (streamed, never held in memory).
    static let largeBodyIndices: Set<Int> = [700, 1900]

    func request(_ index: Int) -> FuzzRequest {
        var rng = SeededBytes(seed: seed ^ (UInt64(index) &* 0xD6E8_FEB8_6659_FD93))
        if Self.largeBodyIndices.contains(index) {
            return largeBody(index, second: index != Self.largeBodyIndices.min())
        }
        let roll = Int.random(in: 0..<100, using: &rng)
        var request: FuzzRequest
        switch roll {
        case 0..<38: request = routeRequest(&rng)
        case 38..<41: request = mergeRequest(&rng)
        case 41..<55: request = changeRequest(&rng)
        case 55..<68: request = pushRequest(&rng)
        case 68..<80: request = headerRequest(&rng)
        default: request = malformedRequest(&rng)
        }
        request.index = index
        return request
    }

    // MARK: Credentials

    /// A credential: its `Authorization` value (nil: none), whether it may write, and whether it is valid at all.
    struct Credential {
        var name: String
        var header: String?
        var mayWrite: Bool
        var isValid: Bool

        init(name: String, header: String?, mayWrite: Bool, isValid: Bool? = nil) {
            self.name = name
            self.header = header
            self.mayWrite = mayWrite
            self.isValid = isValid ?? mayWrite
        }
    }

    func credential(_ rng: inout SeededBytes) -> Credential {
        let admin = fixtures.adminKey
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<40: return Credential(name: "admin", header: "Bearer \(admin)", mayWrite: true)
        case 40..<43: return Credential(name: "admin, lower-case scheme", header: "bearer  \(admin) ", mayWrite: true)
        case 43..<50:
            return Credential(name: "read key", header: "Bearer \(fixtures.readKey)", mayWrite: false, isValid: true)
        case 50..<55:
            return Credential(
                name: "read token",
                header: "Bearer \(fixtures.readToken)",
                mayWrite: false,
                isValid: true
            )
        case 55..<60: return Credential(name: "revoked key", header: "Bearer \(fixtures.revokedKey)", mayWrite: false)
        case 60..<72:
            let token = fixtures.refusedTokens.pick(&rng)
            return Credential(name: "refused token", header: "Bearer \(token)", mayWrite: false)
        case 72..<78: return Credential(name: "none", header: nil, mayWrite: false)
        default:
            let garbage = [
                "Bearer", "Bearer ", "Bearer \(admin)x", "Bearer \(admin.uppercased())", "Basic YWRtaW46YWRtaW4=",
                "Bearer mesa_", "Bearer mesa__", "Bearer a.b.c", "Bearer ..", "Bearer \(admin.dropLast(3))",
                "Bearer " + String(repeating: "A", count: 20_000), "Token \(admin)", "Bearer \u{0}",
                "Bearer eyJhbGciOiJub25lIn0.e30.", "\(admin)", "Bearer \(admin),Bearer \(admin)",
                "Bearer mesa_\(String(repeating: "k", count: 300))_secret",
            ]
            return Credential(name: "garbage", header: garbage.pick(&rng), mayWrite: false)
        }
    }

    // MARK: Hostile values

    static let hostileSegments = [
        "..", ".", "%2e%2e", "%2E%2E%2F", "%00", "a%00b", "%", "%zz", "%f", "%C0%AE", "%FF", "%E2%80%8C",
        "..%2F..%2Fetc%2Fpasswd", "%2F", "%252e%252e", "%2e", "~", ".git", "CON", "NUL", "a;b=c", "%3B", "%3F",
        "%23", "ü", "%C3%BC", "😀", "%F0%9F%98%80", String(repeating: "a", count: 5000),
        String(repeating: "%41", count: 2000), "%0D%0AX-Injected:%201", "%20", "+", "*", "%2A", "-", "_",
        String(repeating: "%2e", count: 300), "%u002e", "\\", "%5C", "%5C..%5C",
    ]

    static let hostilePaths = [
        ".git/config", ".GIT/x", "git~1/x", "GIT~1/config", ".git./x", ".git /x", ".git::$INDEX_ALLOCATION/x",
        "a/../b", "../x", "./x", "/abs", "/etc/passwd", "a//b", "a/", "", "a\nb", "a\\b", "a\u{0}b", "a\u{1}b",
        "\u{7f}x", ".g\u{200C}it/x", "\u{200C}.git/x", ".git\u{200D}/x", "\u{FEFF}.git/hooks/pre-commit",
        ".Git\u{206A}/x", "sub/.GiT/config", "a/.git/x", "a/git~1/config", ".git", "..", ".", "x/./y",
        String(repeating: "n", count: 5000), String(repeating: "d/", count: 300) + "f",
        String(repeating: "m", count: 256), String(repeating: "abcdefg/", count: 520) + "f",
        "a\r\nb", "a\tb", "\u{85}x", "a\u{9f}b",
    ]

    static let hostileBookmarks = [
        "", "a..b", "-x", "/x", "x/", "x.lock", "a//b", "a b", "a~b", "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b",
        "\u{7f}", "a\u{0}b", "a\nb", String(repeating: "b", count: 201), "..",
    ]

    static let hostileRepoNames = [
        "", "..", ".", "a/b", "a b", String(repeating: "r", count: 101), "ü", "a\u{0}", "a\nb", "%2e%2e", "a:b",
        "a\\b", "😀", "a*", "a?",
    ]

    static let hostileQueryValues = [
        "-1", "0", "101", "99999999999999999999", "abc", "1e3", "", "50", "%00", "%zz", "%", "-9223372036854775808",
        "9223372036854775807", "../x", "/etc/passwd", ".git/config", "a//b", "%2e%2e/x", "README.md", "src",
        "a%00b", "..", String(repeating: "q", count: 5000), "%E2%80%8C.git", "[", "**", "\\", "*", "[!a-", "%5B",
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", "include", "exclude", "only", "+",
        "%2B", "a+b", "%0A", "1%00",
    ]

    static let queryNames = [
        "limit", "cursor", "depth", "path", "change_id", "base_change_id", "head_change_id", "bookmark", "glob",
        "conflicts", "tags", "", "%00", "limit[]",
    ]

    // MARK: Routes

    /// A route: its path template and the methods that would change something.
    struct Route {
        var template: [String]
        var readMethods: [String]
        var writeMethods: [String]
    }

    static let routes: [Route] = [
        Route(template: ["v1", "whoami"], readMethods: ["GET"], writeMethods: []),
        Route(template: ["v1", "{org}"], readMethods: ["GET"], writeMethods: []),
        Route(template: ["v1", "{org}", "repos"], readMethods: ["GET"], writeMethods: ["POST"]),
        Route(template: ["v1", "{org}", "api-keys"], readMethods: ["GET"], writeMethods: ["POST"]),
        Route(template: ["v1", "{org}", "api-keys", "{key}"], readMethods: [], writeMethods: ["DELETE"]),
        Route(template: ["v1", "{org}", "{repo}"], readMethods: ["GET"], writeMethods: ["PATCH", "DELETE"]),
        Route(template: ["v1", "{org}", "{repo}", "changes"], readMethods: ["GET"], writeMethods: ["POST"]),
        Route(
            template: ["v1", "{org}", "{repo}", "changes", "{change}"],
            readMethods: ["GET"],
            writeMethods: ["PATCH"]
        ),
        Route(template: ["v1", "{org}", "{repo}", "bookmarks"], readMethods: ["GET"], writeMethods: ["POST"]),
        Route(template: ["v1", "{org}", "{repo}", "bookmarks", "merge"], readMethods: [], writeMethods: ["POST"]),
        Route(
            template: ["v1", "{org}", "{repo}", "bookmarks", "{bookmark}"],
            readMethods: ["GET"],
            writeMethods: ["PATCH", "DELETE"]
        ),
        Route(template: ["v1", "{org}", "{repo}", "diff"], readMethods: ["GET"], writeMethods: []),
        Route(template: ["v1", "{org}", "{repo}", "content"], readMethods: ["GET"], writeMethods: []),
        Route(template: ["v1", "{org}", "{repo}", "sync", "capabilities"], readMethods: ["GET"], writeMethods: []),
        Route(template: ["v1", "{org}", "{repo}", "sync", "resolve"], readMethods: ["POST"], writeMethods: []),
        Route(template: ["v1", "{org}", "{repo}", "sync", "lookup"], readMethods: ["POST"], writeMethods: []),
        Route(template: ["v1", "{org}", "{repo}", "sync", "trees"], readMethods: ["POST"], writeMethods: []),
        Route(template: ["v1", "{org}", "{repo}", "sync", "objects"], readMethods: ["POST"], writeMethods: []),
        Route(template: ["v1", "{org}", "{repo}", "sync", "have"], readMethods: ["POST"], writeMethods: []),
        Route(template: ["v1", "{org}", "{repo}", "sync", "push"], readMethods: [], writeMethods: ["POST"]),
        Route(template: ["healthz"], readMethods: ["GET"], writeMethods: []),
    ]

    static let otherMethods = ["PUT", "HEAD", "OPTIONS", "TRACE", "CONNECT", "FOO", "get", "G\u{0}ET", "M-SEARCH"]

    /// A random route, method, segments, query, headers and body. Writes with a credential that may write get one
    /// defect chosen among those their route allows.
    func routeRequest(_ rng: inout SeededBytes) -> FuzzRequest {
        let route = Self.routes.pick(&rng)
        let methods = route.readMethods + route.writeMethods
        let method: String
        if methods.isEmpty || Int.random(in: 0..<100, using: &rng) < 15 {
            method = Self.otherMethods.pick(&rng)
        } else {
            method = methods.pick(&rng)
        }
        let credential = credential(&rng)
        let isWriteMethod = !["GET", "HEAD", "OPTIONS", "TRACE"].contains(method)
        let isSyncRead = route.template.count == 5 && route.template[3] == "sync" && route.readMethods == ["POST"]
        let isWrite = isWriteMethod && !(isSyncRead && method == "POST")
        let needsDefect = isWrite && credential.mayWrite && route.writeMethods.contains(method)

        // Defects a write may get on this route: a missing org or repo, a missing target, or a refused body.
        enum Defect: CaseIterable { case org, repo, target, body }
        var defects: [Defect] = [.org, .body]
        if route.template.contains("{repo}") { defects.append(.repo) }
        if route.template.last == "{key}" || (route.template.last == "{repo}" && method == "DELETE")
            || (route.template.last == "{bookmark}") || (route.template.last == "{change}")
        {
            defects.append(.target)
        }
        if route.template.last == "{key}" || (route.template.last == "{repo}" && method == "DELETE")
            || (route.template.last == "{bookmark}" && method == "DELETE")
        {
            defects.removeAll { $0 == .body }
        }
        if route.template.last == "push" { defects.removeAll { $0 == .body } }
        let defect = needsDefect ? defects.pick(&rng) : nil
        // Reads name a missing repo now and then too: with a valid credential, that is a 404 whatever else is wrong.
        let missingRepoRead =
            !needsDefect && route.template.contains("{repo}") && Int.random(in: 0..<100, using: &rng) < 10
        var namesMissingRepo = false

        var segments: [String] = []
        for part in route.template {
            switch part {
            case "{org}": segments.append(defect == .org ? missingOrg(&rng) : maybeHostile("local", &rng))
            case "{repo}":
                if defect == .repo || (defect == .target && route.template.last == "{repo}") || missingRepoRead {
                    namesMissingRepo = true
                    segments.append(
                        missingRepo(&rng, destructive: route.template.last == "{repo}" && method == "DELETE")
                    )
                } else {
                    segments.append(maybeHostile("app", &rng))
                }
            case "{change}":
                let choices = [fixtures.changeID, String(repeating: "z", count: 32), randomChangeID(&rng)]
                segments.append(
                    defect == .target
                        ? randomChangeID(&rng) : maybeHostile(choices.pick(&rng), &rng)
                )
            case "{bookmark}":
                if defect == .target {
                    segments.append("nope-" + String(rng.next() % 1_000_000))
                } else {
                    segments.append(maybeHostile(["main", "feat%2Fx", "merge"].pick(&rng), &rng))
                }
            case "{key}": segments.append(maybeHostile("k" + String(rng.next() % 1_000_000, radix: 36), &rng))
            // A write that must be refused keeps its route: a hostile literal could make it another route's.
            default:
                let hostile = !needsDefect && Int.random(in: 0..<100, using: &rng) < 4
                segments.append(hostile ? Self.hostileSegments.pick(&rng) : part)
            }
        }
        var target = "/" + segments.joined(separator: "/")
        if Int.random(in: 0..<100, using: &rng) < 10 { target += "/" }
        if Int.random(in: 0..<100, using: &rng) < 45 { target += query(&rng) }

        var body: [UInt8] = []
        var contentType: String? = "application/json"
        if defect == .body {
            body = invalidBody(for: route, method: method, &rng)
        } else if method != "GET" || Int.random(in: 0..<100, using: &rng) < 10 {
            (body, contentType) = anyBody(for: route, &rng)
            if needsDefect, route.template.last == "push" {
                body = corruptPushBody(&rng).bytes
                contentType = "application/x-mesa-sync"
            }
        }
        var headers: [(String, String)] = [("Host", "127.0.0.1:\(fixtures.port)")]
        if let header = credential.header { headers.append(("Authorization", header)) }
        if let contentType, !body.isEmpty { headers.append(("Content-Type", contentType)) }
        if !body.isEmpty || method == "POST" || method == "PATCH" {
            headers.append(("Content-Length", String(body.count)))
        }
        if Int.random(in: 0..<100, using: &rng) < 20 { headers.append(("Connection", "close")) }
        if Int.random(in: 0..<100, using: &rng) < 10 {
            headers.append(
                ("Accept", ["application/octet-stream", "text/plain", "*/*", "x/y;q=0"].pick(&rng))
            )
        }
        if Int.random(in: 0..<100, using: &rng) < 5 { headers.append(("If-None-Match", "\"\(rng.next())\"")) }
        let head = Self.head(method: method, target: target, headers: headers)
        let wellFormed = !method.contains("\u{0}") && method != "CONNECT" && method.allSatisfy { $0.isASCII }
        // The repo is resolved before anything else of the request is looked at (its body, its other segments).
        let notFound =
            namesMissingRepo && credential.isValid && segments.count > 1 && segments[1] == "local"
            && methods.contains(method)
        return FuzzRequest(
            index: 0,
            category: "route" + (defect.map { "/\($0)-defect" } ?? ""),
            method: method,
            target: target,
            credential: credential.name,
            raw: RawHTTPClient.Request(
                head: head,
                body: body.isEmpty ? [] : [.bytes(body)],
                ending: wellFormed ? .readResponse : .shutDownThenRead,
                isHeadRequest: method == "HEAD",
                timeout: 15
            ),
            isWrite: isWrite,
            mustAnswer: wellFormed,
            // A repo name holding a NUL byte is refused (400, or 404 where no route matches) and must never reach the
            // repo whose name it starts with.
            expectedStatus: notFound && !segments[2].contains("%00") ? 404 : nil,
            forbiddenStatus: notFound && segments[2].contains("%00") ? 200 : nil
        )
    }

    /// `value`, or sometimes a hostile spelling in its place.
    func maybeHostile(_ value: String, _ rng: inout SeededBytes) -> String {
        Int.random(in: 0..<100, using: &rng) < 25 ? Self.hostileSegments.pick(&rng) : value
    }

    /// An org segment that is not the caller's org, however it is decoded.
    func missingOrg(_ rng: inout SeededBytes) -> String {
        let choices = ["other", "LOCAL", "loca", "local-", "%6C%6F%63%61%6C%2F", "..", "%00"]
        return choices.pick(&rng)
    }

    /// A repo segment that names no repo of the org, however it is decoded. `destructive`: for a request that would
    /// delete the repo if the name resolved to it (no NUL spellings there, so that a server which cuts names at a NUL
    /// does not lose the campaign's repo; other requests find that defect).
    func missingRepo(_ rng: inout SeededBytes, destructive: Bool = false) -> String {
        var choices = ["nope", "APP", "app.", "%2e%2e", "ap", "app%2F", "app%20", String(repeating: "x", count: 101)]
        if !destructive { choices += ["app%00", "app%00x"] }
        return choices.pick(&rng)
    }

    /// A change id in the right alphabet that no change has.
    func randomChangeID(_ rng: inout SeededBytes) -> String {
        let alphabet = Array("zyxwvutsrqponmlk")
        var id = ""
        repeat {
            id = String((0..<32).map { _ in alphabet[Int(rng.next() % 16)] })
        } while id == fixtures.changeID || id == String(repeating: "z", count: 32)
        return id
    }

    func query(_ rng: inout SeededBytes) -> String {
        if Int.random(in: 0..<100, using: &rng) < 10 {
            return ["?", "?&&&==", "?%", "?a=%zz", "??", "?#x", "?limit=1&limit=2", "?path"].pick(&rng)
        }
        var pairs: [String] = []
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            let name = Self.queryNames.pick(&rng)
            let value = Self.hostileQueryValues.pick(&rng)
            pairs.append(name + "=" + (value.addingPercentEncoding(withAllowedCharacters: Self.queryAllowed) ?? ""))
        }
        return "?" + pairs.joined(separator: "&")
    }

    /// Characters left as they are in query values (`%` too, so hostile escapes reach the server undecoded).
    static let queryAllowed = CharacterSet(
        charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%/[]*!+"
    )

    // MARK: Bodies

    /// A body that the route's write must refuse even with an admin key.
    func invalidBody(for route: Route, method: String, _ rng: inout SeededBytes) -> [UInt8] {
        let bookmark = Self.hostileBookmarks.pick(&rng)
        let change = fixtures.changeID
        var choices: [String]
        switch (route.template.last ?? "", method) {
        case ("repos", _):
            choices = [
                json(["name": .string(Self.hostileRepoNames.pick(&rng))]),
                json(["name": .string("ok-\(rng.next() % 1000)"), "default_bookmark": .string(bookmark)]),
                #"{"name": 5}"#, #"{"tags": "x"}"#, #"{"tags": {"a": 1}}"#, #"{"name": ["app"]}"#,
                #"{"name": "app"}"#,
            ]
        case ("{repo}", _):
            choices = [
                json(["name": .string(Self.hostileRepoNames.pick(&rng))]),
                json(["default_bookmark": .string(bookmark)]), #"{"tags": [1]}"#, #"{"tags": {"k": 5}}"#,
                #"{"name": null, "default_bookmark": 7}"#,
            ]
        case ("api-keys", _):
            choices = [
                #"{"scopes": []}"#, #"{"scopes": ["root"]}"#, #"{"expires_in_seconds": -1}"#,
                #"{"expires_in_seconds": 0}"#, #"{"expires_in_seconds": 99}"#, #"{"expires_in_seconds": 31536001}"#,
                #"{"expires_in_seconds": 9223372036854775807}"#, #"{"expires_in_seconds": 1e99}"#,
                #"{"expires_in_seconds": "100"}"#, #"{"repo_ids": ["nope"]}"#, #"{"name": 5}"#,
                #"{"scopes": "admin"}"#, #"{"repo_ids": [""]}"#, #"{"tags": {"a": null}}"#,
            ]
        case ("bookmarks", _):
            choices = [
                json(["name": .string(bookmark), "change_id": .string(change)]),
                json(["name": .string("ok-\(rng.next() % 1000)"), "change_id": .string("not-a-change")]),
                json(["name": .string("main"), "change_id": .string(change)]), #"{"name": "x"}"#,
                #"{"change_id": 5, "name": "y"}"#,
            ]
        case ("merge", _):
            choices = [
                json(["target": .string("main"), "source": .string("nope-\(rng.next() % 1000)")]),
                json(["target": .string("nope"), "source": .string("main")]),
                json(["target": .string(bookmark), "source": .string("main")]),
                json(["target": .string("main"), "source": .string(bookmark)]), #"{"target": "main"}"#,
                #"{"target": 1, "source": 2}"#,
            ]
        case ("{bookmark}", _):
            choices = [
                #"{"change_id": "not-a-change"}"#, "{}", #"{"change_id": 5}"#, #"{"change_id": null}"#,
                json(["change_id": .string(String(change.dropLast()))]),
            ]
        case ("changes", _), ("{change}", _):
            return changeBody(patch: method == "PATCH", &rng).body
        default:
            choices = ["[]"]
        }
        // A wrong top-level shape is refused by every route that reads a body.
        choices += ["[]", "null", "42", "\"text\"", "true", "{", "{\"a\":", "\u{1}binary"]
        return Array(choices.pick(&rng).utf8)
    }

    /// Any body: random bytes, JSON of a random shape, or the route's own body shape with hostile values.
    func anyBody(for route: Route, _ rng: inout SeededBytes) -> ([UInt8], String?) {
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<12: return ([], nil)
        case 12..<27:
            let type = ["application/json", "x/y", "", "application/x-mesa-sync"].pick(&rng)
            return ([0xFF] + rng.bytes(Int.random(in: 1...300, using: &rng)), type)
        case 27..<45: return (Array(randomJSON(depth: 3, &rng).utf8), "application/json")
        default: return (Array(syncBody(route.template.last ?? "", &rng).utf8), "application/json")
        }
    }

    /// A sync query shaped for `call` (`resolve`, `lookup`, `trees`, `objects`, `have`; any of them for other routes)
    /// with hostile values.
    func syncBody(_ call: String, _ rng: inout SeededBytes) -> String {
        let revisions = [
            "", "bookmark:main", "change-id:\(fixtures.changeID)", "bookmark:..", "change-id:x", "main",
            "bookmark:\u{0}",
            "bookmark:", "change-id:", ":", "bookmark:main\u{0}x", String(repeating: "r", count: 5000),
        ]
        let keys = [
            "chunk:" + String(repeating: "0", count: 64), "tree:" + String(repeating: "f", count: 40), "x:y", "", ":",
            "::", "chunk:", "chunk:zz", "manifest:" + fixtures.commit, "commit:" + fixtures.commit,
            String(repeating: "a", count: 64),
            "tag:" + String(repeating: "1", count: 40), "tree:" + String(repeating: "F", count: 40), "chunk:\u{0}",
            "blob:" + fixtures.commit, "tree:" + String(repeating: "0", count: 41),
        ]
        func keyList() -> JSONValue {
            .array((0..<Int.random(in: 0...3, using: &rng)).map { _ in .string(keys.pick(&rng)) })
        }
        let numbers: [Double] = [-1, 0, 1, 257, 1e12, 1e18, 1e300, 262_144, -9e18, 0.5]
        let ids = ["", "x", fixtures.commit, String(repeating: "0", count: 40), String(repeating: "g", count: 40)]
        let calls = ["resolve", "lookup", "trees", "objects", "have", "keys"]
        switch calls.contains(call) ? call : calls.pick(&rng) {
        case "resolve":
            return json([
                "revisions": .array(
                    (0..<Int.random(in: 0...3, using: &rng)).map { _ in .string(revisions.pick(&rng)) }
                )
            ])
        case "lookup":
            return json([
                "revision": .string(revisions.pick(&rng)),
                "path": .string(
                    Bool.random(using: &rng) ? Self.hostilePaths.pick(&rng) : "src/main.c"
                ),
                "inline_max_bytes": .number(numbers.pick(&rng)),
            ])
        case "trees":
            return json([
                "roots": .array([.string(ids.pick(&rng))]),
                "depth": Bool.random(using: &rng) ? .null : .number(numbers.pick(&rng)),
                "have": keyList(),
            ])
        case "objects":
            var object: [String: JSONValue] = ["keys": keyList()]
            if Bool.random(using: &rng) {
                object["subtree"] = .object([
                    "tree": .string(ids.pick(&rng)),
                    "max_bytes": .number(numbers.pick(&rng)),
                    "max_file_bytes": .number(numbers.pick(&rng)), "have": keyList(),
                ])
            }
            return json(object)
        case "have":
            return json(["keys": keyList()])
        default:
            return #"{"keys": [\#(Array(repeating: "\"x\"", count: 2000).joined(separator: ","))]}"#
        }
    }

    /// A change create or patch body that the server must refuse: at least one defect, valid parts around it.
    func changeBody(patch: Bool, _ rng: inout SeededBytes) -> (body: [UInt8], defect: String) {
        func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        var files: [JSONValue] = []
        for _ in 0..<Int.random(in: 0...2, using: &rng) {
            files.append(
                .object([
                    "path": .string("ok/\(rng.next() % 1000).txt"), "content": .string(base64("x\(rng.next())\n")),
                ])
            )
        }
        var object: [String: JSONValue] = [:]
        if !patch { object["base_change_id"] = .string(fixtures.changeID) }
        let defect: String
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<40:
            defect = "hostile path"
            files.insert(
                .object([
                    "path": .string(Self.hostilePaths.pick(&rng)),
                    "content": .string(base64("evil\n")),
                ]),
                at: Int.random(in: 0...files.count, using: &rng)
            )
        case 40..<50:
            defect = "bad base64"
            let content = ["!!!", "a", "YQ", "Y Q ==", "\u{0}", "Zm9v\nYmFy", "%%%%"].pick(&rng)
            files.append(.object(["path": .string("b64/\(rng.next() % 1000)"), "content": .string(content)]))
        case 50..<55:
            defect = "bad file fields"
            let bad: [JSONValue] = [
                .object(["path": .string("f"), "content": .string(base64("a")), "encoding": .string("hex")]),
                .object(["path": .string("f"), "content": .string(base64("a")), "mode": .string("120000")]),
                .object(["path": .string("f"), "content": .string(base64("a")), "mode": .string("100777")]),
                .object(["path": .string("f"), "content": .string(base64("a")), "mode": .string("040000")]),
                .object(["path": .string("f")]), .object(["path": .number(5), "content": .string("")]),
                .object(["path": .string("nope-\(rng.next() % 1000)/gone"), "action": .string("delete")]),
                .string("f"),
            ]
            files.append(bad.pick(&rng))
        case 55..<70:
            defect = "bad signature"
            let names = ["a\nb", "<root@x>", "a>b", "a\u{0}b", "\u{7f}", String(repeating: "n", count: 1025)]
            let name = names.pick(&rng)
            let signature: JSONValue =
                Bool.random(using: &rng)
                ? .object(["name": .string(name), "email": .string("e@x")])
                : .object(["name": .string("ok"), "email": .string(name)])
            if patch || Bool.random(using: &rng) {
                object["committer"] = signature
            } else {
                object["author"] = signature
            }
        case 70..<75:
            defect = "NUL in message"
            object["message"] = .string("line\u{0}cut")
        case 75..<82:
            defect = "bad base"
            if patch {
                object["base_commit_oid"] = .string(
                    ["xyz", "", String(repeating: "g", count: 40)].pick(&rng)
                )
            } else {
                object["base_change_id"] = .string(
                    ["", "x", fixtures.commit, String(repeating: "a", count: 32)].pick(&rng)
                )
            }
        case 82..<88:
            defect = patch ? "stale base commit" : "missing base"
            if patch {
                // Valid files on a stale base: refused after the content is decoded (and perhaps written).
                object["base_commit_oid"] = .string(String(repeating: "ab", count: 20))
                files.append(
                    .object([
                        "path": .string("stale/\(rng.next())"), "content": .string(base64("stale \(rng.next())\n")),
                    ])
                )
            } else {
                object["base_change_id"] = nil
                files.append(.object(["path": .string("nobase/\(rng.next())"), "content": .string(base64("x"))]))
            }
        case 88..<94:
            defect = patch ? "files and resolutions" : "nonexistent base"
            if patch {
                object["resolutions"] = .array([
                    .object(["path": .string("README.md"), "content": .string(base64("r"))])
                ])
                files.append(.object(["path": .string("r/\(rng.next())"), "content": .string(base64("r"))]))
            } else {
                object["base_change_id"] = .string(randomChangeID(&rng))
                files.append(
                    .object(["path": .string("orphan/\(rng.next())"), "content": .string(base64("o\(rng.next())"))])
                )
            }
        default:
            defect = "wrong types"
            object["files"] = [.string("x"), .number(1), .object([:]), .bool(true)].pick(&rng)
            return (Array(json(object).utf8), defect)
        }
        object["files"] = .array(files)
        if object["message"] == nil, Bool.random(using: &rng) { object["message"] = .string("msg \(rng.next())") }
        return (Array(json(object).utf8), defect)
    }

    func changeRequest(_ rng: inout SeededBytes) -> FuzzRequest {
        let patch = Int.random(in: 0..<100, using: &rng) < 40
        let (body, defect) = changeBody(patch: patch, &rng)
        let target = patch ? "/v1/local/app/changes/\(fixtures.changeID)" : "/v1/local/app/changes"
        let method = patch ? "PATCH" : "POST"
        let head = Self.head(
            method: method,
            target: target,
            headers: [
                ("Host", "127.0.0.1"), ("Authorization", "Bearer \(fixtures.adminKey)"),
                ("Content-Type", "application/json"),
                ("Content-Length", String(body.count)),
            ]
        )
        return FuzzRequest(
            index: 0,
            category: "change/\(defect)",
            method: method,
            target: target,
            credential: "admin",
            raw: RawHTTPClient.Request(head: head, body: [.bytes(body)], timeout: 15),
            isWrite: true,
            mustAnswer: true,
            expectedStatus: nil
        )
    }

    // MARK: Merges

    /// A merge of the conflicting bookmarks `left` and `right` that must be refused: it conflicts, or a resolution
    /// is refused after another one's content was decoded.
    func mergeRequest(_ rng: inout SeededBytes) -> FuzzRequest {
        let fresh = Data("resolved \(seed) \(rng.next())\n".utf8).base64EncodedString()
        let bodies: [(String, String)] = [
            ("conflict", #"{"target":"left","source":"right"}"#),
            (
                "conflict with one resolution",
                #"{"target":"left","source":"right","resolutions":[{"path":"README.md","content":"\#(fresh)"}]}"#
            ),
            (
                "refused second resolution",
                #"{"target":"left","source":"right","resolutions":[{"path":"README.md","content":"\#(fresh)"},{"path":"src/main.c","take":"bogus"}]}"#
            ),
            (
                "bad base64 resolution",
                #"{"target":"left","source":"right","resolutions":[{"path":"README.md","content":"\#(fresh)"},{"path":"src/main.c","content":"!!"}]}"#
            ),
            ("NUL in message", #"{"target":"left","source":"right","message":"a\u0000b"}"#),
        ]
        let (defect, text) = bodies.pick(&rng)
        let body = Array(text.utf8)
        let target = "/v1/local/app/bookmarks/merge"
        let head = Self.head(
            method: "POST",
            target: target,
            headers: [
                ("Host", "127.0.0.1"), ("Authorization", "Bearer \(fixtures.adminKey)"),
                ("Content-Type", "application/json"), ("Content-Length", String(body.count)),
            ]
        )
        return FuzzRequest(
            index: 0,
            category: "merge/\(defect)",
            method: "POST",
            target: target,
            credential: "admin",
            raw: RawHTTPClient.Request(head: head, body: [.bytes(body)], timeout: 15),
            isWrite: true,
            mustAnswer: true,
            expectedStatus: nil
        )
    }

    // MARK: Sync push

    /// A push stream the server must refuse: what is wrong with it, and its bytes.
    func corruptPushBody(_ rng: inout SeededBytes) -> (defect: String, bytes: [UInt8]) {
        let magic = SyncFrameEncoder.magic
        /// A record frame; `id` always has the kind's length here.
        func record(_ kind: RecordKind, id: [UInt8], content: [UInt8]) -> [UInt8] {
            SyncFrameEncoder.encode(
                .record(
                    SyncRecord(
                        key: RecordKey(kind: kind, idBytes: id)!,
                        codec: 0,
                        rawLength: UInt32(content.count),
                        stored: content
                    )
                )
            )
        }
        /// A chunk whose id is right, fresh for this request (so a stored copy would grow the store).
        func validChunk() -> [UInt8] {
            let content =
                Array("fuzz chunk \(seed) \(rng.next())\n".utf8) + rng.bytes(Int.random(in: 0...300, using: &rng))
            return record(.chunk, id: fixtures.chunkID(content), content: content)
        }
        let transaction = Array(
            #"{"changes":[{"change_id":"\#(randomChangeID(&rng))","expected_commit":null,"commit":"\#(String(repeating: "c", count: 40))","parents":[]}],"bookmarks":[]}"#
                .utf8
        )
        let end = { (count: UInt32) in SyncFrameEncoder.encode(.end(recordCount: count)) }
        switch Int.random(in: 0..<16, using: &rng) {
        case 0: return ("magic then garbage", magic + rng.bytes(Int.random(in: 1...200, using: &rng)))
        case 1: return ("no magic", Array("MESASYN2".utf8) + rng.bytes(Int.random(in: 0...100, using: &rng)))
        case 2:
            let content = rng.bytes(Int.random(in: 1...200, using: &rng))
            return (
                "record id does not match",
                magic + record(.chunk, id: rng.bytes(32), content: content)
                    + SyncFrameEncoder.encode(.json(transaction)) + end(1)
            )
        case 3:
            let frame = record(.chunk, id: rng.bytes(32), content: rng.bytes(100))
            return ("truncated record frame", magic + Array(frame.prefix(Int.random(in: 1..<frame.count, using: &rng))))
        case 4:
            return (
                "trailing bytes after the end frame",
                magic + validChunk() + SyncFrameEncoder.encode(.json(transaction)) + end(1)
                    + rng.bytes(Int.random(in: 1...50, using: &rng))
            )
        case 5:
            return (
                "transaction not JSON",
                magic + validChunk() + SyncFrameEncoder.encode(.json(Array("{not json".utf8))) + end(1)
            )
        case 6:
            let body = ErrorBody(code: "CLIENT", message: "gave up")
            return ("client error frame", magic + validChunk() + SyncFrameEncoder.encode(.error(body)))
        case 7:
            var header: [UInt8] = [1, 9, 0, 20] + [UInt8](repeating: 0, count: 12)
            if Bool.random(using: &rng) { header = [1, 1, 7, 32] + [UInt8](repeating: 0, count: 12) }
            return ("bad record header", magic + header + rng.bytes(40))
        case 8:
            var header: [UInt8] = [1, 1, 0, 32]
            header += [0, 0, 0, 0x05] + [0xFF, 0xFF, 0xFF, 0xFF] + [0, 0, 0, 0]
            return ("record over the limits", magic + header + rng.bytes(64))
        case 9:
            return ("end count mismatch", magic + validChunk() + SyncFrameEncoder.encode(.json(transaction)) + end(7))
        case 10:
            return (
                "two transactions",
                magic + SyncFrameEncoder.encode(.json(transaction)) + SyncFrameEncoder.encode(.json(transaction))
                    + end(0)
            )
        case 11:
            return ("tag record", magic + record(.tag, id: rng.bytes(20), content: Array("object x\n".utf8)) + end(1))
        // Pushes refused only after their verified records were received: nothing they carried may stay stored.
        case 12: return ("verified record, no transaction", magic + validChunk() + end(1))
        case 13:
            return (
                "verified record, then a forged one",
                magic + validChunk() + record(.chunk, id: rng.bytes(32), content: rng.bytes(64)) + end(2)
            )
        case 14:
            return (
                "verified record, invalid transaction",
                magic + validChunk() + SyncFrameEncoder.encode(.json(transaction)) + end(1)
            )
        default: return ("verified record, stream cut", magic + validChunk())
        }
    }

    func pushRequest(_ rng: inout SeededBytes) -> FuzzRequest {
        let (defect, body) = corruptPushBody(&rng)
        let chunked = Bool.random(using: &rng)
        var headers: [(String, String)] = [
            ("Host", "127.0.0.1"), ("Authorization", "Bearer \(fixtures.adminKey)"),
            ("Content-Type", "application/x-mesa-sync"),
        ]
        var pieces: [RawHTTPClient.BodyPiece]
        if chunked {
            headers.append(("Transfer-Encoding", "chunked"))
            pieces = []
            var offset = 0
            while offset < body.count {
                let size = min(body.count - offset, Int.random(in: 1...64, using: &rng))
                var chunk = Array((String(size, radix: 16) + "\r\n").utf8)
                chunk.append(contentsOf: body[offset..<(offset + size)])
                chunk.append(contentsOf: [13, 10])
                pieces.append(.bytes(chunk))
                offset += size
            }
            pieces.append(.bytes(Array("0\r\n\r\n".utf8)))
        } else {
            headers.append(("Content-Length", String(body.count)))
            pieces = [.bytes(body)]
        }
        let target = "/v1/local/app/sync/push"
        return FuzzRequest(
            index: 0,
            category: "push/\(defect)",
            method: "POST",
            target: target,
            credential: "admin",
            raw: RawHTTPClient.Request(
                head: Self.head(method: "POST", target: target, headers: headers),
                body: pieces,
                timeout: 15
            ),
            isWrite: true,
            mustAnswer: true,
            expectedStatus: nil
        )
    }

    // MARK: Headers

    func headerRequest(_ rng: inout SeededBytes) -> FuzzRequest {
        let admin = "Bearer \(fixtures.adminKey)"
        let write = Bool.random(using: &rng)
        let method = write ? "POST" : "GET"
        // A write here always carries a body the route refuses.
        let target =
            write
            ? "/v1/local/repos"
            : ["/v1/whoami", "/v1/local/app", "/v1/local/app/content?path=README.md"].pick(&rng)
        let body = write ? Array(#"{"name": "..", "tags": {"x": "y"}}"#.utf8) : []
        var headers: [(String, String)] = [("Host", "127.0.0.1"), ("Authorization", admin)]
        var extra: [UInt8] = []
        var category: String
        var expected: Int?
        var forbidden: Int?
        var ending = RawHTTPClient.Ending.readResponse
        var mustAnswer = true
        var lengthWritten = false
        switch Int.random(in: 0..<14, using: &rng) {
        case 0:
            category = "header value over 64 KiB"
            headers.append(("X-Big", String(repeating: "v", count: 65 << 10 + Int.random(in: 0...4096, using: &rng))))
            expected = 431
        case 1:
            category = "Authorization over 64 KiB"
            headers[1] = ("Authorization", "Bearer " + String(repeating: "t", count: 70 << 10))
            expected = 431
        case 2:
            category = "many headers over 64 KiB"
            for index in 0..<150 { headers.append(("X-H\(index)", String(repeating: "h", count: 500))) }
            expected = 431
        case 3:
            category = "hundreds of headers"
            for index in 0..<Int.random(in: 150...400, using: &rng) { headers.append(("X-Many-\(index)", "v")) }
        case 4:
            category = "head just under 64 KiB"
            headers.append(("X-Big", String(repeating: "u", count: 60 << 10)))
            forbidden = 431
        case 5:
            category = "no Host"
            headers.removeFirst()
        case 6:
            category = "duplicate Host and Authorization"
            headers += [("Host", "evil.example"), ("Authorization", "Bearer nope")]
        case 7:
            category = "bad Content-Length"
            let value = ["-1", "abc", "1e3", "99999999999999999999999", "0x10", " 5", "5, 6", "", "+5"].pick(&rng)
            headers.append(("Content-Length", value))
            lengthWritten = true
            mustAnswer = false
            ending = .shutDownThenRead
        case 8:
            category = "conflicting Content-Length"
            headers += [("Content-Length", String(body.count)), ("Content-Length", String(body.count + 3))]
            lengthWritten = true
            mustAnswer = false
            ending = .shutDownThenRead
        case 9:
            category = "Content-Length larger than the body"
            headers.append(("Content-Length", String(body.count + Int.random(in: 1...100_000, using: &rng))))
            lengthWritten = true
            mustAnswer = false
            ending = .shutDownThenRead
        case 10:
            category = "bad Transfer-Encoding"
            let value = ["gzip", "chunked, gzip", "identity", "chunked, chunked", "xchunked", "chunked\u{0}"]
                .pick(&rng)
            headers.append(("Transfer-Encoding", value))
            extra = Array("5\r\nhello\r\n0\r\n\r\n".utf8)
            lengthWritten = true
            mustAnswer = false
            ending = .shutDownThenRead
        case 11:
            category = "bad chunks"
            headers.append(("Transfer-Encoding", "chunked"))
            extra = Array(
                [
                    "zz\r\nxx\r\n0\r\n\r\n", "FFFFFFFFFFFFFFFFFFFF\r\nx", "5\r\nabc\r\n0\r\n\r\n",
                    "3;ext=\u{1}\r\nabc\r\n0\r\n\r\n", "-1\r\n\r\n",
                ].pick(&rng).utf8
            )
            lengthWritten = true
            mustAnswer = false
            ending = .shutDownThenRead
        case 12:
            category = "Transfer-Encoding and Content-Length"
            headers += [("Transfer-Encoding", "chunked"), ("Content-Length", "5")]
            extra = Array("5\r\nhello\r\n0\r\n\r\n".utf8)
            lengthWritten = true
            mustAnswer = false
            ending = .shutDownThenRead
        default:
            category = "odd header fields"
            let odd = [
                "Bad Header: x", ": empty-name", "NoColon", "X-Fold: a\r\n folded", "X-Nul: a\u{0}b", "X-Utf8: ü😀",
                "X-Ctl: a\u{1}b", "Expect: 100-continue", "Upgrade: h2c", "Connection: Upgrade, HTTP2-Settings",
                "X-Trailing-Space : x", "Content-Type: application/json; charset=\u{7f}",
            ]
            let line = odd.pick(&rng)
            let parts = line.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            headers.append((String(parts[0]), parts.count > 1 ? String(parts[1].dropFirst()) : ""))
            mustAnswer = false
            ending = .shutDownThenRead
        }
        if !lengthWritten, !body.isEmpty { headers.append(("Content-Length", String(body.count))) }
        let head = Self.head(method: method, target: target, headers: headers)
        var pieces: [RawHTTPClient.BodyPiece] = []
        if !extra.isEmpty { pieces.append(.bytes(extra)) } else if !body.isEmpty { pieces.append(.bytes(body)) }
        return FuzzRequest(
            index: 0,
            category: "headers/\(category)",
            method: method,
            target: target,
            credential: "admin",
            raw: RawHTTPClient.Request(head: head, body: pieces, ending: ending, timeout: 15),
            isWrite: write,
            mustAnswer: mustAnswer,
            expectedStatus: expected,
            forbiddenStatus: forbidden
        )
    }

    // MARK: Malformed HTTP

    func malformedRequest(_ rng: inout SeededBytes) -> FuzzRequest {
        let host = "Host: 127.0.0.1\r\n"
        let auth = "Authorization: Bearer \(fixtures.adminKey)\r\n"
        let valid = "GET /v1/local/app HTTP/1.1\r\n\(host)\(auth)\r\n"
        var category: String
        var bytes: [UInt8]
        var ending = RawHTTPClient.Ending.shutDownThenRead
        switch Int.random(in: 0..<16, using: &rng) {
        case 0:
            category = "garbage request line"
            bytes = [0x7F] + rng.bytes(Int.random(in: 1...200, using: &rng)) + Array("\r\n\r\n".utf8)
        case 1:
            category = "HTTP/0.9"
            bytes = Array(["GET /\r\n", "GET /v1/whoami\r\n\r\n", "GET\r\n\r\n"].pick(&rng).utf8)
        case 2:
            category = "bad version"
            let line = [
                "GET / HTTP/9.9", "GET / HTTP/1.1x", "GET / http/1.1", "GET / HTTP/1", "GET / HTTP/1.1.1",
                "GET / FTP/1.0", "GET / HTTP/2.0",
            ].pick(&rng)
            bytes = Array("\(line)\r\n\(host)\r\n".utf8)
        case 3:
            category = "bad spacing"
            let line = [
                "GET  /v1/whoami  HTTP/1.1", "GET\t/v1/whoami\tHTTP/1.1", " GET /v1/whoami HTTP/1.1",
                "GET/v1/whoami HTTP/1.1", "GET /v1/whoami HTTP/1.1 extra",
            ].pick(&rng)
            bytes = Array("\(line)\r\n\(host)\(auth)\r\n".utf8)
        case 4:
            category = "odd request target"
            let target = [
                "http://evil.example/v1/whoami", "*", "//v1//whoami", "/v1/whoami#frag", "v1/whoami", "/v1/%",
                "/\u{7f}", "/v1/whoami?\u{1}", "/" + String(repeating: "a", count: 100_000),
            ].pick(&rng)
            bytes = Array("GET \(target) HTTP/1.1\r\n\(host)\(auth)\r\n".utf8)
        case 5:
            category = "CONNECT"
            bytes = Array("CONNECT 127.0.0.1:1 HTTP/1.1\r\n\(host)\r\nGET / HTTP/1.1\r\n\r\n".utf8)
        case 6:
            category = "HTTP/2 preface"
            bytes = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + rng.bytes(20)
        case 7:
            category = "NUL bytes"
            bytes = Array("GET /v1/wh\u{0}oami HTTP/1.1\r\n\(host)\r\n".utf8)
        case 8:
            category = "bare LF line ends"
            bytes = Array(
                "GET /v1/whoami HTTP/1.1\nHost: x\n\(auth.replacingOccurrences(of: "\r\n", with: "\n"))\n".utf8
            )
        case 9:
            category = "bare CR line ends"
            bytes = Array("GET /v1/whoami HTTP/1.1\rHost: x\r\r".utf8)
        case 10, 11:
            category = "half-sent head, then close"
            let head = Array(valid.utf8)
            bytes = Array(head.prefix(Int.random(in: 1..<(head.count - 2), using: &rng)))
            ending = .close
        case 12:
            category = "garbage pipelined after a request"
            bytes = Array(valid.utf8) + rng.bytes(Int.random(in: 1...100, using: &rng)) + Array("\r\n\r\n".utf8)
        case 13:
            category = "request line only"
            bytes = Array("GET /v1/whoami HTTP/1.1\r\n".utf8)
        case 14:
            category = "HTTP/1.0 without Host"
            bytes = Array("GET /v1/whoami HTTP/1.0\r\n\(auth)\r\n".utf8)
        default:
            category = "lower-case method"
            bytes = Array("get /v1/whoami HTTP/1.1\r\n\(host)\(auth)\r\n".utf8)
        }
        return FuzzRequest(
            index: 0,
            category: "http/\(category)",
            method: "-",
            target: "-",
            credential: "admin or none",
            raw: RawHTTPClient.Request(head: bytes, ending: ending, timeout: 15),
            isWrite: false,
            mustAnswer: false,
            expectedStatus: nil
        )
    }

    // MARK: Large bodies

    /// A write whose body is over the 64 MiB limit: with `Content-Length` (a change whose file would be stored if
    /// the server read it), or chunked (a repo create).
    func largeBody(_ index: Int, second: Bool) -> FuzzRequest {
        let size = (64 << 20) + 4096
        var headers: [(String, String)] = [
            ("Host", "127.0.0.1"), ("Authorization", "Bearer \(fixtures.adminKey)"),
            ("Content-Type", "application/json"),
        ]
        let target: String
        var pieces: [RawHTTPClient.BodyPiece]
        if !second {
            target = "/v1/local/app/changes"
            let prefix = Array(
                #"{"base_change_id":"\#(fixtures.changeID)","files":[{"path":"big.bin","content":""#.utf8
            )
            let suffix = Array(#""}]}"#.utf8)
            headers.append(("Content-Length", String(size)))
            pieces = [
                .bytes(prefix), .repeating(UInt8(ascii: "A"), count: size - prefix.count - suffix.count),
                .bytes(suffix),
            ]
        } else {
            target = "/v1/local/repos"
            headers.append(("Transfer-Encoding", "chunked"))
            let chunk = 1 << 20
            let opening = #"{"name":"big","x":""#
            pieces = [.bytes(Array("\(String(opening.utf8.count, radix: 16))\r\n\(opening)\r\n".utf8))]
            for _ in 0..<(size / chunk) {
                pieces += [
                    .bytes(Array("\(String(chunk, radix: 16))\r\n".utf8)), .repeating(UInt8(ascii: "B"), count: chunk),
                    .bytes([13, 10]),
                ]
            }
            pieces.append(.bytes(Array("3\r\n\"}\n\r\n0\r\n\r\n".utf8)))
        }
        return FuzzRequest(
            index: index,
            category: "large body over 64 MiB",
            method: "POST",
            target: target,
            credential: "admin",
            raw: RawHTTPClient.Request(
                head: Self.head(method: "POST", target: target, headers: headers),
                body: pieces,
                timeout: 60
            ),
            isWrite: true,
            mustAnswer: true,
            expectedStatus: 413
        )
    }

    // MARK: Helpers

    static func head(method: String, target: String, headers: [(String, String)]) -> [UInt8] {
        var text = "\(method) \(target) HTTP/1.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        return Array((text + "\r\n").utf8)
    }

    func json(_ object: [String: JSONValue]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: (try? encoder.encode(object)) ?? Data("{}".utf8), as: UTF8.self)
    }

    func randomJSON(depth: Int, _ rng: inout SeededBytes) -> String {
        switch Int.random(in: 0...(depth > 0 ? 6 : 3), using: &rng) {
        case 0: return "null"
        case 1: return Bool.random(using: &rng) ? "true" : "false"
        case 2: return ["0", "-1", "1e400", "-0", "12345678901234567890123", "0.5", "1E-7"].pick(&rng)
        case 3:
            return "\"" + ["", "a", "\\u0000", "\\ud800", "..", "\\\"", "main", fixtures.changeID].pick(&rng) + "\""
        case 4:
            return "["
                + (0..<Int.random(in: 0...3, using: &rng)).map { _ in randomJSON(depth: depth - 1, &rng) }.joined(
                    separator: ","
                ) + "]"
        default:
            let keys = [
                "name", "revisions", "keys", "files", "path", "base_change_id", "change_id", "target", "source", "tags",
                "scopes", "roots", "depth",
            ]
            return "{"
                + (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                    "\"\(keys.pick(&rng))\":" + randomJSON(depth: depth - 1, &rng)
                }.joined(separator: ",") + "}"
        }
    }
}
