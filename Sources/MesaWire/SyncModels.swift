// The JSON bodies of the sync protocol (docs/Protocol.md). Record keys travel as `kind:hex` strings
// (`chunk:<64 hex>`, `manifest|tree|commit:<40 hex>`), revisions as `bookmark:<name>`, `change-id:<id>`, or empty
// for the repo's default bookmark.

/// `GET sync/capabilities`: the protocol versions and limits of the server.
public struct SyncCapabilities: Codable, Sendable, Equatable {
    /// The newest protocol version the server speaks.
    public var protocolVersion: Int
    /// The oldest protocol version the server still accepts.
    public var minimumProtocolVersion: Int
    /// Size bounds.
    public var limits: SyncLimits
    /// Optional features, such as `subtree-content`.
    public var features: [String]

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol_version"
        case minimumProtocolVersion = "min_protocol_version"
        case limits, features
    }

    /// The version this build speaks.
    public static let currentVersion = 1

    /// Creates capabilities.
    public init(protocolVersion: Int, minimumProtocolVersion: Int, limits: SyncLimits, features: [String]) {
        self.protocolVersion = protocolVersion
        self.minimumProtocolVersion = minimumProtocolVersion
        self.limits = limits
        self.features = features
    }
}

/// What a revision resolves to.
public struct RevisionResolution: Codable, Sendable, Equatable {
    /// The revision as asked.
    public var revision: String
    /// The change it names.
    public var changeID: String
    /// The change's current commit (40 hex; the empty string for the virtual root).
    public var commit: String
    /// The commit's root tree (40 hex; git's empty tree for the virtual root).
    public var rootTree: String
    /// Commit time, seconds since the epoch (files of a clean checkout show it as mtime).
    public var commitTime: Int64

    enum CodingKeys: String, CodingKey {
        case revision
        case changeID = "change_id"
        case commit
        case rootTree = "root_tree"
        case commitTime = "commit_time"
    }

    /// Creates a resolution.
    public init(revision: String, changeID: String, commit: String, rootTree: String, commitTime: Int64) {
        self.revision = revision
        self.changeID = changeID
        self.commit = commit
        self.rootTree = rootTree
        self.commitTime = commitTime
    }
}

/// `POST sync/resolve`.
public struct ResolveRequest: Codable, Sendable, Equatable {
    /// The revisions to resolve.
    public var revisions: [String]
    /// With `If-None-Match`: how long the server may hold the request while nothing moved, in milliseconds
    /// (at most ``maximumWait``), answering as soon as something does (a long poll; feature `resolve-wait`).
    public var waitMilliseconds: Int?

    /// The longest wait a server grants.
    public static let maximumWait = 30_000

    enum CodingKeys: String, CodingKey {
        case revisions
        case waitMilliseconds = "wait_ms"
    }

    /// Creates a request.
    public init(revisions: [String], waitMilliseconds: Int? = nil) {
        self.revisions = revisions
        self.waitMilliseconds = waitMilliseconds
    }
}

/// The answer to `sync/resolve`: one resolution per revision, in order.
public struct ResolveResponse: Codable, Sendable, Equatable {
    /// The resolutions.
    public var resolutions: [RevisionResolution]

    /// Creates a response.
    public init(resolutions: [RevisionResolution]) { self.resolutions = resolutions }
}

/// `POST sync/lookup`: everything needed to read one path in one round trip.
public struct LookupRequest: Codable, Sendable, Equatable {
    /// The revision (empty: the default bookmark).
    public var revision: String
    /// A slash-separated path relative to the repo root (empty: the root).
    public var path: String
    /// Files up to this size come with their chunks inline.
    public var inlineMaxBytes: Int

    enum CodingKeys: String, CodingKey {
        case revision, path
        case inlineMaxBytes = "inline_max_bytes"
    }

    /// Creates a request.
    public init(revision: String, path: String, inlineMaxBytes: Int = 256 << 10) {
        self.revision = revision
        self.path = path
        self.inlineMaxBytes = inlineMaxBytes
    }
}

/// The JSON header frame of a lookup stream; the tree, manifest and chunk records follow it.
public struct LookupHeader: Codable, Sendable, Equatable {
    /// What the revision resolved to.
    public var resolution: RevisionResolution
    /// The target's type: `file`, `symlink`, `dir`, or `nil` when the path does not exist.
    public var type: String?
    /// The target's git id (blob or tree).
    public var id: String?
    /// The target's git mode as octal text (`100644`, `100755`, `120000`, `40000`).
    public var mode: String?
    /// The target's size for files and symlinks.
    public var size: Int64?

    /// Creates a header.
    public init(resolution: RevisionResolution, type: String?, id: String?, mode: String?, size: Int64?) {
        self.resolution = resolution
        self.type = type
        self.id = id
        self.mode = mode
        self.size = size
    }
}

/// `POST sync/trees`: trees under roots, to a depth, streamed.
public struct TreesRequest: Codable, Sendable, Equatable {
    /// Tree ids (40 hex).
    public var roots: [String]
    /// Levels below each root to include (0: the roots only); `nil`: the whole subtree.
    public var depth: Int?
    /// Trees the client already has; they are neither sent nor descended into.
    public var have: [String]?

    /// Creates a request.
    public init(roots: [String], depth: Int?, have: [String]? = nil) {
        self.roots = roots
        self.depth = depth
        self.have = have
    }
}

/// `POST sync/objects`: records by key, and optionally a whole subtree's content, streamed.
public struct ObjectsRequest: Codable, Sendable, Equatable {
    /// Records wanted, as `kind:hex`.
    public var keys: [String]
    /// A subtree whose manifests (and chunks) are wanted.
    public var subtree: SubtreeContent?

    /// Creates a request.
    public init(keys: [String], subtree: SubtreeContent? = nil) {
        self.keys = keys
        self.subtree = subtree
    }
}

/// A subtree's content, for recursive walks (`grep -r`, `find -exec`).
public struct SubtreeContent: Codable, Sendable, Equatable {
    /// The subtree's root tree id.
    public var tree: String
    /// Stop after this many bytes of chunks.
    public var maxBytes: Int64
    /// Files larger than this are skipped (their manifests still come).
    public var maxFileBytes: Int64
    /// Keys the client already has.
    public var have: [String]?

    enum CodingKeys: String, CodingKey {
        case tree, have
        case maxBytes = "max_bytes"
        case maxFileBytes = "max_file_bytes"
    }

    /// Creates a subtree request.
    public init(tree: String, maxBytes: Int64, maxFileBytes: Int64, have: [String]? = nil) {
        self.tree = tree
        self.maxBytes = maxBytes
        self.maxFileBytes = maxFileBytes
        self.have = have
    }
}

/// `POST sync/have`: which of these keys the server lacks (for this org).
public struct HaveRequest: Codable, Sendable, Equatable {
    /// Keys as `kind:hex`.
    public var keys: [String]

    /// Creates a request.
    public init(keys: [String]) { self.keys = keys }
}

/// The answer to `sync/have`.
public struct HaveResponse: Codable, Sendable, Equatable {
    /// The keys the server does not have for this org, in request order.
    public var missing: [String]

    /// Creates a response.
    public init(missing: [String]) { self.missing = missing }
}

/// The transaction that ends a push stream: applied atomically after every record is stored.
public struct PushTransaction: Codable, Sendable, Equatable {
    /// Changes to create or evolve.
    public var changes: [ChangeUpdate]
    /// Bookmarks to create or move.
    public var bookmarks: [BookmarkUpdate]

    /// Creates a transaction.
    public init(changes: [ChangeUpdate], bookmarks: [BookmarkUpdate]) {
        self.changes = changes
        self.bookmarks = bookmarks
    }
}

/// Create or evolve one change.
public struct ChangeUpdate: Codable, Sendable, Equatable {
    /// The change id.
    public var changeID: String
    /// The commit the client last saw for this change; `nil`: the change must be new.
    public var expectedCommit: String?
    /// The new commit (already pushed in the stream or present on the server).
    public var commit: String
    /// The parent change ids; `nil` keeps an evolving change's parents as they are (a new change goes on the root).
    public var parents: [String]?
    /// Paths of the new commit that hold unresolved conflicts (a mount's three-way merge, or those it still sees
    /// markers in). The change then shows `is_conflicted` with these and every earlier conflict path the commit
    /// leaves unchanged; a recorded path the commit changes and does not name is resolved.
    public var conflicts: [String]?
    /// Recorded conflict paths resolved whether or not the commit changes them (a mount that saw the server's copy
    /// of a binary conflict deleted).
    public var resolved: [String]?

    enum CodingKeys: String, CodingKey {
        case changeID = "change_id"
        case expectedCommit = "expected_commit"
        case commit, parents, conflicts, resolved
    }

    /// Creates an update.
    public init(
        changeID: String, expectedCommit: String?, commit: String, parents: [String]?, conflicts: [String]? = nil,
        resolved: [String]? = nil
    ) {
        self.changeID = changeID
        self.expectedCommit = expectedCommit
        self.commit = commit
        self.parents = parents
        self.conflicts = conflicts
        self.resolved = resolved
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(changeID, forKey: .changeID)
        try container.encode(expectedCommit, forKey: .expectedCommit)
        try container.encode(commit, forKey: .commit)
        try container.encodeIfPresent(parents, forKey: .parents)
        try container.encodeIfPresent(conflicts, forKey: .conflicts)
        try container.encodeIfPresent(resolved, forKey: .resolved)
    }
}

/// Create or move one bookmark.
public struct BookmarkUpdate: Codable, Sendable, Equatable {
    /// The bookmark's name.
    public var name: String
    /// The change it must point at now; `nil`: it must not exist.
    public var expectedChange: String?
    /// The change it will point at.
    public var change: String

    enum CodingKeys: String, CodingKey {
        case name
        case expectedChange = "expected_change"
        case change
    }

    /// Creates an update.
    public init(name: String, expectedChange: String?, change: String) {
        self.name = name
        self.expectedChange = expectedChange
        self.change = change
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(expectedChange, forKey: .expectedChange)
        try container.encode(change, forKey: .change)
    }
}

/// The JSON frame that answers a push: applied, or refused with what the client needs to merge.
public struct PushResult: Codable, Sendable, Equatable {
    /// `applied` or `conflict`.
    public var status: String
    /// Records stored by this push (new to the server).
    public var stored: Int
    /// On conflict: the stale change or bookmark and what it is now.
    public var conflicts: [PushConflict]

    /// Creates a result.
    public init(status: String, stored: Int, conflicts: [PushConflict]) {
        self.status = status
        self.stored = stored
        self.conflicts = conflicts
    }
}

/// One stale expectation of a push. The response stream carries the current commit and its trees after it.
public struct PushConflict: Codable, Sendable, Equatable {
    /// `change` or `bookmark`.
    public var kind: String
    /// The change id or bookmark name.
    public var name: String
    /// What the client expected.
    public var expected: String?
    /// What the server has (a commit for a change, a change id for a bookmark).
    public var current: String?

    /// Creates a conflict.
    public init(kind: String, name: String, expected: String?, current: String?) {
        self.kind = kind
        self.name = name
        self.expected = expected
        self.current = current
    }

    enum CodingKeys: String, CodingKey { case kind, name, expected, current }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(name, forKey: .name)
        try container.encode(expected, forKey: .expected)
        try container.encode(current, forKey: .current)
    }
}
