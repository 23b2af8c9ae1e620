// Webhook bodies (MESA-API.md, "Webhooks"): targets under `/{org}/webhook-targets`, the deliveries our server lists
// for a target (docs/Protocol.md, "REST choices"), and the event envelope a receiver gets. Keys that may be `null` are
// always written, so these types encode by hand where a field is optional.

/// The event types a webhook target may subscribe to, with their exact wire names.
public enum WebhookEventType: String, Codable, Sendable, CaseIterable {
    case repoCreated = "repo.created"
    case repoUpdated = "repo.updated"
    case repoDeleted = "repo.deleted"
    case bookmarkCreated = "bookmark.created"
    case bookmarkDeleted = "bookmark.deleted"
    case bookmarkMoved = "bookmark.moved"
    case bookmarkMerged = "bookmark.merged"
    case changeCreated = "change.created"
    case changeEvolved = "change.evolved"
    case push
}

/// `POST /{org}/webhook-targets`.
public struct CreateWebhookTargetRequest: Codable, Sendable, Equatable {
    public var url: String
    public var name: String?
    /// The server's default is `["push"]`.
    public var events: [WebhookEventType]?
    /// `nil`: every repo of the org.
    public var repoIDs: [String]?

    enum CodingKeys: String, CodingKey {
        case url, name, events
        case repoIDs = "repo_ids"
    }

    public init(url: String, name: String? = nil, events: [WebhookEventType]? = nil, repoIDs: [String]? = nil) {
        self.url = url
        self.name = name
        self.events = events
        self.repoIDs = repoIDs
    }
}

/// `PATCH /{org}/webhook-targets/{id}`: replaces the fields given; `repo_ids: null` clears the repo filter and
/// `name: null` the name, an absent key keeps the field.
public struct UpdateWebhookTargetRequest: Codable, Sendable, Equatable {
    public var url: String?
    /// `nil`: keep; `.some(nil)`: clear; `.some(name)`: replace.
    public var name: String??
    public var events: [WebhookEventType]?
    /// `nil`: keep; `.some(nil)`: clear (every repo); `.some(ids)`: replace.
    public var repoIDs: [String]??

    enum CodingKeys: String, CodingKey {
        case url, name, events
        case repoIDs = "repo_ids"
    }

    public init(
        url: String? = nil, name: String?? = nil, events: [WebhookEventType]? = nil, repoIDs: [String]?? = nil
    ) {
        self.url = url
        self.name = name
        self.events = events
        self.repoIDs = repoIDs
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        url = try container.decodeIfPresent(String.self, forKey: .url)
        if container.contains(.name) {
            let cleared = try container.decodeNil(forKey: .name)
            name = .some(cleared ? nil : try container.decode(String.self, forKey: .name))
        }
        events = try container.decodeIfPresent([WebhookEventType].self, forKey: .events)
        if container.contains(.repoIDs) {
            let cleared = try container.decodeNil(forKey: .repoIDs)
            repoIDs = .some(cleared ? nil : try container.decode([String].self, forKey: .repoIDs))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(url, forKey: .url)
        if let name { try container.encode(name, forKey: .name) }
        try container.encodeIfPresent(events, forKey: .events)
        if let repoIDs { try container.encode(repoIDs, forKey: .repoIDs) }
    }
}

/// A webhook target. `secret` is present only in the answer to its creation; every other answer omits the key.
public struct WebhookTarget: Codable, Sendable, Equatable {
    public var id: String
    public var name: String?
    public var url: String
    public var events: [WebhookEventType]
    public var repoIDs: [String]?
    public var createdAt: String
    public var updatedAt: String
    /// The signing secret, shown once.
    public var secret: String?

    enum CodingKeys: String, CodingKey {
        case id, name, url, events, secret
        case repoIDs = "repo_ids"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(
        id: String, name: String?, url: String, events: [WebhookEventType], repoIDs: [String]?, createdAt: String,
        updatedAt: String, secret: String? = nil
    ) {
        self.id = id
        self.name = name
        self.url = url
        self.events = events
        self.repoIDs = repoIDs
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.secret = secret
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(url, forKey: .url)
        try container.encode(events, forKey: .events)
        try container.encode(repoIDs, forKey: .repoIDs)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encodeIfPresent(secret, forKey: .secret)
    }
}

/// One event's delivery to one target, as `GET /{org}/webhook-targets/{id}/deliveries` lists it.
public struct WebhookDelivery: Codable, Sendable, Equatable {
    public var id: String
    public var eventID: String
    public var type: WebhookEventType
    /// `pending` (waiting for its first or next attempt), `delivered` (a 2xx answer) or `failed` (given up).
    public var status: String
    public var attempts: Int
    public var createdAt: String
    public var lastAttemptAt: String?
    /// The receiver's last HTTP status, `nil` when it never answered.
    public var lastStatusCode: Int?
    /// Why the last attempt failed, `nil` after a success or before the first attempt.
    public var lastError: String?
    /// When the next attempt is due (pending deliveries only).
    public var nextAttemptAt: String?
    public var completedAt: String?

    enum CodingKeys: String, CodingKey {
        case id, type, status, attempts
        case eventID = "event_id"
        case createdAt = "created_at"
        case lastAttemptAt = "last_attempt_at"
        case lastStatusCode = "last_status_code"
        case lastError = "last_error"
        case nextAttemptAt = "next_attempt_at"
        case completedAt = "completed_at"
    }

    public init(
        id: String, eventID: String, type: WebhookEventType, status: String, attempts: Int, createdAt: String,
        lastAttemptAt: String?, lastStatusCode: Int?, lastError: String?, nextAttemptAt: String?, completedAt: String?
    ) {
        self.id = id
        self.eventID = eventID
        self.type = type
        self.status = status
        self.attempts = attempts
        self.createdAt = createdAt
        self.lastAttemptAt = lastAttemptAt
        self.lastStatusCode = lastStatusCode
        self.lastError = lastError
        self.nextAttemptAt = nextAttemptAt
        self.completedAt = completedAt
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(eventID, forKey: .eventID)
        try container.encode(type, forKey: .type)
        try container.encode(status, forKey: .status)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(lastAttemptAt, forKey: .lastAttemptAt)
        try container.encode(lastStatusCode, forKey: .lastStatusCode)
        try container.encode(lastError, forKey: .lastError)
        try container.encode(nextAttemptAt, forKey: .nextAttemptAt)
        try container.encode(completedAt, forKey: .completedAt)
    }
}

/// The body of a webhook delivery: `{id, type, occurred_at, organization, repository | null, data}`.
public struct WebhookEvent: Codable, Sendable, Equatable {
    public var id: String
    public var type: WebhookEventType
    public var occurredAt: String
    public var organization: WhoAmI.OrgRef
    public var repository: Repository?
    /// The event's data; its shape depends on ``type`` (MESA-API.md, "Webhooks").
    public var data: JSONValue

    /// The repository an event concerns.
    public struct Repository: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var url: String

        public init(id: String, name: String, url: String) {
            self.id = id
            self.name = name
            self.url = url
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, type, organization, repository, data
        case occurredAt = "occurred_at"
    }

    public init(
        id: String, type: WebhookEventType, occurredAt: String, organization: WhoAmI.OrgRef, repository: Repository?,
        data: JSONValue
    ) {
        self.id = id
        self.type = type
        self.occurredAt = occurredAt
        self.organization = organization
        self.repository = repository
        self.data = data
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(type, forKey: .type)
        try container.encode(occurredAt, forKey: .occurredAt)
        try container.encode(organization, forKey: .organization)
        try container.encode(repository, forKey: .repository)
        try container.encode(data, forKey: .data)
    }
}
