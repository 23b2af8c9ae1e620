package import MesaCore
package import MesaTree
package import MesaWire

// The server's metadata (orgs, API keys, repos, object references) sits behind this protocol so that a PostgreSQL
// implementation can replace SQLite when a deployment outgrows one machine (DESIGN.md section 4). Methods are
// synchronous and thread-safe: the server calls them on its blocking pool, never on the cooperative pool.

/// An org (tenant).
package struct OrgRow: Sendable, Equatable {
    package var id: String
    package var slug: String
    package var name: String
    package var createdAt: Double
}

/// An API key, without its secret (only the signing key derived from it is stored).
package struct APIKeyRow: Sendable, Equatable {
    package var id: String
    package var orgID: String
    package var name: String?
    package var signingKey: String
    package var scopes: [Scope]
    /// Repo ids the key is restricted to; `nil` means every repo of the org.
    package var repoIDs: [String]?
    package var tags: [String: String]
    package var createdAt: Double
    package var expiresAt: Double?
    package var lastUsedAt: Double?
    package var revokedAt: Double?
}

/// A repository.
package struct RepoRow: Sendable, Equatable {
    package var id: String
    package var orgID: String
    package var name: String
    package var defaultBookmark: String
    package var tags: [String: String]
    package var createdAt: Double
}

/// One page of a list, ordered, with the cursor of the next page.
package struct MetadataPage<Row: Sendable>: Sendable {
    package var rows: [Row]
    package var nextCursor: String?
}

/// Why a metadata operation failed.
package enum MetadataError: Error, Sendable, Equatable {
    /// A unique name is taken (repo name in an org, org slug).
    case conflict(String)
    /// No such row.
    case notFound(String)
    /// The database failed.
    case database(String)
}

/// A repo's change and bookmark tables, with what the REST API shows beyond MesaTree's catalog.
package protocol RepoCatalog: ChangeCatalog {
    /// When a change was created and last evolved (seconds since the epoch), and its recorded conflict paths.
    func details(of id: ChangeID) throws(TreeError) -> (created: Double, updated: Double, conflicts: [String])?
    /// Records the conflicted paths of a change's current commit (empty when clean).
    func setConflicts(_ paths: [String], of id: ChangeID) throws(TreeError)
    /// Every change id, most recently updated first.
    func changeIDsByRecency() throws(TreeError) -> [ChangeID]
    /// Applies change and bookmark updates atomically, together with the repo references of the records they make
    /// reachable: all of it when every expectation holds, none otherwise (so a change is never visible without its
    /// references, nor references kept for a change that was refused).
    /// `conflicts` replaces the recorded conflict paths of the changes it names, in the same transaction.
    /// `cause` says which webhook events the write records, in the same transaction (WebhookStore.swift).
    /// - Returns: the expectations that failed (empty when the updates were applied).
    func apply(
        changes: [(record: ChangeRecord, expected: Expectation<ObjectID>)],
        bookmarks: [(bookmark: MesaTree.Bookmark, expected: Expectation<ChangeID>)],
        references: [RecordKey],
        conflicts: [ChangeID: [String]],
        cause: CatalogWriteCause
    ) throws(TreeError) -> [CatalogConflict]
}

extension RepoCatalog {
    /// ``apply(changes:bookmarks:references:conflicts:cause:)`` of a REST write, leaving every change's conflicts as
    /// they are.
    package func apply(
        changes: [(record: ChangeRecord, expected: Expectation<ObjectID>)],
        bookmarks: [(bookmark: MesaTree.Bookmark, expected: Expectation<ChangeID>)],
        references: [RecordKey],
        cause: CatalogWriteCause = .write
    ) throws(TreeError) -> [CatalogConflict] {
        try apply(changes: changes, bookmarks: bookmarks, references: references, conflicts: [:], cause: cause)
    }
}

/// What an atomic catalog update is, for the webhook events it records.
package enum CatalogWriteCause: Sendable, Equatable {
    /// A REST write: `change.*` and `bookmark.created`/`bookmark.moved` events.
    case write
    /// A merge: the target bookmark's update is `bookmark.merged`.
    case merge
    /// A sync push: the change and bookmark events, then one `push` event with the bookmark updates and counts of the
    /// records the push carried and newly stored.
    case push(recordsReceived: Int, recordsStored: Int)
}

/// An expectation of an atomic catalog update that did not hold.
package enum CatalogConflict: Sendable, Equatable {
    /// The change's current commit differs from the expected one.
    case change(ChangeID, expected: ObjectID?, current: ObjectID?)
    /// The bookmark points elsewhere than expected.
    case bookmark(String, expected: ChangeID?, current: ChangeID?)
}

/// The server's metadata store.
package protocol MetadataStore: WebhookStore, UpstreamStore {
    /// The change and bookmark tables of one repo.
    func catalog(repoID: String) -> any RepoCatalog
    /// Bumped by every write of a repo's catalog (and of its default bookmark): what long-polling resolves wait on.
    var revisions: RevisionSignal { get }

    /// Creates an org.
    func createOrg(slug: String, name: String) throws(MetadataError) -> OrgRow
    /// The org with this slug.
    func org(slug: String) throws(MetadataError) -> OrgRow?
    /// The org with this id.
    func org(id: String) throws(MetadataError) -> OrgRow?

    /// Creates an API key and returns its row and the key, shown once.
    func createAPIKey(
        orgID: String, name: String?, scopes: [Scope], repoIDs: [String]?, expiresAt: Double?, tags: [String: String]
    ) throws(MetadataError) -> (row: APIKeyRow, key: String)
    /// The key with this id.
    func apiKey(id: String) throws(MetadataError) -> APIKeyRow?
    /// The key whose signing key is this (how a presented API key is authenticated).
    func apiKey(signingKey: String) throws(MetadataError) -> APIKeyRow?
    /// An org's keys, oldest first.
    func apiKeys(orgID: String, limit: Int, cursor: String?) throws(MetadataError) -> MetadataPage<APIKeyRow>
    /// Revokes a key (and with it every token signed from it).
    func revokeAPIKey(orgID: String, id: String) throws(MetadataError) -> Bool
    /// Applies a tag patch (a value sets, `nil` removes) to an org's key, revoked or not, and returns the key as
    /// updated; `nil` when the org has no key with this id.
    func updateAPIKeyTags(orgID: String, id: String, patch: [String: String?]) throws(MetadataError) -> APIKeyRow?
    /// Records that a key was used.
    func touchAPIKey(id: String, at time: Double) throws(MetadataError)

    /// Creates a repo.
    /// - Throws: ``MetadataError/conflict(_:)`` when the org has a repo of that name.
    func createRepo(orgID: String, name: String, defaultBookmark: String, tags: [String: String]) throws(MetadataError)
        -> RepoRow
    /// The repo with this name in an org.
    func repo(orgID: String, name: String) throws(MetadataError) -> RepoRow?
    /// The repo with this id.
    func repo(id: String) throws(MetadataError) -> RepoRow?
    /// An org's repos by name.
    func repos(orgID: String, limit: Int, cursor: String?) throws(MetadataError) -> MetadataPage<RepoRow>
    /// The number of repos of an org.
    func repoCount(orgID: String) throws(MetadataError) -> Int
    /// The id of every repo of every org, in id order (maintenance that spans orgs, such as
    /// `mesa debug store fsck --deep --data-dir`).
    func allRepoIDs() throws(MetadataError) -> [String]
    /// Replaces a repo's name, default bookmark and tags.
    func updateRepo(_ repo: RepoRow) throws(MetadataError)
    /// Sets one tag (`value`) or removes it (`nil`) on repos of an org, in one transaction: all or none.
    /// - Throws: ``MetadataError/notFound(_:)`` naming every id that is not a repo of the org (nothing changed).
    func setRepoTag(orgID: String, repoIDs: [String], key: String, value: String?) throws(MetadataError)
    /// Deletes a repo with its changes and bookmarks.
    func deleteRepo(id: String) throws(MetadataError)
    /// The change id a repo's bookmark points at, if the bookmark exists.
    func bookmarkTarget(repoID: String, name: String) throws(MetadataError) -> String?

    /// Every commit a repo's changes have had (current and evolved-from), as 40-digit hex: where its history
    /// starts when its references are rebuilt.
    func recordedCommits(repoID: String) throws(MetadataError) -> [String]

    // Object references, per repo (docs/Protocol.md, "Authorization by repository"): a record is served to a repo,
    // and may be named by a push into it, only when the repo references it.

    /// Records that a repo references content (chunks, manifests, trees, commits); `staged` marks pushed records
    /// that no applied transaction of the repo reaches yet (a staged row never downgrades a referenced one).
    func addReferences(repoID: String, keys: [RecordKey], staged: Bool) throws(MetadataError)
    /// The subset of `keys` the repo references (staged or not).
    func referenced(repoID: String, keys: [RecordKey]) throws(MetadataError) -> Set<RecordKey>
    /// The subset of `keys` the repo holds only as staged.
    func staged(repoID: String, keys: [RecordKey]) throws(MetadataError) -> Set<RecordKey>
    /// Every key the repo holds only as staged (pushed, waiting for a transaction, kept through the grace period),
    /// in key order.
    func stagedKeys(repoID: String) throws(MetadataError) -> [RecordKey]
    /// Forgets staged references of a repo (what a refused push staged); referenced rows stay.
    func dropStaged(repoID: String, keys: [RecordKey]) throws(MetadataError)
    /// Deletes staged rows staged before `cutoff` (seconds since the epoch).
    /// - Returns: how many were deleted.
    func expireStaged(before cutoff: Double) throws(MetadataError) -> Int
    /// Every key some repo references or holds staged: what garbage collection keeps.
    func allReferencedKeys() throws(MetadataError) -> Set<RecordKey>

    /// Repos whose references predate per-repo references and must be rebuilt from their history.
    func reposAwaitingReferenceRebuild() throws(MetadataError) -> [String]
    /// Forgets a repo's references and marks it for a rebuild from its history (a repair: the next
    /// ``ReferenceRebuild/run(services:)``, at the latest when the server next opens its data, restores them).
    func markForReferenceRebuild(repoID: String) throws(MetadataError)
    /// Records a repo's rebuilt references and clears its rebuild mark, in one transaction.
    func finishReferenceRebuild(repoID: String, keys: [RecordKey]) throws(MetadataError)

    /// The known shapes (deepest and longest path below) of trees, for validating pushed trees above them.
    func treeShapes(_ ids: [ObjectID]) throws(MetadataError) -> [ObjectID: TreeShape]
    /// Remembers tree shapes (a pure function of the tree's content).
    func recordTreeShapes(_ shapes: [ObjectID: TreeShape]) throws(MetadataError)
}
