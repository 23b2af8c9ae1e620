/// A number of bytes, with the size syntax of Mesa's configuration (`10GB`, `320 MB`, `512MiB`).
public struct ByteCount: Hashable, Sendable, Comparable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The number of bytes.
    public var rawValue: Int64

    /// Creates a count of `rawValue` bytes.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    public init(integerLiteral value: Int64) { rawValue = value }

    /// `n` kibibytes.
    public static func kibibytes(_ n: Int64) -> ByteCount { ByteCount(n << 10) }
    /// `n` mebibytes.
    public static func mebibytes(_ n: Int64) -> ByteCount { ByteCount(n << 20) }
    /// `n` gibibytes.
    public static func gibibytes(_ n: Int64) -> ByteCount { ByteCount(n << 30) }

    /// Parses a size: digits (optionally with a fraction), optional spaces, and an optional unit. Units are
    /// case-insensitive: `B`, decimal `KB MB GB TB` (and `K M G T`), binary `KiB MiB GiB TiB`.
    /// - Returns: `nil` for an empty, negative, unknown-unit or overflowing size.
    public init?(parsing text: String) {
        let trimmed = text.trimmingSpaces
        let numberEnd = trimmed.firstIndex { !($0.isNumber || $0 == ".") } ?? trimmed.endIndex
        guard let number = Double(trimmed[..<numberEnd]), number >= 0 else { return nil }
        let unit = trimmed[numberEnd...].trimmingSpaces.lowercased()
        let multipliers: [String: Double] = [
            "": 1, "b": 1,
            "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
            "kib": 1024, "mib": 1_048_576, "gib": 1_073_741_824, "tib": 1_099_511_627_776,
        ]
        guard let multiplier = multipliers[unit] else { return nil }
        let value = (number * multiplier).rounded()
        guard value < 9.2e18 else { return nil }
        rawValue = Int64(value)
    }

    /// A short human rendering with a binary unit, such as `1.5 MiB`.
    public var description: String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(rawValue)
        var unit = 0
        while abs(value) >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(rawValue) B" }
        let rounded = (value * 10).rounded() / 10
        return "\(rounded) \(units[unit])"
    }

    public static func < (lhs: ByteCount, rhs: ByteCount) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension StringProtocol {
    fileprivate var trimmingSpaces: String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
