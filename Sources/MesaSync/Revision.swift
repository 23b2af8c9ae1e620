package import MesaCore

/// What a mount shows of a repository: its default bookmark, a named bookmark, or a change (MESA-API.md,
/// `MESA_REPO_REVS`). The text form is the sync protocol's: empty, `bookmark:<name>` or `change-id:<id>`.
package struct Revision: Hashable, Sendable, CustomStringConvertible {
    /// The three ways to name a revision.
    package enum Kind: Hashable, Sendable {
        /// The repository's default bookmark.
        case defaultBookmark
        /// A bookmark by name.
        case bookmark(String)
        /// A change by id.
        case change(ChangeID)
    }

    /// What the revision names.
    package var kind: Kind

    /// Creates a revision.
    package init(_ kind: Kind) { self.kind = kind }

    /// The repository's default bookmark.
    package static let defaultBookmark = Revision(.defaultBookmark)

    /// Parses the protocol's text form: empty, `bookmark:<name>`, `change-id:<id>`, or a bare bookmark name.
    /// - Returns: `nil` for an empty bookmark name or a malformed change id.
    package init?(parsing text: String) {
        if text.isEmpty {
            self = .defaultBookmark
        } else if text.hasPrefix("change-id:") {
            guard let id = ChangeID(parsing: text.dropFirst("change-id:".count)) else { return nil }
            kind = .change(id)
        } else {
            let name = text.hasPrefix("bookmark:") ? String(text.dropFirst("bookmark:".count)) : text
            guard !name.isEmpty else { return nil }
            kind = .bookmark(name)
        }
    }

    /// The protocol's text form.
    package var description: String {
        switch kind {
        case .defaultBookmark: ""
        case .bookmark(let name): "bookmark:\(name)"
        case .change(let id): "change-id:\(id)"
        }
    }
}

/// What a revision resolved to at one moment: the change, its current commit and root tree, and the commit time.
package struct Resolution: Hashable, Sendable {
    /// The revision that was resolved.
    package var revision: Revision
    /// The change it names.
    package var change: ChangeID
    /// The change's current commit; `nil` for the virtual root change (the empty tree).
    package var commit: ObjectID?
    /// The commit's root tree.
    package var rootTree: ObjectID
    /// The commit time in seconds since the epoch: clean files show it as their modification time.
    package var commitTime: Int64

    /// Creates a resolution.
    package init(revision: Revision, change: ChangeID, commit: ObjectID?, rootTree: ObjectID, commitTime: Int64) {
        self.revision = revision
        self.change = change
        self.commit = commit
        self.rootTree = rootTree
        self.commitTime = commitTime
    }
}
