/// The mode of a git tree entry. Git records only these (no permissions beyond the executable bit).
package enum FileMode: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A regular file, `100644`.
    case regular
    /// An executable file, `100755`.
    case executable
    /// A symbolic link, `120000`; the blob holds the link target.
    case symlink
    /// A directory (a subtree), `40000`.
    case directory
    /// A submodule (gitlink), `160000`; the id is a commit of another repository.
    case submodule

    /// The mode as git's octal number.
    package var octal: UInt32 {
        switch self {
        case .regular: 0o100644
        case .executable: 0o100755
        case .symlink: 0o120000
        case .directory: 0o040000
        case .submodule: 0o160000
        }
    }

    /// The mode as git writes it in a tree object (`40000` for directories, without a leading zero).
    package var treeText: String { String(octal, radix: 8) }

    /// The mode as Mesa's API and `git ls-tree` print it (six digits: `040000` for directories).
    package var description: String {
        let text = treeText
        return String(repeating: "0", count: max(0, 6 - text.count)) + text
    }

    /// Whether the entry is a file-like blob (regular, executable or symlink).
    package var isBlob: Bool { self == .regular || self == .executable || self == .symlink }

    /// Interprets a mode number as git does: any `100xxx` with an owner-executable bit is executable, any other
    /// `100xxx` regular (old repositories hold `100664`).
    /// - Returns: `nil` for a mode git never writes.
    package init?(octal: UInt32) {
        switch octal & 0o170000 {
        case 0o100000: self = octal & 0o100 != 0 ? .executable : .regular
        case 0o120000: self = .symlink
        case 0o040000: self = .directory
        case 0o160000: self = .submodule
        default: return nil
        }
    }
}
