import Foundation
import MesaCore
import MesaWire
import Testing

@Suite struct TokenTests {
    /// The example of MESA-API.md, byte for byte.
    @Test func mintingMatchesMesasGoldenToken() throws {
        let key = try #require(APIKey("mesa_k1_secretsecret"))
        #expect(key.embeddedKeyID == "k1")
        #expect(key.signingKey == "yh4j2GXOlS7d48p9QBJqNzzLJw01rI0Gs6VqIVrvZ0M")
        let token = try AccessToken.mint(
            apiKey: key, now: 1_700_000_000, tokenID: "00000000-0000-4000-8000-000000000000")
        #expect(
            token
                == "eyJhbGciOiJIUzI1NiIsInR5cCI6Im1lc2EtYXQrand0Iiwia2lkIjoiazEudjEifQ.eyJzY29wZXMiOlsicmVhZCIsIndyaXRlIl0sInJlcG9zIjpudWxsLCJpc3MiOiJrMSIsImF1ZCI6Im1lc2EtYXBpIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDAsImp0aSI6IjAwMDAwMDAwLTAwMDAtNDAwMC04MDAwLTAwMDAwMDAwMDAwMCJ9.C-IR66pgjT2YwCIk8u4XLLMBMjls2rL2lRB8qo7j2Ck"
        )
        let claims = try AccessToken.verify(token, signingKey: key.signingKey, now: 1_700_000_001)
        #expect(claims.scopes == [.read, .write])
        #expect(claims.repos == nil)
        #expect(claims.issuer == "k1")
        #expect(try AccessToken.inspect(token).keyID == "k1")
    }

    @Test func restrictedTokensRoundTrip() throws {
        let key = try #require(APIKey("mesa_abc_def"))
        let token = try AccessToken.mint(apiKey: key, scopes: [.read], repos: ["local/app", "local/\"odd\""], now: 10)
        let claims = try AccessToken.verify(token, signingKey: key.signingKey, now: 11)
        #expect(claims.repos == ["local/app", "local/\"odd\""])
        #expect(claims.scopes == [.read])
        #expect(claims.expiresAt == 10 + 3600)
    }

    @Test func refusalsAreTyped() throws {
        let key = try #require(APIKey("mesa_k1_secretsecret"))
        let other = try #require(APIKey("mesa_k1_othersecret"))
        let token = try AccessToken.mint(apiKey: key, lifetime: 60, now: 1000)
        #expect(throws: TokenError.badSignature) { try AccessToken.verify(token, signingKey: other.signingKey, now: 1001) }
        #expect(throws: TokenError.expired) { try AccessToken.verify(token, signingKey: key.signingKey, now: 1060) }
        #expect(throws: TokenError.lifetimeOutOfRange(86401)) { try AccessToken.mint(apiKey: key, lifetime: 86401) }
        let wrongAudience = AccessToken.sign(
            TokenClaims(scopes: [.read], repos: nil, issuer: "k1", audience: "other", issuedAt: 0, expiresAt: 99, tokenID: "x"),
            keyID: "k1", signingKey: key.signingKey)
        #expect(throws: TokenError.wrongAudience("other")) {
            try AccessToken.verify(wrongAudience, signingKey: key.signingKey, now: 1)
        }
        #expect(throws: TokenError.self) { try AccessToken.verify("a.b", signingKey: "k", now: 0) }
        #expect(throws: TokenError.self) { try AccessToken.verify("!!.??.xx", signingKey: "k", now: 0) }
        // A tampered payload fails the signature even when it decodes.
        var parts = token.split(separator: ".").map(String.init)
        parts[1] = Base64URL.encode(Array(#"{"scopes":["admin"],"repos":null,"iss":"k1","aud":"mesa-api","iat":0,"exp":9999999999,"jti":"x"}"#.utf8))
        #expect(throws: TokenError.badSignature) {
            try AccessToken.verify(parts.joined(separator: "."), signingKey: key.signingKey, now: 1001)
        }
    }

    @Test func keysAreRecognized() {
        #expect(APIKey("mesa_k1_s")?.embeddedKeyID == "k1")
        #expect(APIKey("mesa_opaque")?.embeddedKeyID == nil)
        // A Mesa-issued key whose base64url secret has underscores is not mistaken for ours.
        #expect(APIKey("mesa_Ab3_x9_Qz")?.embeddedKeyID == nil)
        #expect(APIKey("mesa_AB_cd")?.embeddedKeyID == nil)
        #expect(APIKey("token") == nil)
        #expect(APIKey("mesa_k1_s")?.description == "mesa_k1_****")
        #expect(AccessToken.looksLikeToken("a.b.c"))
        #expect(!AccessToken.looksLikeToken("mesa_k1_s"))
        #expect([Scope.write].allow(.read) && ![Scope.read].allow(.write))
    }

    @Test func base64URLRoundTrips() {
        for count in 0..<20 {
            let bytes = (0..<count).map { UInt8(($0 * 37 + 250) & 0xff) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.decode("a") == nil)
        #expect(Base64URL.decode("a+b=") == nil)
    }
}

@Suite struct WireFormatTests {
    @Test func timestampsUseAnExplicitOffset() {
        #expect(Timestamp.format(0) == "1970-01-01T00:00:00+00:00")
        #expect(Timestamp.format(1_700_000_000.25) == "2023-11-14T22:13:20.250000+00:00")
        #expect(Timestamp.parse("2023-11-14T22:13:20.250000+00:00") == 1_700_000_000.25)
        #expect(Timestamp.parse("2023-11-14T22:13:20Z") == 1_700_000_000)
        #expect(Timestamp.parse("2023-11-14T22:13:20.123456") == 1_700_000_000.123456)
        #expect(Timestamp.parse("2023-11-15T00:13:20+02:00") == 1_700_000_000)
        #expect(Timestamp.parse("2023-11-14") == nil)
        #expect(Timestamp.parse("2023-13-14T22:13:20Z") == nil)
        #expect(Timestamp.parse("2023-11-14T22:13:20+0") == nil)
        // Offsets: a moment shown in its own zone, and read back with it.
        #expect(Timestamp.format(1_767_241_800, offsetMinutes: 330) == "2026-01-01T10:00:00+05:30")
        #expect(Timestamp.format(1_767_241_800.5, offsetMinutes: -480) == "2025-12-31T20:30:00.500000-08:00")
        let zoned = Timestamp.parseKeepingOffset("2026-01-01T10:00:00+05:30")
        #expect(zoned?.seconds == 1_767_241_800 && zoned?.offsetMinutes == 330)
        #expect(Timestamp.parseKeepingOffset("2025-12-31T20:30:00-0800")?.offsetMinutes == -480)
        #expect(Timestamp.parseKeepingOffset("2026-01-01T04:30:00Z")?.offsetMinutes == 0)
        #expect(Timestamp.parse("2026-01-01T10:00:00+24:00") == nil)
        #expect(Timestamp.parse("2026-01-01T10:00:00+05:60") == nil)
    }

    @Test func errorBodiesOmitNullDetails() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let plain = String(decoding: try encoder.encode(ErrorBody(code: "NOT_FOUND", message: "no such repo")), as: UTF8.self)
        #expect(plain == #"{"error":{"code":"NOT_FOUND","message":"no such repo"}}"#)
        let detailed = ErrorBody(code: "MERGE_CONFLICT", message: "m", details: ["conflict_paths": .array([.string("a")])])
        let decoded = try JSONDecoder().decode(ErrorBody.self, from: try encoder.encode(detailed))
        #expect(decoded == detailed)
    }
}

@Suite struct SyncFrameTests {
    private func stream(_ frames: [SyncFrame]) -> [UInt8] {
        SyncFrameEncoder.magic + frames.flatMap(SyncFrameEncoder.encode)
    }

    private let record = SyncRecord(
        key: RecordKey(chunk: ChunkID(bytes: [UInt8](repeating: 9, count: 32))!), codec: 0, rawLength: 5,
        stored: Array("hello".utf8))

    @Test(arguments: [1, 3, 7, 1000])
    func framesDecodeWhateverTheSplit(split: Int) throws {
        let frames: [SyncFrame] = [
            .json(Array(#"{"a":1}"#.utf8)), .record(record), .record(record), .end(recordCount: 2),
        ]
        let bytes = stream(frames)
        var decoder = SyncFrameDecoder()
        var decoded: [SyncFrame] = []
        var index = 0
        while index < bytes.count {
            decoder.feed(bytes[index..<min(bytes.count, index + split)])
            index += split
            while let frame = try decoder.next() { decoded.append(frame) }
        }
        try decoder.finish()
        #expect(decoded == frames)
    }

    @Test func aReceivedRecordCarriesItsVerifiedChecksumUntilItsBytesChange() throws {
        var decoder = SyncFrameDecoder()
        decoder.feed(stream([.record(record)]))
        guard case .record(var received)? = try decoder.next() else {
            Issue.record("no record frame")
            return
        }
        #expect(received.checksum == CRC32C.checksum(record.stored))
        #expect(received == record)  // the checksum is a cache, not part of the record
        // A sender that knows the checksum sends it as is; a wrong one is caught by the receiver.
        var lying = record
        lying.checksum = 0xDEAD_BEEF
        var check = SyncFrameDecoder()
        check.feed(stream([.record(lying)]))
        #expect(throws: SyncStreamError.checksumMismatch(record.key)) { try check.next() }
        received.stored[0] ^= 1
        #expect(received.checksum == nil)
    }

    @Test func corruptTruncatedAndOversizedStreamsAreRefused() throws {
        var bytes = stream([.record(record), .end(recordCount: 1)])
        bytes[8 + 16 + 32] ^= 0xff  // a payload byte
        var decoder = SyncFrameDecoder()
        decoder.feed(bytes)
        #expect(throws: SyncStreamError.checksumMismatch(record.key)) { try decoder.next() }

        var truncated = SyncFrameDecoder()
        truncated.feed(stream([.record(record)]))
        _ = try truncated.next()
        #expect(throws: SyncStreamError.truncated) { try truncated.finish() }

        var miscounted = SyncFrameDecoder()
        miscounted.feed(stream([.record(record), .end(recordCount: 2)]))
        _ = try miscounted.next()
        #expect(throws: SyncStreamError.countMismatch(expected: 2, received: 1)) { try miscounted.next() }

        var small = SyncFrameDecoder(limits: SyncLimits(maxRecordBytes: 4, maxJSONBytes: 4, maxPushBytes: 10, maxKeysPerRequest: 1))
        small.feed(stream([.record(record)]))
        #expect(throws: SyncStreamError.self) { try small.next() }

        var wrongMagic = SyncFrameDecoder()
        wrongMagic.feed(Array("GET / HTTP/1.1\r\n".utf8))
        #expect(throws: SyncStreamError.badMagic) { try wrongMagic.next() }

        var errors = SyncFrameDecoder()
        errors.feed(stream([.error(ErrorBody(code: "INTERNAL", message: "disk failed"))]))
        #expect(try errors.next() == .error(ErrorBody(code: "INTERNAL", message: "disk failed")))
    }
}
