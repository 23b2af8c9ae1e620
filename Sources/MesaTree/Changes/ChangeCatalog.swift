package import MesaCore

/// A change's row in the catalog: its id, its current commit and its parent changes (MESA-API.md, Concepts).
///
/// Messages, authors and dates live in the commit; the catalog holds only what git cannot: which commit is the
/// change's current one.
package struct ChangeRecord: Sendable, Hashable {
    /// The stable change id.
    package var id: ChangeID
    /// The change's current commit.
    package var commit: ObjectID
    /// The parent changes (``ChangeID/root`` for a change on the virtual root).
    package var parents: [ChangeID]

    /// Creates a record.
    package init(id: ChangeID, commit: ObjectID, parents: [ChangeID]) {
        self.id = id
        self.commit = commit
        self.parents = parents
    }
}

/// A movable name for a change (a git branch `refs/heads/<name>`).
package struct Bookmark: Sendable, Hashable {
    /// The bookmark's name.
    package var name: String
    /// The change it points at.
    package var change: ChangeID

    /// Creates a bookmark.
    package init(name: String, change: ChangeID) {
        self.name = name
        self.change = change
    }
}

/// What a compare-and-swap update expects to find.
package enum Expectation<Value: Sendable & Hashable>: Sendable, Hashable {
    /// Nothing may be there yet.
    case absent
    /// Exactly this value must be there.
    case equal(Value)
    /// Whatever is there is replaced.
    case any

    /// Whether `current` satisfies the expectation.
    package func isMet(by current: Value?) -> Bool {
        switch self {
        case .absent: current == nil
        case .equal(let value): current == value
        case .any: true
        }
    }

    /// The expected value, for error messages.
    package var value: Value? {
        if case .equal(let value) = self { return value }
        return nil
    }
}

/// The change and bookmark tables of one repository.
///
/// Updates are compare-and-swap, so two writers racing on one change or bookmark cannot both win. The in-memory
/// ``InMemoryChangeCatalog`` serves tests and tools; the server supplies a SQLite one. Implementations are
/// synchronous and thread-safe.
package protocol ChangeCatalog: Sendable {
    /// The change with this id, if any. The virtual root is not stored.
    func change(_ id: ChangeID) throws(TreeError) -> ChangeRecord?

    /// Creates or updates a change if its current commit matches `expected`.
    /// - Throws: ``TreeError/staleChange(_:expected:current:)`` when it does not.
    func putChange(_ record: ChangeRecord, expected: Expectation<ObjectID>) throws(TreeError)

    /// Every change, in no particular order.
    func changes() throws(TreeError) -> [ChangeRecord]

    /// The bookmark with this name, if any.
    func bookmark(named name: String) throws(TreeError) -> Bookmark?

    /// Creates or moves a bookmark if it currently points at `expected`.
    /// - Throws: ``TreeError/staleBookmark(_:expected:current:)`` when it does not.
    func putBookmark(_ bookmark: Bookmark, expected: Expectation<ChangeID>) throws(TreeError)

    /// Deletes a bookmark if it currently points at `expected`.
    /// - Throws: ``TreeError/bookmarkNotFound(_:)``, ``TreeError/staleBookmark(_:expected:current:)``.
    func deleteBookmark(named name: String, expected: Expectation<ChangeID>) throws(TreeError)

    /// Every bookmark, sorted by name.
    func bookmarks() throws(TreeError) -> [Bookmark]
}
