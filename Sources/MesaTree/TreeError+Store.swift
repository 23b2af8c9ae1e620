import MesaCore
package import MesaStore

extension TreeError {
    /// Converts a store failure at the module edge (STYLE.md section 4); a missing git-keyed record becomes
    /// ``TreeError/objectNotFound(_:)``.
    package init(_ error: StoreError) {
        if case .notFound(let key) = error, let id = key.objectID {
            self = .objectNotFound(id)
        } else {
            self = .store(error)
        }
    }
}
