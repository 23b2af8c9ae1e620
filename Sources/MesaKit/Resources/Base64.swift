import Foundation

/// Standard base64 with padding (RFC 4648 section 4), as Mesa's `content` fields use it.
enum Base64 {
    /// Encodes bytes.
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }

    /// Decodes text, or `nil` when it is not base64.
    static func decode(_ text: String) -> [UInt8]? {
        Data(base64Encoded: text).map { Array($0) }
    }
}
