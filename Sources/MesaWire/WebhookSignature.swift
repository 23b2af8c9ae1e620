import Crypto

/// The `x-mesa-signature` header of a webhook delivery (MESA-API.md, "Webhooks"): `t=<unix seconds>,sha256=<hex>`,
/// where hex is HMAC-SHA256 keyed with the target's secret over `"<t>.<raw body>"`.
public enum WebhookSignature {
    /// The header's name.
    public static let headerName = "x-mesa-signature"
    /// How far a signature's time may be from the receiver's clock, in seconds (what Mesa's SDKs accept).
    public static let tolerance: Int64 = 300

    /// The header value signing `body` at `timestamp` (seconds since the epoch) with `secret`.
    public static func header(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        "t=\(timestamp),sha256=\(hex(secret: secret, timestamp: timestamp, body: body))"
    }

    /// Whether `header` signs `body` with `secret` at a time within ``tolerance`` of `now`.
    public static func isValid(header: String, secret: String, body: [UInt8], now: Int64) -> Bool {
        var timestamp: Int64?
        var signatures: [String] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            switch pair[0].trimmingPrefix(" ") {
            case "t": timestamp = Int64(pair[1])
            case "sha256": signatures.append(String(pair[1]))
            default: continue
            }
        }
        guard let timestamp, abs(now - timestamp) <= tolerance else { return false }
        let expected = Array(hex(secret: secret, timestamp: timestamp, body: body).utf8)
        // Compared in constant time over equal lengths, so the comparison tells nothing about the secret.
        return signatures.contains { given in
            let bytes = Array(given.utf8)
            guard bytes.count == expected.count else { return false }
            return zip(bytes, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    private static func hex(secret: String, timestamp: Int64, body: [UInt8]) -> String {
        var message = Array("\(timestamp).".utf8)
        message += body
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Array(secret.utf8)))
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in mac { text += [digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]] }
        return String(decoding: text, as: UTF8.self)
    }
}
