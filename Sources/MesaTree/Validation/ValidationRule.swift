/// A rule of the one validator of names, paths, trees and commits (``TreeValidator``). Every refusal names its
/// rule, so REST and sync answers say which rule a request broke (docs/Semantics.md, "Names and paths").
package enum ValidationRule: String, Sendable, CaseIterable {
    // Names (one path component).
    /// A name is empty (a doubled, leading or trailing `/` in a path).
    case emptyName = "empty-name"
    /// A name is `.` or `..`.
    case dotName = "dot-name"
    /// A name holds `/` (only possible in a tree object, never in a path).
    case slashInName = "slash-in-name"
    /// A name holds a NUL byte.
    case nulInName = "nul-in-name"
    /// A name holds a control character (U+0000-U+001F, U+007F-U+009F): newline, CR and tab among them.
    case controlCharacter = "control-character"
    /// A name holds `\`, a path separator on Windows (git's `core.protectNTFS`).
    case backslash = "backslash"
    /// A name that git or a case-insensitive filesystem takes for `.git`: any case, trailing dots or spaces, an
    /// NTFS stream suffix (`.git::$INDEX_ALLOCATION`), ignorable Unicode inside (HFS+), or the short name `git~1`.
    case dotGit = "dot-git"
    /// A name is longer than 255 bytes.
    case nameTooLong = "name-too-long"
    /// A name is not valid UTF-8.
    case notUTF8 = "not-utf8"

    // Paths.
    /// A path is empty where a file is named.
    case emptyPath = "empty-path"
    /// A path starts with `/`.
    case absolutePath = "absolute-path"
    /// A path is longer than 4,096 bytes.
    case pathTooLong = "path-too-long"
    /// A path has more than 256 components.
    case pathTooDeep = "path-too-deep"

    // Trees.
    /// A tree entry's mode is not one of 100644, 100755, 120000, 40000, 160000 written as git writes them.
    case badMode = "bad-mode"
    /// A tree's entries are not in git's order.
    case unsortedEntries = "unsorted-entries"
    /// A tree holds two entries of one name (a file and a directory included).
    case duplicateEntry = "duplicate-entry"
    /// A tree object does not parse (truncated entry, missing id).
    case malformedTree = "malformed-tree"
    /// A tree entry names a record of another kind than its mode says (a directory naming a file, ...).
    case entryKindMismatch = "entry-kind-mismatch"
    /// `.gitmodules`, `.gitattributes`, `.gitignore` or `.mailmap` is a symlink (git fsck refuses these).
    case gitMetadataSymlink = "git-metadata-symlink"

    // Commits.
    /// A commit object does not have git's header layout (tree, parents, author, committer, in that order).
    case malformedCommit = "malformed-commit"
    /// An author or committer is not `name <email> seconds +hhmm` with no `<`, `>` or line break in name or email.
    case badSignature = "bad-signature"
    /// A commit or change names a parent that does not exist.
    case missingParent = "missing-parent"
    /// Content the rule set does not accept (record kinds a push may not carry, such as tags).
    case unsupportedRecord = "unsupported-record"
}

/// Why the validator refused an input: the rule, where (a path or an object id) and what was found.
package struct ValidationFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The rule broken.
    package var rule: ValidationRule
    /// The path (non-UTF-8 bytes escaped as `\xNN`) or the object id the rule concerns.
    package var location: String
    /// What was found, in words.
    package var detail: String

    /// Creates a failure.
    package init(_ rule: ValidationRule, at location: String, _ detail: String) {
        self.rule = rule
        self.location = location
        self.detail = detail
    }

    /// A message naming the rule, the place and the finding.
    package var description: String { "\(detail) (rule \(rule.rawValue)) at '\(location)'" }
}
