/// One chunk of a file: its id and its length.
public struct ChunkRef: Hashable, Sendable {
    /// The chunk's SHA-256 id.
    public var id: ChunkID
    /// The chunk's length in bytes.
    public var length: UInt32

    /// Creates a reference.
    public init(id: ChunkID, length: UInt32) {
        self.id = id
        self.length = length
    }
}

/// A file's content as the ordered list of its chunks: their concatenation is the file (DESIGN.md section 3).
public struct Manifest: Hashable, Sendable {
    /// The chunks, in file order.
    public private(set) var chunks: [ChunkRef]
    /// The file's size: the sum of the chunk lengths.
    public private(set) var size: Int64
    /// `offsets[i]` is the file offset of chunk `i`; one extra element holds ``size``.
    private var offsets: [Int64]

    /// Creates a manifest from its chunks.
    public init(chunks: [ChunkRef]) {
        self.chunks = chunks
        var offsets = [Int64]()
        offsets.reserveCapacity(chunks.count + 1)
        var total: Int64 = 0
        for chunk in chunks {
            offsets.append(total)
            total += Int64(chunk.length)
        }
        offsets.append(total)
        self.offsets = offsets
        size = total
    }

    /// The manifest of an empty file.
    public static let empty = Manifest(chunks: [])

    /// The file offset at which chunk `index` starts.
    public func offset(ofChunk index: Int) -> Int64 { offsets[index] }

    /// The indices of the chunks that overlap `range` (clamped to the file).
    public func chunkIndices(covering range: Range<Int64>) -> Range<Int> {
        let lower = max(0, range.lowerBound)
        let upper = min(size, range.upperBound)
        guard lower < upper else { return 0..<0 }
        // The first chunk whose end is past `lower`, and the first chunk that starts at or after `upper`.
        return firstIndex(where: { offsets[$0 + 1] > lower })..<firstIndex(where: { offsets[$0] >= upper })
    }

    /// Binary search for the first chunk index satisfying a predicate that is false then true.
    private func firstIndex(where predicate: (Int) -> Bool) -> Int {
        var low = 0
        var high = chunks.count
        while low < high {
            let middle = (low + high) / 2
            if predicate(middle) { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// The manifest's stored form. Little-endian: "MMAN", u8 version 1, three zero bytes, u32 chunk count,
    /// u64 size, then per chunk 32 id bytes and a u32 length.
    public func encoded() -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(20 + chunks.count * 36)
        bytes.append(contentsOf: Self.magic)
        bytes.append(contentsOf: [Self.version, 0, 0, 0])
        appendLittleEndian(UInt32(chunks.count), to: &bytes)
        appendLittleEndian(UInt64(size), to: &bytes)
        for chunk in chunks {
            bytes.append(contentsOf: chunk.id.bytes)
            appendLittleEndian(chunk.length, to: &bytes)
        }
        return bytes
    }

    /// Decodes a stored manifest.
    /// - Returns: `nil` when the bytes are not a well-formed manifest of this version.
    public init?(decoding bytes: [UInt8]) {
        guard bytes.count >= 20, Array(bytes[0..<4]) == Self.magic, bytes[4] == Self.version else { return nil }
        let count = Int(readLittleEndian(UInt32.self, bytes, at: 8))
        let size = Int64(bitPattern: readLittleEndian(UInt64.self, bytes, at: 12))
        guard bytes.count == 20 + count * 36 else { return nil }
        var chunks = [ChunkRef]()
        chunks.reserveCapacity(count)
        for index in 0..<count {
            let base = 20 + index * 36
            guard let id = ChunkID(bytes: bytes[base..<base + 32]) else { return nil }
            chunks.append(ChunkRef(id: id, length: readLittleEndian(UInt32.self, bytes, at: base + 32)))
        }
        self.init(chunks: chunks)
        guard self.size == size else { return nil }
    }

    private static let magic: [UInt8] = Array("MMAN".utf8)
    private static let version: UInt8 = 1
}

private func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
}

private func readLittleEndian<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
    bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
}
