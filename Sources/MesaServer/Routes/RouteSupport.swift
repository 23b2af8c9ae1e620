import Foundation
import Hummingbird
import MesaWire

/// Validation and lookups shared by the routes.
enum RouteSupport {
    /// Repo names become directory names: `^[A-Za-z0-9._-]{1,100}$`, never `.` or `..` (DESIGN.md section 6).
    static func validateRepoName(_ name: String) throws(APIError) {
        let allowed = name.utf8.allSatisfy { byte in
            (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) || byte == 46 || byte == 95
                || byte == 45
        }
        guard (1...100).contains(name.utf8.count), allowed, name != ".", name != ".." else {
            throw .badRequest("repo name '\(name)' must be 1-100 characters of A-Z a-z 0-9 . _ - and not '.' or '..'")
        }
    }

    /// The names of org-level routes (`/{org}/<name>`). A repo of such a name would be shadowed by the route (or, with
    /// a route added later, would shadow it), so `POST /{org}/repos` and a rename refuse them; every org-level route
    /// registers its name here.
    static let orgRouteNames: Set<String> = ["repos", "api-keys", "tokens", "webhook-targets"]

    /// Refuses a repo name that is the name of an org-level route (``orgRouteNames``), with a 400 naming the rule.
    static func validateRepoNameIsNotRoute(_ name: String) throws(APIError) {
        guard !orgRouteNames.contains(name) else {
            let names = orgRouteNames.sorted().map { "'\($0)'" }.joined(separator: ", ")
            throw APIError(
                .badRequest, "BAD_REQUEST",
                "repo name '\(name)' is reserved: the names of org-level routes (\(names)) cannot name a repo",
                details: [
                    "rule": .string("reserved_route_name"),
                    "reserved": .array(orgRouteNames.sorted().map(JSONValue.string)),
                ])
        }
    }

    /// Tag keys (of repos and API keys) must be non-empty and must not start with `$`, which Mesa reserves for tag
    /// filter operators.
    static func validateTagKeys(_ keys: some Sequence<String>) throws(APIError) {
        for key in keys where key.isEmpty || key.hasPrefix("$") {
            throw APIError(
                .badRequest, "BAD_REQUEST", "tag key '\(key)' is invalid: tag keys are non-empty and do not start with '$'",
                details: ["rule": .string("invalid_tag_key"), "key": .string(key)])
        }
    }

    /// Bookmark names follow git's branch-name rules (`git check-ref-format --branch`): no component that starts
    /// with `.` or ends with `.lock`, no `..`, `@{`, control characters, space or `~^:?*[\`, no leading, trailing or
    /// doubled `/`, no trailing `.`, not `@`, not starting with `-`; at most 200 bytes.
    static func validateBookmarkName(_ name: String) throws(APIError) {
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        let bad = name.isEmpty || name.utf8.count > 200 || name == "@" || name.contains("..") || name.contains("@{")
            || name.hasPrefix("-") || name.hasSuffix(".")
            || components.contains { $0.isEmpty || $0.hasPrefix(".") || $0.hasSuffix(".lock") }
            || name.unicodeScalars.contains { $0.value < 0x21 || $0.value == 0x7f || "~^:?*[\\".unicodeScalars.contains($0) }
        if bad { throw .badRequest("'\(name)' is not a valid bookmark name (git's branch-name rules)") }
    }

    /// Decodes standard base64 strictly: whole 4-character groups of the standard alphabet, `=` only as the padding
    /// of the last group (Foundation alone accepts `====` as one zero byte).
    static func base64(_ text: String) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard bytes.count % 4 == 0 else { return nil }
        let padding = bytes.reversed().prefix { $0 == UInt8(ascii: "=") }.count
        guard padding <= 2 else { return nil }
        let alphabet = bytes.dropLast(padding).allSatisfy { byte in
            (65...90).contains(byte) || (97...122).contains(byte) || (48...57).contains(byte) || byte == 43 || byte == 47
        }
        guard alphabet else { return nil }
        return Data(base64Encoded: text).map { [UInt8]($0) }
    }

    /// Whether a byte may appear in an API key id (lower-case letters and digits, as the server makes them).
    static func isKeyIDByte(_ byte: UInt8) -> Bool { (48...57).contains(byte) || (97...122).contains(byte) }

    /// `?limit` (default 50, at most 100).
    static func limit(_ request: Request) throws(APIError) -> Int {
        guard let text = request.uri.queryParameters.get("limit") else { return 50 }
        guard let value = Int(text), (1...100).contains(value) else {
            throw .badRequest("limit must be a whole number from 1 to 100")
        }
        return value
    }

    /// `?cursor` of a list ordered by name: the last name of the previous page, base64url-encoded (opaque to clients).
    /// - Parameter validate: the rule every name of the list follows.
    /// - Throws: 400 for a cursor no such list gives, never a silent restart at the first page.
    static func nameCursor(_ request: Request, validate: (String) throws(APIError) -> Void) throws(APIError) -> String? {
        try query(request, "cursor").map { text throws(APIError) -> String in
            guard let bytes = Base64URL.decode(text), let name = String(validating: bytes, as: UTF8.self),
                (try? validate(name)) != nil
            else { throw .badRequest("cursor '\(text)' is not a cursor this list gave") }
            return name
        }
    }

    /// The `next_cursor` of a page of a list ordered by name that ends at `name`.
    static func nameCursor(after name: String) -> String { Base64URL.encode(Array(name.utf8)) }

    /// Reads a query parameter, percent-decoded.
    /// - Throws: 400 for invalid percent-encoding or a NUL byte (which would cut the text short where it is stored).
    static func query(_ request: Request, _ name: String) throws(APIError) -> String? {
        guard let raw = request.uri.queryParameters.get(name) else { return nil }
        guard let text = raw.replacingOccurrences(of: "+", with: " ").removingPercentEncoding, !text.utf8.contains(0)
        else { throw .badRequest("the query parameter '\(name)' is not valid percent-encoded text without NUL") }
        return text
    }

    /// The org of the path, which must be the caller's.
    static func org(_ context: MesaRequestContext) throws(APIError) -> (Principal, OrgRow) {
        let principal = try context.caller()
        let slug = try context.segment("org")
        guard slug == principal.org.slug else {
            throw .forbidden("the credential belongs to org '\(principal.org.slug)', not '\(slug)'")
        }
        return (principal, principal.org)
    }

    /// Decodes a JSON body into `T`; an empty body decodes as `{}` when `T` allows it.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: MesaRequestContext) async throws -> T {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        let data = buffer.readableBytes == 0 ? Data("{}".utf8) : Data(buffer.readableBytesView)
        return try JSONDecoder().decode(T.self, from: data)
    }

    /// Mesa's timestamp text for seconds since the epoch.
    static func time(_ seconds: Double) -> String { Timestamp.format(seconds) }
}
