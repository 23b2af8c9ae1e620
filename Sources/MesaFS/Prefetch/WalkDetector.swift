/// Recognizes a recursive walk (`grep -r`, `find -exec`, `tar`): many directories read under one root in quick
/// succession.
///
/// Each visit is the chain of directory inodes from the repository root down to the directory read. When at least
/// `threshold` visits fall within `window`, the walk's root is their deepest common ancestor.
struct WalkDetector: Sendable {
    /// Visits needed within the window.
    let threshold: Int
    /// The time window.
    let window: Duration
    private var visits: [(time: ContinuousClock.Instant, chain: [InodeNumber])] = []

    /// Creates a detector.
    init(threshold: Int, window: Duration) {
        self.threshold = max(2, threshold)
        self.window = window
    }

    /// Records a directory read.
    /// - Returns: the chain to the walk's root when the visits in the window reach the threshold and share one.
    mutating func record(_ chain: [InodeNumber], at now: ContinuousClock.Instant) -> [InodeNumber]? {
        visits.removeAll { now - $0.time > window }
        visits.append((now, chain))
        if visits.count > 4 * threshold { visits.removeFirst(visits.count - 4 * threshold) }
        guard visits.count >= threshold else { return nil }
        var prefix = visits[0].chain
        for visit in visits.dropFirst() {
            let shared = zip(prefix, visit.chain).prefix { $0 == $1 }.count
            prefix.removeLast(prefix.count - shared)
        }
        return prefix.isEmpty ? nil : prefix
    }
}
