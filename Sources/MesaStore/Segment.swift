package import MesaCore

// Segments are append-only files of records (see RecordFormat.swift), sealed at about the configured size:
//
//   segments/00000001.seg   16-byte header: "MESASEG" + NUL, u32 format version, u32 segment number; records follow
//   segments/00000001.idx   the persistent index of a sealed segment (SegmentIndex below)
//
// The newest segment, the one without an index file, is the active one: new records are appended to it, and on open
// it is scanned (bounded by the segment size), its torn tail cut off. Sealed segments are never scanned on open:
// their index file says which of their records are live, so opening costs O(number of records), not O(bytes).

/// A segment file and its number.
package final class Segment: Sendable {
    /// The magic at the start of every segment file.
    package static let magic: [UInt8] = Array("MESASEG".utf8) + [0]
    /// The segment file format version.
    package static let version: UInt32 = 1
    /// Bytes before the first record.
    package static let headerSize: Int64 = 16

    /// The segment's number; higher numbers are newer.
    package let number: UInt32
    /// The open file.
    package let file: StoreFile

    private init(number: UInt32, file: StoreFile) {
        self.number = number
        self.file = file
    }

    /// The file name of segment `number`, without a directory.
    package static func fileName(_ number: UInt32, suffix: String) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 8 - digits.count)) + digits + "." + suffix
    }

    /// Creates a new, empty segment file and makes its directory entry durable.
    package static func create(number: UInt32, directory: String) throws(StoreError) -> Segment {
        let path = directory + "/" + fileName(number, suffix: "seg")
        let file = try StoreFile(path: path, create: true)
        try file.truncate(to: 0)
        var writer = ByteWriter(capacity: Int(headerSize))
        writer.append(bytes: magic)
        writer.append(version)
        writer.append(number)
        try file.write(writer.bytes, at: 0)
        try file.sync()
        try StoreDirectory.sync(directory)
        return Segment(number: number, file: file)
    }

    /// Opens an existing segment file and checks its header.
    package static func open(number: UInt32, directory: String) throws(StoreError) -> Segment {
        let path = directory + "/" + fileName(number, suffix: "seg")
        let file = try StoreFile(path: path)
        guard try file.size() >= headerSize else { throw .badFormat(path: path, reason: "segment header is missing") }
        let header = try file.read(count: Int(headerSize), at: 0)
        let reader = header.withUnsafeBytes { raw -> (UInt32?, UInt32?) in
            var reader = ByteReader(raw)
            _ = reader.read(count: 8)
            return (reader.read(UInt32.self), reader.read(UInt32.self))
        }
        guard Array(header[0..<8]) == magic else { throw .badFormat(path: path, reason: "not a mesa segment") }
        guard reader.0 == version else {
            throw .badFormat(path: path, reason: "segment format version \(reader.0 ?? 0) is not supported")
        }
        guard reader.1 == number else { throw .badFormat(path: path, reason: "segment number does not match name") }
        return Segment(number: number, file: file)
    }

    /// What a scan of a segment found.
    package struct ScanResult {
        /// Every record with a valid header, in file order. Records whose payload fails its checksum are included
        /// (reads report them as corrupt) unless they are the torn tail.
        package var records: [(key: RecordKey, location: RecordLocation)] = []
        /// Where the valid records end; bytes after it are a torn tail.
        package var validEnd: Int64 = Segment.headerSize
        /// Regions whose headers were unreadable although valid records follow them.
        package var corruptRegions: [Range<Int64>] = []
        /// Records whose payload checksum failed.
        package var corruptRecords: [RecordKey] = []
    }

    /// Reads every record header of the segment and checks every payload checksum.
    ///
    /// A record that extends past the end of the file, or the last record when its payload checksum fails, is a
    /// torn tail (a crash during an append that was never synced) and ends the scan. An unreadable header followed
    /// later by a valid one is corruption in the middle: the scan skips to the next valid header and reports it.
    package func scan() throws(StoreError) -> ScanResult {
        let size = try file.size()
        var result = ScanResult()
        var offset = Segment.headerSize
        let maxHeader = RecordHeader.fixedSize + ChunkID.byteCount
        while offset < size {
            let available = Int(min(Int64(maxHeader), size - offset))
            let headerBytes = try file.read(count: available, at: offset)
            let decoded: RecordHeader
            do {
                decoded = try headerBytes.withUnsafeBytes { (raw) throws(RecordHeader.DecodeFailure) in
                    try RecordHeader(decoding: raw)
                }
            } catch {
                if let next = try nextValidHeader(after: offset, size: size) {
                    result.corruptRegions.append(offset..<next)
                    offset = next
                    continue
                }
                break
            }
            let end = offset + Int64(decoded.recordSize)
            if end > size { break }
            let payload = try file.read(count: Int(decoded.storedLength), at: offset + Int64(decoded.size))
            let checksumOK = PayloadChecksum.of(payload) == decoded.payloadChecksum
            if !checksumOK {
                if end == size { break }
                result.corruptRecords.append(decoded.key)
            }
            let location = RecordLocation(
                segment: number, offset: offset, codec: decoded.codec, rawLength: decoded.rawLength,
                storedLength: decoded.storedLength)
            result.records.append((decoded.key, location))
            offset = end
            result.validEnd = end
        }
        return result
    }

    /// The offset of the next decodable record header after `offset`, if any.
    private func nextValidHeader(after offset: Int64, size: Int64) throws(StoreError) -> Int64? {
        guard size - offset > 1 else { return nil }
        let rest = try file.read(count: Int(size - offset - 1), at: offset + 1)
        let magic = withUnsafeBytes(of: RecordHeader.magic.littleEndian) { Array($0) }
        return rest.withUnsafeBytes { raw -> Int64? in
            var index = 0
            while index + RecordHeader.fixedSize <= raw.count {
                if raw[index] == magic[0], raw[index + 1] == magic[1], raw[index + 2] == magic[2],
                    raw[index + 3] == magic[3],
                    (try? RecordHeader(decoding: UnsafeRawBufferPointer(rebasing: raw[index...]))) != nil
                {
                    return offset + 1 + Int64(index)
                }
                index += 1
            }
            return nil
        }
    }
}

/// The persistent index of a sealed segment: its live records and where they are.
///
/// Format, little-endian: "MESAIDX" + NUL, u32 version, u32 segment number, u64 entry count, then per entry u8
/// kind, u8 codec, u16 zero, u32 raw length, u32 stored length, u64 offset, 32 id bytes (20-byte ids padded with
/// zeros), and finally a CRC-32C of everything before it. Written atomically (temporary file and rename).
package enum SegmentIndex {
    /// The magic at the start of every index file.
    package static let magic: [UInt8] = Array("MESAIDX".utf8) + [0]
    /// The index file format version.
    package static let version: UInt32 = 1

    /// Writes the index of `segment` listing `entries`.
    package static func write(
        _ entries: [(key: RecordKey, location: RecordLocation)],
        segment: UInt32,
        directory: String
    ) throws(StoreError) {
        var writer = ByteWriter(capacity: 24 + entries.count * 52 + 4)
        writer.append(bytes: magic)
        writer.append(version)
        writer.append(segment)
        writer.append(UInt64(entries.count))
        for (key, location) in entries {
            writer.append(key.kind.rawValue)
            writer.append(location.codec.rawValue)
            writer.append(UInt16(0))
            writer.append(location.rawLength)
            writer.append(location.storedLength)
            writer.append(UInt64(location.offset))
            let id = key.idBytes
            writer.append(bytes: id)
            writer.append(bytes: [UInt8](repeating: 0, count: 32 - id.count))
        }
        writer.append(CRC32C.checksum(writer.bytes))
        let path = directory + "/" + Segment.fileName(segment, suffix: "idx")
        try StoreDirectory.writeAtomically(writer.bytes, to: path, directory: directory)
    }

    /// Reads the index of `segment`.
    /// - Throws: ``StoreError/badFormat(path:reason:)`` when the file is damaged; the caller then rescans.
    package static func read(segment: UInt32, directory: String) throws(StoreError) -> [(
        key: RecordKey, location: RecordLocation
    )] {
        let path = directory + "/" + Segment.fileName(segment, suffix: "idx")
        let file = try StoreFile(path: path, readOnly: true)
        let bytes = try file.read(count: Int(try file.size()), at: 0)
        guard bytes.count >= 28, Array(bytes[0..<8]) == magic else {
            throw .badFormat(path: path, reason: "not a mesa segment index")
        }
        let body = bytes[0..<(bytes.count - 4)]
        let stored = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self) }
        guard CRC32C.checksum(Array(body)) == UInt32(littleEndian: stored) else {
            throw .badFormat(path: path, reason: "index checksum mismatch")
        }
        var failure: String?
        let entries = bytes.withUnsafeBytes { raw -> [(key: RecordKey, location: RecordLocation)] in
            var reader = ByteReader(UnsafeRawBufferPointer(rebasing: raw[8..<(raw.count - 4)]))
            guard reader.read(UInt32.self) == version, reader.read(UInt32.self) == segment,
                let count = reader.read(UInt64.self), count <= UInt64(raw.count / 52)
            else {
                failure = "unsupported version or wrong segment"
                return []
            }
            var entries: [(key: RecordKey, location: RecordLocation)] = []
            entries.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let kindValue = reader.read(UInt8.self), let kind = RecordKind(rawValue: kindValue),
                    let codecValue = reader.read(UInt8.self), let codec = Codec(rawValue: codecValue),
                    reader.read(UInt16.self) != nil, let rawLength = reader.read(UInt32.self),
                    let storedLength = reader.read(UInt32.self), let offset = reader.read(UInt64.self),
                    let id = reader.read(count: 32), let key = RecordKey(kind: kind, idBytes: id.prefix(kind.idLength))
                else {
                    failure = "bad entry"
                    return []
                }
                entries.append(
                    (
                        key,
                        RecordLocation(
                            segment: segment, offset: Int64(offset), codec: codec, rawLength: rawLength,
                            storedLength: storedLength)
                    ))
            }
            return entries
        }
        if let failure { throw .badFormat(path: path, reason: failure) }
        return entries
    }
}
