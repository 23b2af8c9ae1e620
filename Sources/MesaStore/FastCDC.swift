// FastCDC content-defined chunking with normalized chunking (Xia et al., USENIX ATC 2016, "FastCDC: a Fast and
// Efficient Content-Defined Chunking Approach for Data Deduplication").
//
// A gear hash `h = (h << 1) + gear[byte]` rolls over the input; a position is a cut point when the hash has all the
// bits of a mask clear. With the left shift, bit k of `h` depends on the last k + 1 bytes, so the masks take the top
// bits of `h`: a window of 64 bytes decides each candidate. Normalized chunking (level 2) uses a harder mask (18
// bits) before the average size and an easier one (14 bits) after it, which narrows the size distribution around
// 64 KiB. The first `minimum` bytes of a chunk are skipped without hashing (cut-point skipping), which is also where
// most of the speed comes from. A chunk ends at the first cut point at or after `minimum`, or at `maximum`.
//
// Boundaries are a pure function of the bytes: `cut` is given the bytes from the chunk's start and either at least
// `maximum` of them or everything up to the end of input, so how the input was split into reads cannot matter
// (``ChunkReader`` guarantees that).

/// Finds content-defined chunk boundaries.
package struct FastCDC: Sendable {
    /// The chunk size limits.
    package struct Sizes: Sendable, Equatable {
        /// No chunk but the last of an input is smaller.
        package var minimum: Int
        /// The normalization point: the mask gets easier after it.
        package var average: Int
        /// No chunk is larger.
        package var maximum: Int

        /// The store's format: 16 KiB, 64 KiB, 256 KiB (DESIGN.md section 3).
        package static let standard = Sizes(minimum: 16 << 10, average: 64 << 10, maximum: 256 << 10)
    }

    /// The limits in use.
    package let sizes: Sizes
    private let maskSmall: UInt64
    private let maskLarge: UInt64

    /// Creates a chunker.
    /// - Precondition: `minimum < average < maximum` and `average` is a power of two of at least 256.
    package init(sizes: Sizes = .standard) {
        precondition(sizes.minimum < sizes.average && sizes.average < sizes.maximum, "chunk sizes must increase")
        precondition(sizes.average.nonzeroBitCount == 1 && sizes.average >= 256, "average must be a power of two")
        self.sizes = sizes
        let bits = sizes.average.trailingZeroBitCount
        maskSmall = ~UInt64(0) << UInt64(64 - (bits + 2))
        maskLarge = ~UInt64(0) << UInt64(64 - (bits - 2))
    }

    /// The length of the chunk that starts at `bytes.baseAddress`.
    ///
    /// - Parameters:
    ///   - bytes: the input from the chunk's start: at least ``Sizes/maximum`` bytes, or all that is left of it.
    /// - Returns: the chunk's length, between 1 and `min(bytes.count, maximum)` (0 only for empty input).
    package func cut(_ bytes: UnsafeRawBufferPointer) -> Int {
        let count = bytes.count
        guard count > sizes.minimum, let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            return count
        }
        let limit = min(count, sizes.maximum)
        let normal = min(limit, sizes.average)
        let gear = GearTable.pointer
        var hash: UInt64 = 0
        var index = sizes.minimum
        while index < normal {
            hash = (hash << 1) &+ gear[Int(base[index])]
            if hash & maskSmall == 0 { return index + 1 }
            index += 1
        }
        while index < limit {
            hash = (hash << 1) &+ gear[Int(base[index])]
            if hash & maskLarge == 0 { return index + 1 }
            index += 1
        }
        return limit
    }

    /// Every chunk boundary of an in-memory input, as (offset, length) pairs.
    package func chunks(of bytes: UnsafeRawBufferPointer) -> [(offset: Int, length: Int)] {
        var result: [(offset: Int, length: Int)] = []
        var offset = 0
        while offset < bytes.count {
            let length = cut(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            result.append((offset, length))
            offset += length
        }
        return result
    }
}
