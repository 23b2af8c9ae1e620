/// Validation and display of path names. Git paths are bytes; Mesa accepts only UTF-8 names (DESIGN.md section 3).
package enum PathName {
    /// Splits a slash-separated repository path into validated components.
    ///
    /// Leading, trailing and doubled slashes are refused rather than normalized, so that one path has one spelling.
    /// - Throws: ``TreeError/invalidPath(_:reason:)`` for an empty path or component, `.`, `..`, `.git` or NUL.
    package static func components(of path: String) throws(TreeError) -> [String] {
        guard !path.isEmpty else { throw .invalidPath(path, reason: "the path is empty") }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        for part in parts {
            try validate(component: part, in: path)
        }
        return parts
    }

    /// Checks one component of `path`.
    package static func validate(component: String, in path: String) throws(TreeError) {
        if component.isEmpty { throw .invalidPath(path, reason: "empty path component") }
        if component == "." || component == ".." { throw .invalidPath(path, reason: "'\(component)' component") }
        if component == ".git" { throw .invalidPath(path, reason: "'.git' is reserved by git") }
        if component.utf8.contains(0) { throw .invalidPath(path, reason: "NUL byte in a name") }
    }

    /// Decodes a name's bytes.
    /// - Parameters:
    ///   - bytes: the name as stored in git.
    ///   - parent: the directory holding it (for the error message), empty at the root.
    /// - Throws: ``TreeError/nonUTF8Path(_:)`` naming the whole path with invalid bytes escaped.
    package static func decode(_ bytes: some Collection<UInt8>, parent: String) throws(TreeError) -> String {
        if let name = String(validating: bytes, as: UTF8.self) { return name }
        throw .nonUTF8Path(join(parent, escaped(bytes)))
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
