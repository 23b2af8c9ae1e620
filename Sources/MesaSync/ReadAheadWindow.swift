/// Detects a sequential reader of one open file and ramps its read-ahead window: 128 KiB after the first
/// sequential read, doubling with each further one that reads past the furthest byte so far, up to 32 MiB; a seek
/// elsewhere resets it.
///
/// The kernel sends read-ahead requests in parallel (async read), so they may arrive out of order: a read that starts
/// up to ``tolerance`` past the furthest byte read so far, or up to four times that before it, still counts as
/// sequential.
package struct ReadAheadWindow: Sendable, Hashable {
    /// The window after the first sequential read.
    package let initialSize: Int64
    /// The largest window.
    package let maximumSize: Int64
    /// How far past the furthest byte read a read may start and still count as sequential.
    package let tolerance: Int64
    /// The current window: bytes to load beyond the last read (0 for a random reader).
    package private(set) var size: Int64 = 0
    private var expected: Int64 = 0

    /// Creates a detector; the defaults are 128 KiB, 32 MiB (about a bandwidth-delay product at 20 ms and 1 GB/s),
    /// and a tolerance of one FUSE read (1 MiB).
    package init(initialSize: Int64 = 128 << 10, maximumSize: Int64 = 32 << 20, tolerance: Int64 = 1 << 20) {
        self.initialSize = initialSize
        self.maximumSize = max(initialSize, maximumSize)
        self.tolerance = tolerance
    }

    /// Records a read and returns the read-ahead to request beyond it.
    package mutating func record(_ range: Range<Int64>) -> Int64 {
        let sequential = range.lowerBound >= expected - 4 * tolerance && range.lowerBound <= expected + tolerance
        if sequential {
            // Only progress ramps the window: readers sharing it (reads by inode) that re-read bytes already
            // read keep it as it is.
            if size == 0 {
                size = initialSize
            } else if range.upperBound > expected {
                size = min(size * 2, maximumSize)
            }
            expected = max(expected, range.upperBound)
        } else {
            size = 0
            expected = range.upperBound
        }
        return size
    }
}
