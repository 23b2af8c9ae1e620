package import MesaStore
package import MesaTree
import Synchronization

/// One ``MesaRepository`` per repo, over the shared content store and the repo's SQLite catalog, made on first use.
package final class RepositoryRegistry: Sendable {
    private let store: ContentStore
    private let metadata: any MetadataStore
    private let repositories = Mutex<[String: MesaRepository]>([:])

    /// Creates a registry.
    package init(store: ContentStore, metadata: any MetadataStore) {
        self.store = store
        self.metadata = metadata
    }

    /// The repository of `repoID` (blocking on first use: it opens a libgit2 handle).
    package func repository(for repoID: String) throws(TreeError) -> MesaRepository {
        if let existing = repositories.withLock({ $0[repoID] }) { return existing }
        let created = try MesaRepository(store: store, catalog: metadata.catalog(repoID: repoID))
        return repositories.withLock { repositories in
            if let raced = repositories[repoID] { return raced }
            repositories[repoID] = created
            return created
        }
    }

    /// The catalog of `repoID`.
    package func catalog(for repoID: String) throws(TreeError) -> any RepoCatalog {
        // The registry builds every repository over `metadata.catalog(repoID:)`, a RepoCatalog.
        guard let catalog = try repository(for: repoID).catalog as? any RepoCatalog else {
            throw .invalidArgument("repo \(repoID) has no REST catalog")
        }
        return catalog
    }

    /// Forgets a deleted repo's handle.
    package func forget(_ repoID: String) {
        _ = repositories.withLock { $0.removeValue(forKey: repoID) }
    }
}
