package import MesaStore
package import MesaTree
import MesaCore

// Conversions at the module edge (STYLE.md section 4): lower layers' errors become SyncError here and nowhere else.

extension SyncError {
    /// Converts a store failure; a missing record stays a missing object.
    package init(_ error: StoreError) {
        switch error {
        case .notFound(let key): self = .objectNotFound(key)
        case .corruptRecord(let key, let reason): self = .corruptObject(key, reason: reason)
        case .badFormat, .locked, .io, .compression, .invalidArgument, .closed: self = .store(error)
        }
    }

    /// Converts a tree-model failure; a missing object stays a missing object.
    package init(_ error: TreeError) {
        switch error {
        case .store(let store): self.init(store)
        case .objectNotFound(let id): self = .objectNotFound(RecordKey(.tree, object: id))
        case .corruptObject(let id, let reason): self = .corruptObject(RecordKey(.tree, object: id), reason: reason)
        case .git, .notFound, .wrongObjectKind, .invalid, .changeNotFound, .staleChange, .catalog,
            .bookmarkNotFound, .staleBookmark, .io, .invalidArgument:
            self = .tree(error)
        }
    }
}
