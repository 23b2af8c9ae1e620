/// The stable identity of a change (MESA-API.md, Concepts): 16 bytes, written as 32 characters of the reverse-hex
/// alphabet `zyxwvutsrqponmlk` (hex digit 0 is `z`, f is `k`).
///
/// A change keeps its id while it evolves: each rewrite gives it a new commit, never a new id. The all-zero id
/// (`z` x 32) is the virtual root, whose tree is the empty tree.
public struct ChangeID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number of bytes in a change id.
    public static let byteCount = 16
    /// The number of characters in a change id's text form.
    public static let textLength = 32

    @usableFromInline let high: UInt64
    @usableFromInline let low: UInt64

    /// The virtual root change `zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz`: the base of a repository's first change.
    public static let root = ChangeID(high: 0, low: 0)

    private init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Creates an id from exactly 16 bytes.
    /// - Returns: `nil` when `bytes` does not hold exactly 16 bytes.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 {
                high = high << 8 | UInt64(byte)
            } else {
                low = low << 8 | UInt64(byte)
            }
        }
        self.init(high: high, low: low)
    }

    /// Parses the 32-character text form (lower case only, as Mesa prints it).
    /// - Returns: `nil` for a wrong length or a character outside `zyxwvutsrqponmlk`.
    public init?(parsing text: some StringProtocol) {
        let utf8 = Array(text.utf8)
        guard utf8.count == Self.textLength else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, character) in utf8.enumerated() {
            guard let nibble = Self.nibble(of: character) else { return nil }
            if index < 16 {
                high = high << 4 | UInt64(nibble)
            } else {
                low = low << 4 | UInt64(nibble)
            }
        }
        self.init(high: high, low: low)
    }

    /// A new random id (from the system's cryptographically secure generator).
    public static func random() -> ChangeID {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    /// A new random id drawn from `generator` (tests pass a seeded one).
    public static func random(using generator: inout some RandomNumberGenerator) -> ChangeID {
        ChangeID(high: generator.next(), low: generator.next())
    }

    /// The 16 bytes of the id, most significant first.
    public var bytes: [UInt8] {
        (0..<Self.byteCount).map { index in
            let word = index < 8 ? high : low
            return UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * (index % 8)))
        }
    }

    /// Whether this is the virtual root change.
    public var isRoot: Bool { self == .root }

    /// The 32-character reverse-hex text form.
    public var description: String {
        var out = [UInt8]()
        out.reserveCapacity(Self.textLength)
        for word in [high, low] {
            for shift in stride(from: 60, through: 0, by: -4) {
                out.append(Self.alphabet[Int((word >> UInt64(shift)) & 0xf)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func < (lhs: ChangeID, rhs: ChangeID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    /// `alphabet[d]` is the character for hex digit `d`.
    private static let alphabet: [UInt8] = Array("zyxwvutsrqponmlk".utf8)

    private static func nibble(of character: UInt8) -> UInt8? {
        // 'z' (0x7a) is digit 0 down to 'k' (0x6b), digit 15.
        guard character >= UInt8(ascii: "k"), character <= UInt8(ascii: "z") else { return nil }
        return UInt8(ascii: "z") - character
    }
}
