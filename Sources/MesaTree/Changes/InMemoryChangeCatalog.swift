package import MesaCore
import Synchronization

/// A ``ChangeCatalog`` in memory, behind one lock. Lost when the process exits.
package final class InMemoryChangeCatalog: ChangeCatalog {
    private struct Tables {
        var changes: [ChangeID: ChangeRecord] = [:]
        var bookmarks: [String: ChangeID] = [:]
    }

    private let tables = Mutex(Tables())

    /// Creates an empty catalog.
    package init() {}

    /// The change with this id, if any.
    package func change(_ id: ChangeID) throws(TreeError) -> ChangeRecord? {
        tables.withLock { $0.changes[id] }
    }

    /// Creates or updates a change if its current commit matches `expected`.
    package func putChange(_ record: ChangeRecord, expected: Expectation<ObjectID>) throws(TreeError) {
        try tables.withLock { (tables) throws(TreeError) in
            let current = tables.changes[record.id]?.commit
            guard expected.isMet(by: current) else {
                throw .staleChange(record.id, expected: expected.value, current: current)
            }
            tables.changes[record.id] = record
        }
    }

    /// Every change.
    package func changes() throws(TreeError) -> [ChangeRecord] {
        tables.withLock { Array($0.changes.values) }
    }

    /// The bookmark with this name, if any.
    package func bookmark(named name: String) throws(TreeError) -> Bookmark? {
        tables.withLock { tables in tables.bookmarks[name].map { Bookmark(name: name, change: $0) } }
    }

    /// Creates or moves a bookmark if it points at `expected`.
    package func putBookmark(_ bookmark: Bookmark, expected: Expectation<ChangeID>) throws(TreeError) {
        try tables.withLock { (tables) throws(TreeError) in
            let current = tables.bookmarks[bookmark.name]
            guard expected.isMet(by: current) else {
                throw .staleBookmark(bookmark.name, expected: expected.value, current: current)
            }
            tables.bookmarks[bookmark.name] = bookmark.change
        }
    }

    /// Deletes a bookmark if it points at `expected`.
    package func deleteBookmark(named name: String, expected: Expectation<ChangeID>) throws(TreeError) {
        try tables.withLock { (tables) throws(TreeError) in
            guard let current = tables.bookmarks[name] else { throw .bookmarkNotFound(name) }
            guard expected.isMet(by: current) else {
                throw .staleBookmark(name, expected: expected.value, current: current)
            }
            tables.bookmarks[name] = nil
        }
    }

    /// Every bookmark, sorted by name.
    package func bookmarks() throws(TreeError) -> [Bookmark] {
        tables.withLock { tables in
            tables.bookmarks.map { Bookmark(name: $0.key, change: $0.value) }.sorted { $0.name < $1.name }
        }
    }
}
