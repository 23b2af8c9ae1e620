// Upstream git remotes (docs/Protocol.md, "Upstream remotes"): the `upstream` of a repo create or PATCH, the
// `upstream` every repo answer carries, and the sync jobs of `/{org}/{repo}/upstream/syncs`. Field names follow the
// models of Mesa's generated Python client (mesa-rest 0.44.1). Credentials are write-only: no answer type has a field
// for them.

/// Credentials for an upstream remote, as a create or PATCH sends them.
public enum UpstreamAuth: Codable, Sendable, Equatable {
    /// `{kind: "token", token, token_username?}`: HTTP basic with `token_username` (default `x-access-token`).
    case token(token: String, username: String?)
    /// `{kind: "username_password", username, password}`: HTTP basic.
    case usernamePassword(username: String, password: String)

    enum CodingKeys: String, CodingKey {
        case kind, token, username, password
        case tokenUsername = "token_username"
    }

    /// `token` or `username_password`.
    public var kind: String {
        switch self {
        case .token: "token"
        case .usernamePassword: "username_password"
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(String.self, forKey: .kind)
        switch kind {
        case "token":
            self = .token(
                token: try container.decode(String.self, forKey: .token),
                username: try container.decodeIfPresent(String.self, forKey: .tokenUsername)
            )
        case "username_password":
            self = .usernamePassword(
                username: try container.decode(String.self, forKey: .username),
                password: try container.decode(String.self, forKey: .password)
            )
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .kind,
                in: container,
                debugDescription: "auth kind '\(kind)' is not one of 'token' and 'username_password'"
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        switch self {
        case .token(let token, let username):
            try container.encode(token, forKey: .token)
            try container.encodeIfPresent(username, forKey: .tokenUsername)
        case .usernamePassword(let username, let password):
            try container.encode(username, forKey: .username)
            try container.encode(password, forKey: .password)
        }
    }
}

/// What `auth` of an upstream request says: leave the stored credential, clear it, or set it.
public enum UpstreamAuthChange: Sendable, Equatable {
    /// `auth` absent: on PATCH the stored credential is kept; on create the upstream is public.
    case keep
    /// `auth: null`: the upstream is public.
    case clear
    /// `auth: {...}`: set or replace the credential.
    case set(UpstreamAuth)
}

/// `upstream` of `POST /{org}/repos` and `PATCH /{org}/{repo}`: `{url, auth?}`.
public struct UpstreamRequest: Codable, Sendable, Equatable {
    public var url: String
    public var auth: UpstreamAuthChange

    enum CodingKeys: String, CodingKey {
        case url, auth
    }

    public init(url: String, auth: UpstreamAuthChange = .keep) {
        self.url = url
        self.auth = auth
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        url = try container.decode(String.self, forKey: .url)
        if !container.contains(.auth) {
            auth = .keep
        } else if try container.decodeNil(forKey: .auth) {
            auth = .clear
        } else {
            auth = .set(try container.decode(UpstreamAuth.self, forKey: .auth))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(url, forKey: .url)
        switch auth {
        case .keep: break
        case .clear: try container.encodeNil(forKey: .auth)
        case .set(let value): try container.encode(value, forKey: .auth)
        }
    }
}

/// A repo's upstream as every repo answer shows it: `{url, auth_kind, latest_sync}`.
public struct Upstream: Codable, Sendable, Equatable {
    public var url: String
    /// `token`, `username_password`, or `nil` for a public upstream.
    public var authKind: String?
    /// The most recent sync, `nil` before the first.
    public var latestSync: UpstreamSync?

    enum CodingKeys: String, CodingKey {
        case url
        case authKind = "auth_kind"
        case latestSync = "latest_sync"
    }

    public init(url: String, authKind: String?, latestSync: UpstreamSync?) {
        self.url = url
        self.authKind = authKind
        self.latestSync = latestSync
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(url, forKey: .url)
        try container.encode(authKind, forKey: .authKind)
        try container.encode(latestSync, forKey: .latestSync)
    }
}

/// Branch and tag globs of a sync: `{branches, tags}` (`fnmatch` patterns; `*` matches every name).
public struct UpstreamRefGlobs: Codable, Sendable, Equatable {
    public var branches: String
    public var tags: String

    public init(branches: String = "*", tags: String = "*") {
        self.branches = branches
        self.tags = tags
    }

    enum CodingKeys: String, CodingKey {
        case branches, tags
    }

    /// Decodes a request's globs: either key may be absent (it then matches every name), not both.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let branches = try container.decodeIfPresent(String.self, forKey: .branches)
        let tags = try container.decodeIfPresent(String.self, forKey: .tags)
        guard branches != nil || tags != nil else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "ref_globs needs 'branches' or 'tags'")
            )
        }
        self.branches = branches ?? "*"
        self.tags = tags ?? "*"
    }
}

/// `POST /{org}/{repo}/upstream/syncs`: `{direction: "pull"|"push", ref_globs?}`.
public struct StartUpstreamSyncRequest: Codable, Sendable, Equatable {
    public var direction: String
    public var refGlobs: UpstreamRefGlobs?

    enum CodingKeys: String, CodingKey {
        case direction
        case refGlobs = "ref_globs"
    }

    public init(direction: String, refGlobs: UpstreamRefGlobs? = nil) {
        self.direction = direction
        self.refGlobs = refGlobs
    }
}

/// What a sync did to one ref: `{name, before, after, outcome}`.
public struct UpstreamSyncRef: Codable, Sendable, Equatable {
    /// The full ref name, `refs/heads/<bookmark>`.
    public var name: String
    /// Where the destination was before (`nil` when it did not exist).
    public var before: String?
    /// The commit the source side offered.
    public var after: String
    /// `updated`, `unchanged`, `filtered` or `rejected`.
    public var outcome: String

    enum CodingKeys: String, CodingKey {
        case name, before, after, outcome
    }

    public init(name: String, before: String?, after: String, outcome: String) {
        self.name = name
        self.before = before
        self.after = after
        self.outcome = outcome
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(before, forKey: .before)
        try container.encode(after, forKey: .after)
        try container.encode(outcome, forKey: .outcome)
    }
}

/// The per-ref outcomes of a finished sync: `{refs}`.
public struct UpstreamSyncStats: Codable, Sendable, Equatable {
    public var refs: [UpstreamSyncRef]

    public init(refs: [UpstreamSyncRef]) { self.refs = refs }
}

/// A sync job: `{id, repo_id, direction, status, attempt, ref_globs, stats, error, created_at, started_at,
/// finished_at}`.
public struct UpstreamSync: Codable, Sendable, Equatable {
    public var id: String
    public var repoID: String
    /// `pull` or `push`.
    public var direction: String
    /// `queued`, `in_progress`, `completed` or `failed`.
    public var status: String
    /// Attempts started (0 while the first waits).
    public var attempt: Int
    public var refGlobs: UpstreamRefGlobs
    /// Per-ref outcomes, once the sync completed.
    public var stats: UpstreamSyncStats?
    /// Why the last attempt failed.
    public var error: String?
    public var createdAt: String
    public var startedAt: String?
    public var finishedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, direction, status, attempt, stats, error
        case repoID = "repo_id"
        case refGlobs = "ref_globs"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }

    public init(
        id: String,
        repoID: String,
        direction: String,
        status: String,
        attempt: Int,
        refGlobs: UpstreamRefGlobs,
        stats: UpstreamSyncStats?,
        error: String?,
        createdAt: String,
        startedAt: String?,
        finishedAt: String?
    ) {
        self.id = id
        self.repoID = repoID
        self.direction = direction
        self.status = status
        self.attempt = attempt
        self.refGlobs = refGlobs
        self.stats = stats
        self.error = error
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(repoID, forKey: .repoID)
        try container.encode(direction, forKey: .direction)
        try container.encode(status, forKey: .status)
        try container.encode(attempt, forKey: .attempt)
        try container.encode(refGlobs, forKey: .refGlobs)
        try container.encode(stats, forKey: .stats)
        try container.encode(error, forKey: .error)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encode(finishedAt, forKey: .finishedAt)
    }
}
