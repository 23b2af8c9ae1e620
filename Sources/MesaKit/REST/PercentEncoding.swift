/// Percent-encoding of URL path segments and query values (RFC 3986 section 2).
///
/// Everything but the unreserved characters (`A-Z a-z 0-9 - . _ ~`) is encoded, as UTF-8 bytes in upper-case hex,
/// so a bookmark `feat/x` travels as one segment `feat%2Fx` (MESA-API.md: servers split the raw path, then decode
/// each segment) and a glob `feat/*` as the query value `feat%2F%2A`.
enum PercentEncoding {
    private static let hexDigits = Array("0123456789ABCDEF".utf8)

    /// Encodes one path segment or query component.
    static func encode(_ text: String) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreserved(byte) {
                output.append(byte)
            } else {
                output += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0f)]]
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// `/` followed by the encoded segments joined by `/`.
    /// A segment that is exactly `.` or `..` has its dots encoded too, so no URL layer removes it as a dot segment.
    static func path(_ segments: [String]) -> String {
        segments.map { segment in
            segment == "." || segment == ".."
                ? "/" + String(repeating: "%2E", count: segment.count) : "/" + encode(segment)
        }.joined()
    }

    /// `?name=value&...` for the items whose value is not `nil`, or `""` when there are none.
    static func query(_ items: [(name: String, value: String?)]) -> String {
        let pairs = items.compactMap { item in item.value.map { encode(item.name) + "=" + encode($0) } }
        return pairs.isEmpty ? "" : "?" + pairs.joined(separator: "&")
    }

    private static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
            UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
