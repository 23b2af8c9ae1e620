/// Bytes held as a list of slices of shared buffers, so a read that spans several chunks is answered without
/// copying them into one array (FUSE replies with one `iovec` per slice).
public struct ByteSlices: Sendable, Equatable {
    /// The slices, in order.
    public private(set) var slices: [ArraySlice<UInt8>]
    /// The total number of bytes.
    public private(set) var count: Int

    /// Creates an empty list.
    public init() {
        slices = []
        count = 0
    }

    /// Creates a list holding one buffer.
    public init(_ bytes: [UInt8]) {
        slices = bytes.isEmpty ? [] : [bytes[...]]
        count = bytes.count
    }

    /// Appends a slice (empty slices are dropped).
    public mutating func append(_ slice: ArraySlice<UInt8>) {
        guard !slice.isEmpty else { return }
        slices.append(slice)
        count += slice.count
    }

    /// The bytes copied into one array.
    public var joined: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(count)
        for slice in slices { out.append(contentsOf: slice) }
        return out
    }

    public static func == (lhs: ByteSlices, rhs: ByteSlices) -> Bool { lhs.joined == rhs.joined }
}
