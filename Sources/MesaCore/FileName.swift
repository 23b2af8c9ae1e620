/// One component of a path, as the bytes the tree records (git names are bytes; Mesa accepts UTF-8 only).
///
/// Names compare and hash byte for byte. `String` equality uses Unicode canonical equivalence, under which a
/// precomposed `é` and `e` plus a combining accent are equal: a filesystem must keep such names apart, as ext4 does.
public struct FileName: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The name's bytes (no `/`, no NUL).
    public let bytes: [UInt8]

    /// Creates a name from bytes.
    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Creates a name from a string's UTF-8 bytes, exactly as stored in the string (no normalization).
    public init(_ string: String) { bytes = Array(string.utf8) }

    /// The name as text; bytes that are not UTF-8 are replaced (names from trees are always UTF-8).
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Whether the name is one of the directory entries `.` and `..`, which no tree holds.
    public var isDotOrDotDot: Bool { bytes == [0x2e] || bytes == [0x2e, 0x2e] }

    public var description: String { string }

    /// Orders names bytewise, as git sorts file names.
    public static func < (lhs: FileName, rhs: FileName) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }
}
