/// Appends little-endian integers and raw bytes to a growing buffer (the store's file formats).
package struct ByteWriter {
    /// The bytes written so far.
    package private(set) var bytes: [UInt8] = []

    /// Creates an empty writer with room for `capacity` bytes.
    package init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    /// Appends an integer, little-endian.
    package mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    /// Appends raw bytes.
    package mutating func append(bytes more: some Sequence<UInt8>) { bytes.append(contentsOf: more) }
}

/// Reads little-endian integers and raw bytes from a buffer, failing (returning `nil`) past its end.
package struct ByteReader {
    private let bytes: UnsafeRawBufferPointer
    /// The position of the next read.
    package private(set) var offset = 0

    /// Creates a reader over `bytes`, which must outlive it.
    package init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// The number of unread bytes.
    package var remaining: Int { bytes.count - offset }

    /// Reads an integer, little-endian.
    package mutating func read<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        let value = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += size
        return T(littleEndian: value)
    }

    /// Reads `count` raw bytes.
    package mutating func read(count: Int) -> [UInt8]? {
        guard count >= 0, remaining >= count else { return nil }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }
}
