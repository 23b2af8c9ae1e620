/// The number the kernel knows an inode by (`fuse_ino_t`). The mount root is 1; numbers are never reused within a
/// mount session.
package struct InodeNumber: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The raw number.
    package let rawValue: UInt64

    /// Wraps a raw number.
    package init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// The mount root (`FUSE_ROOT_ID`).
    package static let root = InodeNumber(1)

    package var description: String { String(rawValue) }

    package static func < (lhs: InodeNumber, rhs: InodeNumber) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// An open file or directory (`fuse_file_info.fh`); never reused within a mount session.
package struct FileHandleID: Hashable, Sendable, CustomStringConvertible {
    /// The raw value.
    package let rawValue: UInt64

    /// Wraps a raw value.
    package init(_ rawValue: UInt64) { self.rawValue = rawValue }

    package var description: String { String(rawValue) }

    /// No handle: the file was opened without one (``FSConfiguration/zeroMessageOpens``), so reads name the inode.
    /// The handle table never gives out this number.
    package static let inodeReads = FileHandleID(0)
}

/// A repository of the mount by its place in the layout: `<mount>/<organization>/<name>`.
package struct RepositoryPath: Hashable, Sendable, CustomStringConvertible {
    /// The organization directory's name.
    package var organization: String
    /// The repository directory's name.
    package var name: String

    /// Creates a path.
    package init(organization: String, name: String) {
        self.organization = organization
        self.name = name
    }

    package var description: String { "\(organization)/\(name)" }

    /// Parses `org/repo` (the text form, ``description``).
    package init?(parsing text: String) {
        guard let slash = text.firstIndex(of: "/"), slash != text.startIndex, text.index(after: slash) != text.endIndex
        else { return nil }
        self.init(organization: String(text[..<slash]), name: String(text[text.index(after: slash)...]))
    }
}
