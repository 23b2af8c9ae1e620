public import MesaCore

// The sync protocol's binary stream (docs/Protocol.md). A stream starts with the 8-byte magic "MESASYN1" and is a
// sequence of frames, little-endian:
//
//   record  u8 type=1, u8 kind (RecordKind), u8 codec (0 raw, 1 zstd), u8 id length, u32 raw length,
//           u32 stored length, u32 CRC-32C of the stored bytes, id, stored bytes
//   json    u8 type=2, u32 length, UTF-8 JSON (a header, a transaction or a result)
//   end     u8 type=3, u32 number of record frames sent (the receiver checks it)
//   error   u8 type=4, u32 length, an ErrorBody as JSON (the sender failed after streaming began)
//
// A stream that stops before its end frame is truncated, and the receiver treats it as an error, never as a
// shorter answer. Payloads are sent as stored (the server never recompresses); the receiver verifies every id after
// decompressing. Frame sizes are bounded by `SyncLimits`, advertised by the capabilities call.

/// One frame of a sync stream.
public enum SyncFrame: Sendable, Equatable {
    /// A chunk, manifest or git object, as stored.
    case record(SyncRecord)
    /// A JSON document.
    case json([UInt8])
    /// The end of the stream, with the number of record frames it carried.
    case end(recordCount: UInt32)
    /// The sender failed after streaming began.
    case error(ErrorBody)
}

/// A record in transit: key, codec, lengths and the stored bytes.
public struct SyncRecord: Sendable, Equatable {
    /// The record's kind and id.
    public var key: RecordKey
    /// `0` raw, `1` zstd (the store's codec numbers).
    public var codec: UInt8
    /// The uncompressed length.
    public var rawLength: UInt32
    /// The stored bytes (compressed when `codec` is 1).
    public var stored: [UInt8] { didSet { checksum = nil } }
    /// The CRC-32C of ``stored`` when it is already known (verified on receipt, or read from a store that verified
    /// it), so neither side computes it twice; `nil` to compute. Cleared whenever `stored` changes.
    public var checksum: UInt32?

    /// Creates a record.
    public init(key: RecordKey, codec: UInt8, rawLength: UInt32, stored: [UInt8], checksum: UInt32? = nil) {
        self.key = key
        self.codec = codec
        self.rawLength = rawLength
        self.stored = stored
        self.checksum = checksum
    }

    /// Records are equal when their contents are; a known checksum is only a cache.
    public static func == (lhs: SyncRecord, rhs: SyncRecord) -> Bool {
        lhs.key == rhs.key && lhs.codec == rhs.codec && lhs.rawLength == rhs.rawLength && lhs.stored == rhs.stored
    }
}

/// Bounds both sides enforce and the capabilities call advertises.
public struct SyncLimits: Sendable, Equatable, Codable {
    /// The largest record frame's stored bytes.
    public var maxRecordBytes: Int
    /// The largest JSON frame.
    public var maxJSONBytes: Int
    /// The largest push request body.
    public var maxPushBytes: Int
    /// The most keys in one have/objects query.
    public var maxKeysPerRequest: Int

    enum CodingKeys: String, CodingKey {
        case maxRecordBytes = "max_record_bytes"
        case maxJSONBytes = "max_json_bytes"
        case maxPushBytes = "max_push_bytes"
        case maxKeysPerRequest = "max_keys_per_request"
    }

    /// Creates limits.
    public init(maxRecordBytes: Int, maxJSONBytes: Int, maxPushBytes: Int, maxKeysPerRequest: Int) {
        self.maxRecordBytes = maxRecordBytes
        self.maxJSONBytes = maxJSONBytes
        self.maxPushBytes = maxPushBytes
        self.maxKeysPerRequest = maxKeysPerRequest
    }

    /// The server's defaults: 64 MiB records (a large tree), 16 MiB JSON, 2 GiB pushes, 100,000 keys.
    public static let standard = SyncLimits(
        maxRecordBytes: 64 << 20, maxJSONBytes: 16 << 20, maxPushBytes: 2 << 30, maxKeysPerRequest: 100_000)
}

/// Why a sync stream could not be decoded.
public enum SyncStreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The stream does not start with the protocol magic.
    case badMagic
    /// An unknown frame type or malformed frame.
    case malformed(String)
    /// A frame larger than the limits.
    case tooLarge(String)
    /// The payload does not match its checksum.
    case checksumMismatch(RecordKey)
    /// The stream ended before its end frame.
    case truncated
    /// The end frame's count differs from the records received.
    case countMismatch(expected: UInt32, received: UInt32)

    public var description: String {
        switch self {
        case .badMagic: "not a mesa sync stream (bad magic)"
        case .malformed(let reason): "malformed sync frame: \(reason)"
        case .tooLarge(let what): "sync frame too large: \(what)"
        case .checksumMismatch(let key): "record \(key) failed its checksum in transit"
        case .truncated: "the sync stream ended before its end frame"
        case .countMismatch(let expected, let received):
            "the sync stream announced \(expected) records but carried \(received)"
        }
    }
}

/// Writes sync frames.
public enum SyncFrameEncoder {
    /// The stream magic.
    public static let magic: [UInt8] = Array("MESASYN1".utf8)

    /// The bytes of one frame.
    public static func encode(_ frame: SyncFrame) -> [UInt8] {
        var writer = ByteWriter()
        switch frame {
        case .record(let record):
            let id = record.key.idBytes
            writer = ByteWriter(capacity: 20 + id.count + record.stored.count)
            writer.append(UInt8(1))
            writer.append(record.key.kind.rawValue)
            writer.append(record.codec)
            writer.append(UInt8(id.count))
            writer.append(record.rawLength)
            writer.append(UInt32(record.stored.count))
            writer.append(record.checksum ?? CRC32C.checksum(record.stored))
            writer.append(bytes: id)
            writer.append(bytes: record.stored)
        case .json(let bytes):
            writer.append(UInt8(2))
            writer.append(UInt32(bytes.count))
            writer.append(bytes: bytes)
        case .end(let count):
            writer.append(UInt8(3))
            writer.append(count)
        case .error(let body):
            let bytes = body.jsonBytes
            writer.append(UInt8(4))
            writer.append(UInt32(bytes.count))
            writer.append(bytes: bytes)
        }
        return writer.bytes
    }
}

/// Decodes a sync stream incrementally: feed bytes as they arrive, take frames as they complete.
public struct SyncFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    private var sawMagic = false
    private var records: UInt32 = 0
    private let limits: SyncLimits
    /// Whether the end frame arrived.
    public private(set) var finished = false

    /// Creates a decoder enforcing `limits`.
    public init(limits: SyncLimits = .standard) { self.limits = limits }

    /// Adds bytes received from the network.
    public mutating func feed(_ bytes: some Collection<UInt8>) {
        if start > 0, start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 1 << 20 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete frame, or `nil` when more bytes are needed.
    /// - Throws: ``SyncStreamError`` for a malformed, oversized or corrupt frame.
    public mutating func next() throws(SyncStreamError) -> SyncFrame? {
        if !sawMagic {
            guard buffer.count - start >= 8 else { return nil }
            guard Array(buffer[start..<start + 8]) == SyncFrameEncoder.magic else { throw .badMagic }
            start += 8
            sawMagic = true
        }
        guard !finished else {
            if buffer.count > start { throw .malformed("bytes after the end frame") }
            return nil
        }
        let available = buffer.count - start
        guard available >= 5 else { return nil }
        let type = buffer[start]
        switch type {
        case 1:
            guard available >= 20 else { return nil }
            let kindValue = buffer[start + 1]
            let codec = buffer[start + 2]
            let idLength = Int(buffer[start + 3])
            let rawLength = word(at: start + 4)
            let storedLength = Int(word(at: start + 8))
            let checksum = word(at: start + 12)
            guard let kind = RecordKind(rawValue: kindValue), kind.idLength == idLength else {
                throw .malformed("record kind \(kindValue) with a \(idLength)-byte id")
            }
            guard codec <= 1 else { throw .malformed("unknown codec \(codec)") }
            guard storedLength <= limits.maxRecordBytes, Int(rawLength) <= limits.maxRecordBytes else {
                throw .tooLarge("record of \(storedLength) stored / \(rawLength) raw bytes")
            }
            let total = 16 + idLength + storedLength
            guard available >= total else { return nil }
            let idStart = start + 16
            guard let key = RecordKey(kind: kind, idBytes: buffer[idStart..<idStart + idLength]) else {
                throw .malformed("bad id")
            }
            let stored = Array(buffer[(idStart + idLength)..<(start + total)])
            guard CRC32C.checksum(stored) == checksum else { throw .checksumMismatch(key) }
            start += total
            records += 1
            return .record(SyncRecord(key: key, codec: codec, rawLength: rawLength, stored: stored, checksum: checksum))
        case 2, 4:
            let length = Int(word(at: start + 1))
            guard length <= limits.maxJSONBytes else { throw .tooLarge("JSON frame of \(length) bytes") }
            guard available >= 5 + length else { return nil }
            let bytes = Array(buffer[(start + 5)..<(start + 5 + length)])
            start += 5 + length
            if type == 2 { return .json(bytes) }
            guard let body = ErrorBody(jsonBytes: bytes) else { throw .malformed("error frame is not an error body") }
            return .error(body)
        case 3:
            let count = word(at: start + 1)
            start += 5
            guard count == records else { throw .countMismatch(expected: count, received: records) }
            finished = true
            return .end(recordCount: count)
        default:
            throw .malformed("unknown frame type \(type)")
        }
    }

    /// Checks that the stream ended properly once the transport reports its end: an end frame, and nothing after it.
    public func finish() throws(SyncStreamError) {
        guard finished else { throw .truncated }
        if buffer.count > start { throw .malformed("bytes after the end frame") }
    }

    private func word(at offset: Int) -> UInt32 {
        UInt32(buffer[offset]) | UInt32(buffer[offset + 1]) << 8 | UInt32(buffer[offset + 2]) << 16
            | UInt32(buffer[offset + 3]) << 24
    }
}
