// The JSON bodies of Mesa's REST API (MESA-API.md, "Wire details that clients depend on").
//
// Generated Mesa clients parse strictly: a key that must be present is always written, `null` where empty. The
// synthesized `Encodable` conformance would skip `nil` optionals, so types with nullable keys encode by hand.

/// A list page: the items under a resource-named key, `next_cursor` (null at the end) and `has_more`.
public struct Page<Item: Codable & Sendable & Equatable>: Codable, Sendable, Equatable {
    /// The items of this page.
    public var items: [Item]
    /// The cursor of the next page, `nil` at the end.
    public var nextCursor: String?
    /// Whether another page follows.
    public var hasMore: Bool
    /// The JSON key of the items (`repos`, `bookmarks`, `changes`, `api_keys`).
    public var itemsKey: String

    /// Creates a page.
    public init(items: [Item], nextCursor: String?, itemsKey: String) {
        self.items = items
        self.nextCursor = nextCursor
        hasMore = nextCursor != nil
        self.itemsKey = itemsKey
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        let key = container.allKeys.first { !["next_cursor", "has_more"].contains($0.stringValue) }
        guard let key else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "a list has no items key"))
        }
        itemsKey = key.stringValue
        items = try container.decode([Item].self, forKey: key)
        nextCursor = try container.decodeIfPresent(String.self, forKey: Key(stringValue: "next_cursor"))
        hasMore = try container.decode(Bool.self, forKey: Key(stringValue: "has_more"))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(items, forKey: Key(stringValue: itemsKey))
        try container.encode(nextCursor, forKey: Key(stringValue: "next_cursor"))
        try container.encode(hasMore, forKey: Key(stringValue: "has_more"))
    }
}

/// `GET /whoami`.
public struct WhoAmI: Codable, Sendable, Equatable {
    /// The credential's org.
    public var org: OrgRef
    /// The API key behind the credential (non-empty for API-key callers: SDKs sign tokens with it).
    public var keyID: String?
    /// The key's name.
    public var keyName: String?
    /// The effective scopes.
    public var scopes: [Scope]

    /// An org's identity.
    public struct OrgRef: Codable, Sendable, Equatable {
        public var id: String
        public var slug: String
        public var name: String

        public init(id: String, slug: String, name: String) {
            self.id = id
            self.slug = slug
            self.name = name
        }
    }

    enum CodingKeys: String, CodingKey {
        case org, scopes
        case keyID = "key_id"
        case keyName = "key_name"
    }

    public init(org: OrgRef, keyID: String?, keyName: String?, scopes: [Scope]) {
        self.org = org
        self.keyID = keyID
        self.keyName = keyName
        self.scopes = scopes
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(org, forKey: .org)
        try container.encode(keyID, forKey: .keyID)
        try container.encode(keyName, forKey: .keyName)
        try container.encode(scopes, forKey: .scopes)
    }
}

/// `GET /{org}`.
public struct OrgInfo: Codable, Sendable, Equatable {
    public var createdAt: String
    public var numRepos: Int

    enum CodingKeys: String, CodingKey {
        case createdAt = "created_at"
        case numRepos = "num_repos"
    }

    public init(createdAt: String, numRepos: Int) {
        self.createdAt = createdAt
        self.numRepos = numRepos
    }
}

/// A repository.
public struct Repo: Codable, Sendable, Equatable {
    public var id: String
    public var org: String
    public var name: String
    public var defaultBookmark: String
    /// The change at the default bookmark's tip (the virtual root for a new repo).
    public var headChangeID: String
    /// The upstream git remote, `nil` when none (docs/Protocol.md, "Upstream remotes").
    public var upstream: Upstream?
    public var createdAt: String
    public var tags: [String: String]

    enum CodingKeys: String, CodingKey {
        case id, org, name, upstream, tags
        case defaultBookmark = "default_bookmark"
        case headChangeID = "head_change_id"
        case createdAt = "created_at"
    }

    public init(
        id: String, org: String, name: String, defaultBookmark: String, headChangeID: String, createdAt: String,
        tags: [String: String], upstream: Upstream? = nil
    ) {
        self.id = id
        self.org = org
        self.name = name
        self.defaultBookmark = defaultBookmark
        self.headChangeID = headChangeID
        self.upstream = upstream
        self.createdAt = createdAt
        self.tags = tags
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(org, forKey: .org)
        try container.encode(name, forKey: .name)
        try container.encode(defaultBookmark, forKey: .defaultBookmark)
        try container.encode(headChangeID, forKey: .headChangeID)
        try container.encode(upstream, forKey: .upstream)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(tags, forKey: .tags)
    }
}

/// `POST /{org}/repos`.
public struct CreateRepoRequest: Codable, Sendable, Equatable {
    public var name: String?
    public var defaultBookmark: String?
    public var tags: [String: String]?
    /// The upstream git remote to attach at creation.
    public var upstream: UpstreamRequest?

    enum CodingKeys: String, CodingKey {
        case name, tags, upstream
        case defaultBookmark = "default_bookmark"
    }

    public init(
        name: String? = nil, defaultBookmark: String? = nil, tags: [String: String]? = nil,
        upstream: UpstreamRequest? = nil
    ) {
        self.name = name
        self.defaultBookmark = defaultBookmark
        self.tags = tags
        self.upstream = upstream
    }
}

/// What `upstream` of `PATCH /{org}/{repo}` asks: remove the upstream (`null`) or set it (an object).
public enum UpstreamChange: Sendable, Equatable {
    case remove
    case set(UpstreamRequest)
}

/// `PATCH /{org}/{repo}`: `tags` is a patch (a string sets, `null` removes, an absent key is kept).
public struct UpdateRepoRequest: Codable, Sendable, Equatable {
    public var name: String?
    public var defaultBookmark: String?
    public var tags: [String: String?]?
    /// `nil` when `upstream` is absent (kept as it is).
    public var upstream: UpstreamChange?

    enum CodingKeys: String, CodingKey {
        case name, tags, upstream
        case defaultBookmark = "default_bookmark"
    }

    public init(
        name: String? = nil, defaultBookmark: String? = nil, tags: [String: String?]? = nil,
        upstream: UpstreamChange? = nil
    ) {
        self.name = name
        self.defaultBookmark = defaultBookmark
        self.tags = tags
        self.upstream = upstream
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        defaultBookmark = try container.decodeIfPresent(String.self, forKey: .defaultBookmark)
        if container.contains(.tags), !(try container.decodeNil(forKey: .tags)) {
            tags = try TagPatch.decode(from: container, forKey: .tags)
        }
        if container.contains(.upstream) {
            upstream =
                try container.decodeNil(forKey: .upstream)
                ? .remove : .set(try container.decode(UpstreamRequest.self, forKey: .upstream))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(name, forKey: .name)
        try container.encodeIfPresent(defaultBookmark, forKey: .defaultBookmark)
        if let tags { try TagPatch.encode(tags, to: &container, forKey: .tags) }
        switch upstream {
        case nil: break
        case .remove: try container.encodeNil(forKey: .upstream)
        case .set(let request): try container.encode(request, forKey: .upstream)
        }
    }
}

/// A tag patch (`PATCH /{org}/{repo}`, `PATCH /{org}/api-keys/{id}`): a string sets, `null` removes, an absent key
/// is kept.
enum TagPatch {
    /// Decodes an object of strings and nulls; any other value is a decoding error naming the tag.
    static func decode<Key: CodingKey>(
        from container: KeyedDecodingContainer<Key>, forKey key: Key
    ) throws -> [String: String?] {
        let raw = try container.decode([String: JSONValue].self, forKey: key)
        var tags: [String: String?] = [:]
        for (name, value) in raw {
            switch value {
            case .string(let text): tags[name] = .some(text)
            case .null: tags[name] = .some(nil)
            default:
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: container, debugDescription: "tag '\(name)' must be a string or null")
            }
        }
        return tags
    }

    /// Encodes a patch, `nil` values as `null`.
    static func encode<Key: CodingKey>(
        _ tags: [String: String?], to container: inout KeyedEncodingContainer<Key>, forKey key: Key
    ) throws {
        try container.encode(tags.mapValues { $0.map(JSONValue.string) ?? .null }, forKey: key)
    }
}

/// `PATCH /{org}/repos/tags`: sets (`action: "set"` with `value`) or removes (`"remove"`) one tag on several repos,
/// all or none.
public struct BulkRepoTagsRequest: Codable, Sendable, Equatable {
    /// What to do with the tag.
    public enum Action: String, Codable, Sendable {
        case set, remove
    }

    public var repoIDs: [String]
    public var action: Action
    public var key: String
    public var value: String?

    enum CodingKeys: String, CodingKey {
        case action, key, value
        case repoIDs = "repo_ids"
    }

    public init(repoIDs: [String], action: Action, key: String, value: String? = nil) {
        self.repoIDs = repoIDs
        self.action = action
        self.key = key
        self.value = value
    }
}

/// The answer to `PATCH /{org}/repos/tags`: how many repos the request named (each distinct repo once).
public struct BulkRepoTagsResult: Codable, Sendable, Equatable {
    public var updated: Int
    public init(updated: Int) { self.updated = updated }
}

/// `{"success": true}`, the answer to every DELETE.
public struct SuccessResponse: Codable, Sendable, Equatable {
    public var success: Bool
    public init() { success = true }
}

/// A bookmark: a movable name for a change.
public struct Bookmark: Codable, Sendable, Equatable {
    public var name: String
    public var changeID: String
    public var isDefault: Bool

    enum CodingKeys: String, CodingKey {
        case name
        case changeID = "change_id"
        case isDefault = "is_default"
    }

    public init(name: String, changeID: String, isDefault: Bool) {
        self.name = name
        self.changeID = changeID
        self.isDefault = isDefault
    }
}

/// `POST /{org}/{repo}/bookmarks`.
public struct CreateBookmarkRequest: Codable, Sendable, Equatable {
    public var name: String
    public var changeID: String

    enum CodingKeys: String, CodingKey {
        case name
        case changeID = "change_id"
    }

    public init(name: String, changeID: String) {
        self.name = name
        self.changeID = changeID
    }
}

/// `PATCH /{org}/{repo}/bookmarks/{bookmark}`.
public struct MoveBookmarkRequest: Codable, Sendable, Equatable {
    public var changeID: String
    public var allowBackwards: Bool?

    enum CodingKeys: String, CodingKey {
        case changeID = "change_id"
        case allowBackwards = "allow_backwards"
    }

    public init(changeID: String, allowBackwards: Bool = false) {
        self.changeID = changeID
        self.allowBackwards = allowBackwards
    }
}

/// The answer to a bookmark move: the bookmark plus where it was.
public struct MovedBookmark: Codable, Sendable, Equatable {
    public var name: String
    public var changeID: String
    public var isDefault: Bool
    public var fromChangeID: String?

    enum CodingKeys: String, CodingKey {
        case name
        case changeID = "change_id"
        case isDefault = "is_default"
        case fromChangeID = "from_change_id"
    }

    public init(bookmark: Bookmark, fromChangeID: String?) {
        name = bookmark.name
        changeID = bookmark.changeID
        isDefault = bookmark.isDefault
        self.fromChangeID = fromChangeID
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(changeID, forKey: .changeID)
        try container.encode(isDefault, forKey: .isDefault)
        try container.encode(fromChangeID, forKey: .fromChangeID)
    }
}

/// `POST /{org}/{repo}/bookmarks/merge`.
public struct MergeRequest: Codable, Sendable, Equatable {
    public var target: String
    public var source: String
    public var deleteSource: Bool?
    public var allowConflicted: Bool?
    public var message: String?
    public var resolutions: [Resolution]?

    enum CodingKeys: String, CodingKey {
        case target, source, message, resolutions
        case deleteSource = "delete_source"
        case allowConflicted = "allow_conflicted"
    }

    public init(
        target: String, source: String, deleteSource: Bool? = nil, allowConflicted: Bool? = nil,
        message: String? = nil, resolutions: [Resolution]? = nil
    ) {
        self.target = target
        self.source = source
        self.deleteSource = deleteSource
        self.allowConflicted = allowConflicted
        self.message = message
        self.resolutions = resolutions
    }
}

/// A conflict resolution: whole-file content, a side to take, or one resolution per conflict hunk.
public struct Resolution: Codable, Sendable, Equatable {
    public var path: String
    /// Base64 content of the resolved file.
    public var content: String?
    /// `target` or `source`.
    public var take: String?
    /// Per-hunk resolutions; they must cover every hunk of the file (exclusive with `content` and `take`).
    public var hunks: [HunkResolution]?

    public init(path: String, content: String? = nil, take: String? = nil, hunks: [HunkResolution]? = nil) {
        self.path = path
        self.content = content
        self.take = take
        self.hunks = hunks
    }
}

/// The resolution of one conflict hunk, named by the `hunk_id` a MERGE_CONFLICT answer or a diff gave.
public struct HunkResolution: Codable, Sendable, Equatable {
    public var hunkID: String
    /// Base64 bytes that replace the hunk (exclusive with `take`).
    public var content: String?
    /// `target` or `source`: that side's lines replace the hunk.
    public var take: String?
    /// Only `base64` (the default).
    public var encoding: String?

    enum CodingKeys: String, CodingKey {
        case content, take, encoding
        case hunkID = "hunk_id"
    }

    public init(hunkID: String, content: String? = nil, take: String? = nil, encoding: String? = nil) {
        self.hunkID = hunkID
        self.content = content
        self.take = take
        self.encoding = encoding
    }
}

/// The answer to a merge.
public struct MergeResult: Codable, Sendable, Equatable {
    /// `merge_commit` or `no_op` (never `fast_forward`).
    public var mergeType: String
    public var isConflicted: Bool
    public var commitOID: String?
    public var changeID: String?
    public var target: String
    public var source: String
    public var sourceDeleted: Bool

    enum CodingKeys: String, CodingKey {
        case target, source
        case mergeType = "merge_type"
        case isConflicted = "is_conflicted"
        case commitOID = "commit_oid"
        case changeID = "change_id"
        case sourceDeleted = "source_deleted"
    }

    public init(
        mergeType: String, isConflicted: Bool, commitOID: String?, changeID: String?, target: String, source: String,
        sourceDeleted: Bool
    ) {
        self.mergeType = mergeType
        self.isConflicted = isConflicted
        self.commitOID = commitOID
        self.changeID = changeID
        self.target = target
        self.source = source
        self.sourceDeleted = sourceDeleted
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(mergeType, forKey: .mergeType)
        try container.encode(isConflicted, forKey: .isConflicted)
        try container.encode(commitOID, forKey: .commitOID)
        try container.encode(changeID, forKey: .changeID)
        try container.encode(target, forKey: .target)
        try container.encode(source, forKey: .source)
        try container.encode(sourceDeleted, forKey: .sourceDeleted)
    }
}

/// A person on a change: name, email (present, may be null) and optionally a date.
public struct Signature: Codable, Sendable, Equatable {
    public var name: String
    public var email: String?
    public var date: String?

    public init(name: String, email: String?, date: String? = nil) {
        self.name = name
        self.email = email
        self.date = date
    }

    enum CodingKeys: String, CodingKey { case name, email, date }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(email, forKey: .email)
        try container.encodeIfPresent(date, forKey: .date)
    }
}

/// An author in a change's `authors` list: `{name, email}` with email present, possibly null.
public struct AuthorRef: Codable, Sendable, Equatable {
    public var name: String
    public var email: String?

    public init(name: String, email: String?) {
        self.name = name
        self.email = email
    }

    enum CodingKeys: String, CodingKey { case name, email }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(email, forKey: .email)
    }
}

/// A change: a stable id whose current commit is replaced as the change evolves.
public struct Change: Codable, Sendable, Equatable {
    public var id: String
    public var currentCommitOID: String
    public var isConflicted: Bool
    /// `""` when none, never null.
    public var message: String
    public var author: Signature
    public var authors: [AuthorRef]
    public var authoredAt: String
    public var committer: Signature
    public var parents: [String]
    public var createdAt: String
    public var updatedAt: String
    /// Only on a single GET: paths the change touches.
    public var files: [String]?
    /// Only on a single GET: conflicted paths.
    public var conflicts: [String]?

    enum CodingKeys: String, CodingKey {
        case id, message, author, authors, committer, parents, files, conflicts
        case currentCommitOID = "current_commit_oid"
        case isConflicted = "is_conflicted"
        case authoredAt = "authored_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(
        id: String, currentCommitOID: String, isConflicted: Bool, message: String, author: Signature,
        authors: [AuthorRef], authoredAt: String, committer: Signature, parents: [String], createdAt: String,
        updatedAt: String, files: [String]? = nil, conflicts: [String]? = nil
    ) {
        self.id = id
        self.currentCommitOID = currentCommitOID
        self.isConflicted = isConflicted
        self.message = message
        self.author = author
        self.authors = authors
        self.authoredAt = authoredAt
        self.committer = committer
        self.parents = parents
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.files = files
        self.conflicts = conflicts
    }
}

/// One file operation of a change create or patch. An item whose `action` is not `delete` is an upsert, even with
/// no `action`; a missing `encoding` means base64.
public struct FileOperation: Codable, Sendable, Equatable {
    public var path: String
    public var content: String?
    public var encoding: String?
    public var action: String?
    /// `100644` or `100755`.
    public var mode: String?

    public init(path: String, content: String? = nil, encoding: String? = nil, action: String? = nil, mode: String? = nil) {
        self.path = path
        self.content = content
        self.encoding = encoding
        self.action = action
        self.mode = mode
    }

    /// Whether this item deletes its path.
    public var isDelete: Bool { action == "delete" }
}

/// `POST /{org}/{repo}/changes`.
public struct CreateChangeRequest: Codable, Sendable, Equatable {
    public var baseChangeID: String
    public var message: String?
    public var author: Signature?
    public var committer: Signature?
    public var files: [FileOperation]?

    enum CodingKeys: String, CodingKey {
        case message, author, committer, files
        case baseChangeID = "base_change_id"
    }

    public init(
        baseChangeID: String, message: String? = nil, author: Signature? = nil, committer: Signature? = nil,
        files: [FileOperation]? = nil
    ) {
        self.baseChangeID = baseChangeID
        self.message = message
        self.author = author
        self.committer = committer
        self.files = files
    }
}

/// `PATCH /{org}/{repo}/changes/{change_id}`: evolves the change (new commit, same id).
public struct UpdateChangeRequest: Codable, Sendable, Equatable {
    public var message: String?
    public var author: Signature?
    public var committer: Signature?
    public var files: [FileOperation]?
    /// 409 when the change has moved past this commit.
    public var baseCommitOID: String?
    public var resolutions: [Resolution]?

    enum CodingKeys: String, CodingKey {
        case message, author, committer, files, resolutions
        case baseCommitOID = "base_commit_oid"
    }

    public init(
        message: String? = nil, author: Signature? = nil, committer: Signature? = nil, files: [FileOperation]? = nil,
        baseCommitOID: String? = nil, resolutions: [Resolution]? = nil
    ) {
        self.message = message
        self.author = author
        self.committer = committer
        self.files = files
        self.baseCommitOID = baseCommitOID
        self.resolutions = resolutions
    }
}

/// `GET /{org}/{repo}/content`: a file, a symlink or a directory.
public struct ContentEntry: Codable, Sendable, Equatable {
    /// `file`, `symlink` or `dir`.
    public var type: String
    public var name: String
    public var path: String
    public var sha: String
    /// Files and symlinks.
    public var size: Int64?
    /// Files and symlinks at the top level: `base64`.
    public var encoding: String?
    /// Files and symlinks at the top level: base64 bytes (a symlink's target).
    public var content: String?
    /// Files and symlinks: `100644`, `100755` or `120000` (a string).
    public var mode: String?
    /// Directories at the top level.
    public var childCount: Int?
    /// Directories at the top level: flat entries, without content.
    public var entries: [ContentEntry]?
    public var isConflicted: Bool?

    enum CodingKeys: String, CodingKey {
        case type, name, path, sha, size, encoding, content, mode, entries
        case childCount = "child_count"
        case isConflicted = "is_conflicted"
    }

    public init(
        type: String, name: String, path: String, sha: String, size: Int64? = nil, encoding: String? = nil,
        content: String? = nil, mode: String? = nil, childCount: Int? = nil, entries: [ContentEntry]? = nil,
        isConflicted: Bool? = nil
    ) {
        self.type = type
        self.name = name
        self.path = path
        self.sha = sha
        self.size = size
        self.encoding = encoding
        self.content = content
        self.mode = mode
        self.childCount = childCount
        self.entries = entries
        self.isConflicted = isConflicted
    }
}

/// `POST /{org}/api-keys`.
public struct CreateAPIKeyRequest: Codable, Sendable, Equatable {
    public var name: String?
    public var scopes: [Scope]?
    public var repoIDs: [String]?
    public var expiresInSeconds: Int?
    public var tags: [String: String]?

    enum CodingKeys: String, CodingKey {
        case name, scopes, tags
        case repoIDs = "repo_ids"
        case expiresInSeconds = "expires_in_seconds"
    }

    public init(
        name: String? = nil, scopes: [Scope]? = nil, repoIDs: [String]? = nil, expiresInSeconds: Int? = nil,
        tags: [String: String]? = nil
    ) {
        self.name = name
        self.scopes = scopes
        self.repoIDs = repoIDs
        self.expiresInSeconds = expiresInSeconds
        self.tags = tags
    }
}

/// The answer to an API key creation: the only time the secret is shown.
public struct CreatedAPIKey: Codable, Sendable, Equatable {
    public var id: String
    public var key: String
    public var name: String?
    public var scopes: [Scope]
    public var repoIDs: [String]?
    public var tags: [String: String]
    public var createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, key, name, scopes, tags
        case repoIDs = "repo_ids"
        case createdAt = "created_at"
    }

    public init(
        id: String, key: String, name: String?, scopes: [Scope], repoIDs: [String]?, tags: [String: String],
        createdAt: String
    ) {
        self.id = id
        self.key = key
        self.name = name
        self.scopes = scopes
        self.repoIDs = repoIDs
        self.tags = tags
        self.createdAt = createdAt
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(key, forKey: .key)
        try container.encode(name, forKey: .name)
        try container.encode(scopes, forKey: .scopes)
        try container.encode(repoIDs, forKey: .repoIDs)
        try container.encode(tags, forKey: .tags)
        try container.encode(createdAt, forKey: .createdAt)
    }
}

/// An API key as listed (never its secret).
public struct APIKeyInfo: Codable, Sendable, Equatable {
    public var id: String
    public var name: String?
    public var scopes: [Scope]
    public var repoIDs: [String]?
    public var tags: [String: String]?
    public var metadata: [String: JSONValue]?
    public var createdAt: String
    public var expiresAt: String?
    public var lastUsedAt: String?
    public var revokedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, name, scopes, tags, metadata
        case repoIDs = "repo_ids"
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
    }

    public init(
        id: String, name: String?, scopes: [Scope], repoIDs: [String]?, tags: [String: String]?, createdAt: String,
        expiresAt: String?, lastUsedAt: String?, revokedAt: String?
    ) {
        self.id = id
        self.name = name
        self.scopes = scopes
        self.repoIDs = repoIDs
        self.tags = tags
        metadata = nil
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(scopes, forKey: .scopes)
        try container.encode(repoIDs, forKey: .repoIDs)
        try container.encode(tags, forKey: .tags)
        try container.encode(metadata, forKey: .metadata)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(expiresAt, forKey: .expiresAt)
        try container.encode(lastUsedAt, forKey: .lastUsedAt)
        try container.encode(revokedAt, forKey: .revokedAt)
    }
}

/// `PATCH /{org}/api-keys/{id}`: `tags` (required) is a patch: a string sets, `null` removes, an absent key is kept.
public struct UpdateAPIKeyRequest: Codable, Sendable, Equatable {
    public var tags: [String: String?]

    enum CodingKeys: String, CodingKey {
        case tags
    }

    public init(tags: [String: String?]) { self.tags = tags }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        tags = try TagPatch.decode(from: container, forKey: .tags)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try TagPatch.encode(tags, to: &container, forKey: .tags)
    }
}
