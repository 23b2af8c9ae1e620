/// Validation and display of path names. Git paths are bytes; Mesa accepts only UTF-8 names (DESIGN.md section 3).
package enum PathName {
    /// Decodes a stored name's bytes (reads of stored trees: only UTF-8 is required of them here, since what is
    /// stored has passed ``TreeValidator``).
    /// - Parameters:
    ///   - bytes: the name as stored in git.
    ///   - parent: the directory holding it (for the error message), empty at the root.
    /// - Throws: ``TreeError/invalid(_:)`` with rule ``ValidationRule/notUTF8``, naming the whole path with invalid
    ///   bytes escaped.
    package static func decode(_ bytes: some Collection<UInt8>, parent: String) throws(TreeError) -> String {
        if let name = String(validating: bytes, as: UTF8.self) { return name }
        throw .invalid(
            ValidationFailure(
                .notUTF8, at: join(parent, escaped(bytes)),
                "a name that is not valid UTF-8; rename it in the source repository (invalid bytes shown as \\xNN)"))
    }

    /// Whether `left` sorts before `right` by their UTF-8 bytes, as git sorts paths. `String`'s `<` orders by
    /// Unicode canonical equivalence, under which two spellings of one accented name are neither before the other.
    package static func precedes(_ left: String, _ right: String) -> Bool {
        left.utf8.lexicographicallyPrecedes(right.utf8)
    }

    /// `parent/name`, or `name` at the root.
    package static func join(_ parent: String, _ name: String) -> String {
        parent.isEmpty ? name : parent + "/" + name
    }

    /// The bytes as text: valid UTF-8 sequences as they are, every other byte as `\xNN`.
    package static func escaped(_ bytes: some Collection<UInt8>) -> String {
        let array = Array(bytes)
        var out = ""
        var index = 0
        while index < array.count {
            let length = utf8SequenceLength(array, at: index)
            if length > 0, let text = String(validating: array[index..<index + length], as: UTF8.self) {
                out += text
                index += length
            } else {
                let hex = String(array[index], radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
                index += 1
            }
        }
        return out
    }

    /// The length of the UTF-8 sequence its lead byte announces, if that many bytes remain; 0 otherwise.
    private static func utf8SequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let length =
            switch lead {
            case 0x00...0x7f: 1
            case 0xc2...0xdf: 2
            case 0xe0...0xef: 3
            case 0xf0...0xf4: 4
            default: 0
            }
        return index + length <= bytes.count ? length : 0
    }
}
