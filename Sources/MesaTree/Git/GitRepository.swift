import CGit2
import MesaCore
import MesaStore
import Synchronization

// One in-memory libgit2 repository over a ContentStore, and the lock that makes it safe to share.
//
// The repository is made with `git_repository_new` (no directory, no .git), an object database from `git_odb_new`
// with our store backend as its only backend, and an empty in-memory configuration (so a user's ~/.gitconfig cannot
// change diff or merge results). libgit2 objects are not thread-safe: every sequence of libgit2 calls on this
// handle, and the `git_error_last` read after a failure, runs inside one `withHandle` closure holding the handle's
// `Mutex` (STYLE.md section 5.12). The closure must not call back into anything that takes the same lock. Callers
// on Swift's cooperative pool should hop to a blocking pool first: the closure can block on disk.

/// The owner of a `git_repository` and its `git_odb`; freed in `deinit`.
final class GitHandle {
    /// The repository (`git_repository *`).
    let repository: OpaquePointer
    /// Its object database (`git_odb *`), for `git_odb_write`.
    let odb: OpaquePointer

    init(store: ContentStore) throws(TreeError) {
        try GitRuntime.ensureInitialized()
        var odb: OpaquePointer?
        try GitError.check(git_odb_new(&odb), operation: "git_odb_new")
        guard let odb else { throw .invalidArgument("git_odb_new returned no database") }
        let backend: UnsafeMutablePointer<git_odb_backend>
        do {
            backend = try StoreBackend.make(store: store)
        } catch {
            git_odb_free(odb)
            throw error
        }
        let added = git_odb_add_backend(odb, backend, 1)
        do {
            try GitError.check(added, operation: "git_odb_add_backend")
        } catch {
            StoreBackend.destroy(backend)
            git_odb_free(odb)
            throw error
        }
        var repository: OpaquePointer?
        let created = git_repository_new(&repository)
        do {
            try GitError.check(created, operation: "git_repository_new")
        } catch {
            git_odb_free(odb)
            throw error
        }
        guard let repository else {
            git_odb_free(odb)
            throw .invalidArgument("git_repository_new returned no repository")
        }
        self.repository = repository
        self.odb = odb
        try GitError.check(git_repository_set_odb(repository, odb), operation: "git_repository_set_odb")
        var config: OpaquePointer?
        try GitError.check(git_config_new(&config), operation: "git_config_new")
        defer { git_config_free(config) }
        try GitError.check(git_repository_set_config(repository, config), operation: "git_repository_set_config")
    }

    deinit {
        git_repository_free(repository)
        git_odb_free(odb)
    }

    /// Looks up a tree (`git_tree_lookup`); the caller frees it with `git_tree_free`.
    func lookupTree(_ id: ObjectID) throws(TreeError) -> OpaquePointer {
        var oid = id.gitOID
        var tree: OpaquePointer?
        let code = git_tree_lookup(&tree, repository, &oid)
        if GitError.isNotFound(code) { throw .objectNotFound(id) }
        try GitError.check(code, operation: "git_tree_lookup")
        guard let tree else { throw .objectNotFound(id) }
        return tree
    }

    /// Looks up a commit (`git_commit_lookup`); the caller frees it with `git_commit_free`.
    func lookupCommit(_ id: ObjectID) throws(TreeError) -> OpaquePointer {
        var oid = id.gitOID
        var commit: OpaquePointer?
        let code = git_commit_lookup(&commit, repository, &oid)
        if GitError.isNotFound(code) { throw .objectNotFound(id) }
        try GitError.check(code, operation: "git_commit_lookup")
        guard let commit else { throw .objectNotFound(id) }
        return commit
    }
}

/// A libgit2 repository over a ``ContentStore`` that any thread may use, one at a time.
final class GitRepository: Sendable {
    private let handle: Mutex<GitHandle>

    init(store: ContentStore) throws(TreeError) {
        handle = Mutex(try GitHandle(store: store))
    }

    /// Runs a sequence of libgit2 calls with exclusive use of the handle.
    func withHandle<Result: Sendable>(
        _ body: (GitHandle) throws(TreeError) -> Result
    ) throws(TreeError) -> Result {
        try handle.withLock { (handle) throws(TreeError) -> Result in try body(handle) }
    }
}
