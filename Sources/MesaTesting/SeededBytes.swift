/// Deterministic pseudo-random bytes (SplitMix64), so a failing test sees the same data again.
package struct SeededBytes: RandomNumberGenerator {
    private var state: UInt64

    /// Creates a generator from a seed.
    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` random bytes.
    package mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { raw in
            var index = 0
            while index + 8 <= count {
                raw.storeBytes(of: next(), toByteOffset: index, as: UInt64.self)
                index += 8
            }
            while index < count {
                raw[index] = UInt8(truncatingIfNeeded: next())
                index += 1
            }
        }
        return out
    }

    /// `count` bytes of source-like text (words, spaces, newlines), which compresses as code does.
    package mutating func text(_ count: Int) -> [UInt8] {
        let words = ["let", "var", "func", "return", "if", "else", "for", "in", "struct", "self", "value", "count",
            "index", "buffer", "error", "throws", "import", "package", "(", ")", "{", "}", "=", "+", "0", "1"]
        var out = [UInt8]()
        out.reserveCapacity(count + 16)
        while out.count < count {
            out += words[Int(next() % UInt64(words.count))].utf8
            out.append(next() % 9 == 0 ? 10 : 32)
        }
        return Array(out.prefix(count))
    }
}
