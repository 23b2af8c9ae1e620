import Foundation
import MesaWire
import Testing

@Suite struct WebhookSignatureTests {
    static let body = Array(#"{"id":"evt_1","type":"push"}"#.utf8)

    /// The value `openssl dgst -sha256 -hmac whsec_test` gives for `1700000000.<body>`.
    @Test func theHeaderMatchesOpenSSLsHMAC() {
        let header = WebhookSignature.header(secret: "whsec_test", timestamp: 1_700_000_000, body: Self.body)
        #expect(header == "t=1700000000,sha256=82c4e397a4dea6a449e4d8bd7292c21cd1080a8f159db0d4127c45ccf6a87731")
    }

    @Test func verificationNeedsTheSecretTheBodyAndATimeWithinTolerance() {
        let header = WebhookSignature.header(secret: "whsec_test", timestamp: 1_700_000_000, body: Self.body)
        #expect(WebhookSignature.isValid(header: header, secret: "whsec_test", body: Self.body, now: 1_700_000_300))
        #expect(!WebhookSignature.isValid(header: header, secret: "whsec_test", body: Self.body, now: 1_700_000_301))
        #expect(!WebhookSignature.isValid(header: header, secret: "whsec_other", body: Self.body, now: 1_700_000_000))
        #expect(!WebhookSignature.isValid(header: header, secret: "whsec_test", body: Self.body + [32], now: 1_700_000_000))
        let retimed = header.replacingOccurrences(of: "t=1700000000", with: "t=1700000001")
        #expect(!WebhookSignature.isValid(header: retimed, secret: "whsec_test", body: Self.body, now: 1_700_000_000))
        #expect(!WebhookSignature.isValid(header: "garbage", secret: "whsec_test", body: Self.body, now: 1_700_000_000))
    }
}
