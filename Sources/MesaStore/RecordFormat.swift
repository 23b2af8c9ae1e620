package import MesaCore

// The on-disk record (DESIGN.md section 3). Little-endian, 24 bytes of header, then the id, then the payload:
//
//   0  u32  magic 0x4345524D ("MREC")     8  u32  raw length       16  u32  CRC-32C of the payload (stored bytes)
//   4  u8   format version (1)           12  u32  stored length    20  u32  CRC-32C of bytes 0..<20 and the id
//   5  u8   kind (RecordKind)
//   6  u8   codec (Codec)
//   7  u8   id length (20 or 32)
//
// The header checksum lets a scan tell a record boundary from garbage; the payload checksum means a torn or
// corrupted record is detected on every read and never served.

/// How a record's payload is stored. The raw value is written to disk.
package enum Codec: UInt8, Sendable {
    /// The payload is the raw bytes (compression saved under 5%).
    case raw = 0
    /// The payload is one zstd frame.
    case zstd = 1
}

/// The fixed-size part of a record, as it sits in a segment.
package struct RecordHeader: Equatable, Sendable {
    /// The record magic, "MREC" read as a little-endian integer.
    package static let magic: UInt32 = 0x4345_524D
    /// The record format version.
    package static let version: UInt8 = 1
    /// Bytes before the id.
    package static let fixedSize = 24

    package var key: RecordKey
    package var codec: Codec
    package var rawLength: UInt32
    package var storedLength: UInt32
    package var payloadChecksum: UInt32

    /// Header plus id: where the payload starts.
    package var size: Int { Self.fixedSize + key.kind.idLength }
    /// Header, id and payload: the record's footprint in the segment.
    package var recordSize: Int { size + Int(storedLength) }

    /// The header and id as they are written.
    package func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: size)
        writer.append(Self.magic)
        writer.append(Self.version)
        writer.append(key.kind.rawValue)
        writer.append(codec.rawValue)
        writer.append(UInt8(key.kind.idLength))
        writer.append(rawLength)
        writer.append(storedLength)
        writer.append(payloadChecksum)
        let id = key.idBytes
        var headerCRC = CRC32C.checksum(writer.bytes)
        headerCRC = CRC32C.checksum(id, continuing: headerCRC)
        writer.append(headerCRC)
        writer.append(bytes: id)
        return writer.bytes
    }

    /// Why a header could not be decoded.
    package enum DecodeFailure: Error, Equatable {
        /// Fewer bytes than a header needs.
        case truncated
        /// Not a record header, or a header whose checksum does not match.
        case invalid(String)
    }

    /// Decodes a header from the start of `bytes` (which may extend past it).
    package init(decoding bytes: UnsafeRawBufferPointer) throws(DecodeFailure) {
        var reader = ByteReader(bytes)
        guard let magic = reader.read(UInt32.self), let version = reader.read(UInt8.self),
            let kindValue = reader.read(UInt8.self), let codecValue = reader.read(UInt8.self),
            let idLength = reader.read(UInt8.self), let rawLength = reader.read(UInt32.self),
            let storedLength = reader.read(UInt32.self), let payloadChecksum = reader.read(UInt32.self),
            let headerChecksum = reader.read(UInt32.self)
        else { throw .truncated }
        guard magic == Self.magic else { throw .invalid("bad record magic") }
        guard version == Self.version else { throw .invalid("unknown record version \(version)") }
        guard let kind = RecordKind(rawValue: kindValue), Int(idLength) == kind.idLength else {
            throw .invalid("unknown record kind \(kindValue)")
        }
        guard let codec = Codec(rawValue: codecValue) else { throw .invalid("unknown codec \(codecValue)") }
        guard let id = reader.read(count: Int(idLength)) else { throw .truncated }
        var expected = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<20]))
        expected = CRC32C.checksum(id, continuing: expected)
        guard expected == headerChecksum else { throw .invalid("header checksum mismatch") }
        guard let key = RecordKey(kind: kind, idBytes: id) else { throw .invalid("bad id") }
        self.key = key
        self.codec = codec
        self.rawLength = rawLength
        self.storedLength = storedLength
        self.payloadChecksum = payloadChecksum
    }

    /// Builds a header (the payload checksum is computed by the caller).
    package init(key: RecordKey, codec: Codec, rawLength: UInt32, storedLength: UInt32, payloadChecksum: UInt32) {
        self.key = key
        self.codec = codec
        self.rawLength = rawLength
        self.storedLength = storedLength
        self.payloadChecksum = payloadChecksum
    }
}

/// Where a record lives and how it is stored: an index entry.
package struct RecordLocation: Equatable, Sendable {
    /// The segment number.
    package var segment: UInt32
    /// The offset of the record's header in the segment.
    package var offset: Int64
    package var codec: Codec
    package var rawLength: UInt32
    package var storedLength: UInt32

    /// The record's footprint in its segment, for a key of `kind`.
    package func recordSize(kind: RecordKind) -> Int64 {
        Int64(RecordHeader.fixedSize + kind.idLength) + Int64(storedLength)
    }
}
