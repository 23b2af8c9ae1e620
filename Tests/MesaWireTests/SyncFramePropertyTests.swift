import MesaCore
import MesaWire
import PropertyBased
import Testing

// Property tests of the sync stream's decoder (docs/Protocol.md, "Frame stream"). Streams arrive from the network in
// pieces of any size, so every property feeds its bytes in generated splits: the decoder must give the same frames
// and the same refusal whatever the pieces, account for every byte it accepts, and never trap.

/// Generators of frames, streams and the pieces a transport cuts them into.
private enum FrameGen {
    /// A record key of any kind, with an id of that kind's length.
    static let key = zip(Gen<RecordKind>.case, Gen.uint8().array(of: ChunkID.byteCount)).map { kind, bytes in
        RecordKey(kind: kind, idBytes: bytes.prefix(kind.idLength))!
    }

    /// A record with random stored bytes and codec 0 or 1 (the decoder checks the checksum, not the content).
    static let record = zip(key, Gen.uint8().array(of: 0...160), Gen.uint8(in: 0...1), Gen.uint32(in: 0...(1 << 20)))
        .map { key, stored, codec, rawLength in
            SyncRecord(key: key, codec: codec, rawLength: rawLength, stored: stored)
        }

    /// Characters JSON has to escape, non-ASCII and zero-width ones.
    static let characters = Array("aZ09 _-./\\\"\n\t\u{0}\u{7f}é€😀\u{200C}{}[]:,") as [Character]
    /// Text of those characters.
    static let text = Gen<Character?>.element(of: characters).map { $0! }.string(of: 0...12)

    /// An error frame's body.
    static let errorBody = zip(text, text).map { code, message in ErrorBody(code: code, message: message) }

    /// One frame other than the end frame: mostly records, some JSON (any bytes: the decoder does not parse them),
    /// a few error frames.
    static let frame = zip(Gen.int(in: 0...9), record, Gen.uint8().array(of: 0...48), errorBody)
        .map { choice, record, json, error -> SyncFrame in
            switch choice {
            case 0...5: .record(record)
            case 6...8: .json(json)
            default: .error(error)
            }
        }

    /// The frames of a stream, before its end frame.
    static let frames = frame.array(of: 0...12)

    /// Piece sizes, used in turn until the bytes run out.
    static let splits = Gen.int(in: 1...97).array(of: 1...8)
}

/// What feeding a stream to a decoder in pieces produced.
private struct Outcome: Equatable {
    /// The frames decoded before the stream ended or was refused.
    var frames: [SyncFrame] = []
    /// The refusal of `next()`, if any.
    var refusal: SyncStreamError?
    /// The refusal of `finish()` once every byte was fed without a refusal from `next()`.
    var finishRefusal: SyncStreamError?
}

/// Feeds `bytes` in pieces of the sizes in `splits` (in turn), taking every complete frame after each piece.
private func decode(_ bytes: [UInt8], splits: [Int], limits: SyncLimits = .standard) -> Outcome {
    var decoder = SyncFrameDecoder(limits: limits)
    var outcome = Outcome()
    var offset = 0
    var piece = 0
    repeat {
        let end = min(bytes.count, offset + splits[piece % splits.count])
        piece += 1
        decoder.feed(bytes[offset..<end])
        offset = end
        do {
            while let frame = try decoder.next() { outcome.frames.append(frame) }
        } catch {
            outcome.refusal = error
            return outcome
        }
    } while offset < bytes.count
    do {
        try decoder.finish()
    } catch {
        outcome.finishRefusal = error
    }
    return outcome
}

/// The bytes of a whole stream: the magic, `frames`, and an end frame counting their records (plus `countOffset`).
private func encode(_ frames: [SyncFrame], countOffset: UInt32 = 0) -> [UInt8] {
    SyncFrameEncoder.magic + frames.flatMap(SyncFrameEncoder.encode)
        + SyncFrameEncoder.encode(.end(recordCount: recordCount(frames) &+ countOffset))
}

private func recordCount(_ frames: [SyncFrame]) -> UInt32 {
    UInt32(frames.count(where: { if case .record = $0 { true } else { false } }))
}

private func isMalformed(_ error: SyncStreamError?) -> Bool {
    if case .malformed = error { true } else { false }
}

@Suite struct SyncFramePropertyTests {
    @Test func validStreamsDecodeToTheirFramesWhateverTheSplits() async {
        await propertyCheck(count: 300, input: FrameGen.frames, FrameGen.splits) { frames, splits in
            let outcome = decode(encode(frames), splits: splits)
            #expect(outcome == Outcome(frames: frames + [.end(recordCount: recordCount(frames))]))
            // The decoder keeps the checksum it verified, so a receiver does not compute it again.
            for case .record(let record) in outcome.frames {
                #expect(record.checksum == CRC32C.checksum(record.stored))
            }
        }
    }

    @Test func randomBytesAreRefusedOrDecodedExactly() async {
        let bytes = zip(Gen.bool, Gen.uint8().array(of: 0...200)).map { withMagic, bytes in
            withMagic ? SyncFrameEncoder.magic + bytes : bytes
        }
        await propertyCheck(count: 500, input: bytes, FrameGen.splits) { bytes, splits in
            checkAcceptedExactly(bytes, splits: splits)
            if bytes.count >= 8, Array(bytes.prefix(8)) != SyncFrameEncoder.magic {
                #expect(decode(bytes, splits: splits) == Outcome(refusal: .badMagic))
            }
        }
    }

    @Test func mutatedStreamsAreRefusedOrDecodedExactly() async {
        // A mutation flips, inserts or deletes one byte, or cuts the stream, at a position taken modulo its length.
        let mutations = zip(Gen.int(in: 0...3), Gen.int(in: 0...Int.max), Gen.uint8()).array(of: 1...3)
        await propertyCheck(count: 500, input: FrameGen.frames, mutations, FrameGen.splits) { frames, edits, splits in
            var bytes = encode(frames)
            for (kind, position, byte) in edits where !bytes.isEmpty {
                let index = position % bytes.count
                switch kind {
                case 0: bytes[index] ^= byte | 1
                case 1: bytes.insert(byte, at: index)
                case 2: bytes.remove(at: index)
                default: bytes.removeLast(bytes.count - index)
                }
            }
            checkAcceptedExactly(bytes, splits: splits)
        }
    }

    @Test func bytesAfterTheEndFrameAreRefused() async {
        let trailing = Gen.uint8().array(of: 1...40)
        await propertyCheck(count: 300, input: FrameGen.frames, trailing, FrameGen.splits) { frames, trailing, splits in
            let outcome = decode(encode(frames) + trailing, splits: splits)
            #expect(outcome.frames == frames + [.end(recordCount: recordCount(frames))])
            // Depending on the pieces, `next()` sees the extra bytes, or they arrive with nothing after them.
            #expect(isMalformed(outcome.refusal ?? outcome.finishRefusal), "\(outcome)")
        }
    }

    @Test func aStreamCutBeforeItsEndFrameIsTruncated() async {
        let cut = Gen.int(in: 0...Int.max)
        await propertyCheck(count: 300, input: FrameGen.frames, cut, FrameGen.splits) { frames, cut, splits in
            let whole = encode(frames)
            let outcome = decode(Array(whole.prefix(cut % whole.count)), splits: splits)
            #expect(outcome.refusal == nil)
            #expect(outcome.finishRefusal == .truncated)
            #expect(outcome.frames.count <= frames.count)
            #expect(Array(frames.prefix(outcome.frames.count)) == outcome.frames)
        }
    }

    @Test func anEndFrameWithTheWrongCountIsRefused() async {
        let offset = Gen.uint32(in: 1...UInt32.max)
        await propertyCheck(count: 200, input: FrameGen.frames, offset, FrameGen.splits) { frames, offset, splits in
            let outcome = decode(encode(frames, countOffset: offset), splits: splits)
            #expect(outcome.frames == frames)
            let count = recordCount(frames)
            #expect(outcome.refusal == .countMismatch(expected: count &+ offset, received: count))
        }
    }

    @Test func recordHeadersWithAnUnknownKindCodecOrIdLengthAreMalformed() async {
        // Byte 1 of a record frame is the kind, byte 2 the codec, byte 3 the id length.
        let header = zip(Gen.int(in: 1...3), Gen.uint8()).filter { field, value in
            switch field {
            case 1: RecordKind(rawValue: value) == nil
            case 2: value > 1
            default: value != 20 && value != 32
            }
        }
        await propertyCheck(count: 300, input: FrameGen.record, header, FrameGen.splits) { record, header, splits in
            var bytes = encode([.record(record)])
            bytes[SyncFrameEncoder.magic.count + header.0] = header.1
            let outcome = decode(bytes, splits: splits)
            #expect(outcome.frames.isEmpty)
            #expect(isMalformed(outcome.refusal), "\(outcome)")
        }
    }

    @Test func aCorruptedStoredByteFailsTheChecksum() async {
        // A record, a position in its stored bytes, and the bits to flip there.
        let corruption = zip(
            FrameGen.record.filter { !$0.stored.isEmpty },
            Gen.int(in: 0...Int.max),
            Gen.uint8(in: 1...255)
        )
        await propertyCheck(count: 200, input: corruption, FrameGen.splits) { corruption, splits in
            let (record, position, flip) = corruption
            var bytes = encode([.record(record)])
            let storedStart = SyncFrameEncoder.magic.count + 16 + record.key.kind.idLength
            bytes[storedStart + position % record.stored.count] ^= flip
            #expect(decode(bytes, splits: splits) == Outcome(refusal: .checksumMismatch(record.key)))
        }
    }

    @Test func framesOverTheLimitsAreRefusedBeforeTheirBytesArrive() async {
        let limits = SyncLimits(maxRecordBytes: 64, maxJSONBytes: 32, maxPushBytes: 1 << 20, maxKeysPerRequest: 10)
        let record = zip(FrameGen.key, Gen.uint8().array(of: 0...100), Gen.uint32(in: 0...100))
            .map { key, stored, raw in
                SyncFrame.record(SyncRecord(key: key, codec: 0, rawLength: raw, stored: stored))
            }
        let frame = zip(Gen.bool, record, Gen.uint8().array(of: 0...50)).map { isRecord, record, json in
            isRecord ? record : SyncFrame.json(json)
        }
        await propertyCheck(count: 300, input: frame.array(of: 1...6), FrameGen.splits) { frames, splits in
            let tooLarge = frames.firstIndex { frame in
                switch frame {
                case .record(let record): record.stored.count > 64 || record.rawLength > 64
                case .json(let bytes): bytes.count > 32
                case .end, .error: false
                }
            }
            // The refusal comes from the frame header: only the header of the oversized frame needs to arrive.
            let bytes = encode(frames)
            let outcome = decode(bytes, splits: splits, limits: limits)
            if let tooLarge {
                #expect(outcome.frames == Array(frames[..<tooLarge]))
                guard case .tooLarge = outcome.refusal else {
                    Issue.record("frame \(tooLarge) is over the limits but was not refused: \(outcome)")
                    return
                }
                let headerEnd =
                    SyncFrameEncoder.magic.count
                    + frames[..<tooLarge].map { SyncFrameEncoder.encode($0).count }.reduce(0, +) + 20
                #expect(
                    decode(Array(bytes.prefix(headerEnd)), splits: splits, limits: limits).refusal == outcome.refusal
                )
            } else {
                #expect(outcome == Outcome(frames: frames + [.end(recordCount: recordCount(frames))]))
            }
        }
    }
}

/// Whatever the decoder does with `bytes`, it does for any pieces; what it accepts whole, it accepts exactly (the
/// frames it returned encode back to the same bytes); and a stream it neither refused nor finished was cut short.
private func checkAcceptedExactly(_ bytes: [UInt8], splits: [Int], sourceLocation: SourceLocation = #_sourceLocation) {
    let outcome = decode(bytes, splits: splits)
    #expect(outcome == decode(bytes, splits: [max(1, bytes.count)]), "split \(splits)", sourceLocation: sourceLocation)
    switch (outcome.refusal, outcome.finishRefusal) {
    case (nil, nil):
        #expect(outcome.frames.last == .end(recordCount: recordCount(outcome.frames)), sourceLocation: sourceLocation)
        // Error frames are re-encoded from the parsed body, which need not keep the sender's spelling of the JSON.
        let hasErrorFrame = outcome.frames.contains { if case .error = $0 { true } else { false } }
        if !hasErrorFrame {
            #expect(
                SyncFrameEncoder.magic + outcome.frames.flatMap(SyncFrameEncoder.encode) == bytes,
                sourceLocation: sourceLocation
            )
        }
    case (nil, let finish?):
        #expect(finish == .truncated, sourceLocation: sourceLocation)
        #expect(!outcome.frames.contains { if case .end = $0 { true } else { false } }, sourceLocation: sourceLocation)
    case (_?, _):
        break
    }
}
