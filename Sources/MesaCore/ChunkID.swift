/// The identity of a chunk: the SHA-256 digest of its uncompressed bytes (DESIGN.md section 3).
///
/// Stored as four big-endian words so that equality and hashing touch 32 bytes without a heap allocation.
public struct ChunkID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number of bytes in a chunk id.
    public static let byteCount = 32

    @usableFromInline let w0: UInt64
    @usableFromInline let w1: UInt64
    @usableFromInline let w2: UInt64
    @usableFromInline let w3: UInt64

    /// Creates an id from exactly 32 bytes.
    /// - Returns: `nil` when `bytes` does not hold exactly 32 bytes.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var words = WordPacker()
        for byte in bytes { words.append(byte) }
        (w0, w1, w2, w3) = (words.words[0], words.words[1], words.words[2], words.words[3])
    }

    /// Parses 64 hexadecimal digits.
    public init?(hex: some StringProtocol) {
        guard let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    /// The 32 bytes of the digest, most significant first.
    public var bytes: [UInt8] { WordPacker.bytes(of: [w0, w1, w2, w3], count: Self.byteCount) }

    /// The id as 64 lower-case hexadecimal digits.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { hex }

    public static func < (lhs: ChunkID, rhs: ChunkID) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }
}

/// The identity of a git object (blob, tree, commit): its 20-byte SHA-1 id in git's own format.
public struct ObjectID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The number of bytes in a git object id.
    public static let byteCount = 20

    @usableFromInline let w0: UInt64
    @usableFromInline let w1: UInt64
    @usableFromInline let w2: UInt64

    /// Creates an id from exactly 20 bytes.
    /// - Returns: `nil` when `bytes` does not hold exactly 20 bytes.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var words = WordPacker()
        for byte in bytes { words.append(byte) }
        (w0, w1, w2) = (words.words[0], words.words[1], words.words[2])
    }

    /// Parses 40 hexadecimal digits.
    public init?(hex: some StringProtocol) {
        guard let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    /// The 20 bytes of the id.
    public var bytes: [UInt8] { WordPacker.bytes(of: [w0, w1, w2], count: Self.byteCount) }

    /// The id as 40 lower-case hexadecimal digits, as git prints it.
    public var hex: String { Hex.encode(bytes) }

    public var description: String { hex }

    public static func < (lhs: ObjectID, rhs: ObjectID) -> Bool {
        (lhs.w0, lhs.w1, lhs.w2) < (rhs.w0, rhs.w1, rhs.w2)
    }
}

/// Packs bytes big-endian into 64-bit words, and back.
struct WordPacker {
    var words: [UInt64] = [0, 0, 0, 0]
    private var count = 0

    mutating func append(_ byte: UInt8) {
        let word = count / 8
        let shift = UInt64(56 - 8 * (count % 8))
        words[word] |= UInt64(byte) << shift
        count += 1
    }

    static func bytes(of words: [UInt64], count: Int) -> [UInt8] {
        (0..<count).map { index in UInt8(truncatingIfNeeded: words[index / 8] >> UInt64(56 - 8 * (index % 8))) }
    }
}
