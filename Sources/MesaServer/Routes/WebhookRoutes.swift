import Foundation
import Hummingbird
import MesaWire

/// Webhook targets (`/{org}/webhook-targets`, admin scope) and their recent deliveries (MESA-API.md, "Webhooks";
/// the deliveries list is ours: docs/Protocol.md, "REST choices"). The signing secret is answered once, on create.
enum WebhookRoutes {
    static func register(on group: RouterGroup<MesaRequestContext>, services: ServerServices) {
        group.get(":org/webhook-targets") { request, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.admin)
            let limit = try RouteSupport.limit(request)
            let cursor = try cursor(request)
            let page = try await services.blocking { () throws -> (items: [WebhookTarget], next: String?) in
                // A repo-scoped credential sees only its targets; page until a page has some or the list ends.
                var cursor = cursor
                var items: [WebhookTarget] = []
                while true {
                    let page = try services.metadata.webhookTargets(orgID: org.id, limit: limit, cursor: cursor)
                    items += try page.rows.filter { try manageable($0.repoIDs, principal, org, services) }.map(json)
                    cursor = page.nextCursor
                    if !items.isEmpty || cursor == nil { return (items, cursor) }
                }
            }
            return try JSONResponse.make(Page(items: page.items, nextCursor: page.next, itemsKey: "webhook_targets"))
        }

        group.post(":org/webhook-targets") { request, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.admin)
            let body = try await RouteSupport.decode(CreateWebhookTargetRequest.self, from: request, context: context)
            try validate(url: body.url)
            let events = try validate(events: body.events ?? [.push])
            let name = try validate(name: body.name)
            let created = try await services.blocking { () throws -> WebhookTargetRow in
                try checkRepos(body.repoIDs, principal, org, services)
                return try services.metadata.createWebhookTarget(
                    orgID: org.id, name: name, url: body.url, events: events, repoIDs: body.repoIDs)
            }
            var answer = json(created)
            answer.secret = created.secret
            return try JSONResponse.make(answer, status: .created)
        }

        group.get(":org/webhook-targets/:id") { _, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.admin)
            let id = try context.segment("id")
            let row = try await services.blocking { try target(id, principal, org, services) }
            return try JSONResponse.make(json(row))
        }

        group.patch(":org/webhook-targets/:id") { request, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.admin)
            let id = try context.segment("id")
            let body = try await RouteSupport.decode(UpdateWebhookTargetRequest.self, from: request, context: context)
            if let url = body.url { try validate(url: url) }
            let events = try body.events.map { try validate(events: $0) }
            let name = try body.name.map { try validate(name: $0) }
            let updated = try await services.blocking { () throws -> WebhookTargetRow in
                var row = try target(id, principal, org, services)
                if let url = body.url { row.url = url }
                if let name { row.name = name }
                if let events { row.events = events }
                if let repoIDs = body.repoIDs {
                    try checkRepos(repoIDs, principal, org, services)
                    row.repoIDs = repoIDs
                }
                return try services.metadata.updateWebhookTarget(row)
            }
            return try JSONResponse.make(json(updated))
        }

        group.delete(":org/webhook-targets/:id") { _, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.admin)
            let id = try context.segment("id")
            try await services.blocking {
                _ = try target(id, principal, org, services)
                guard try services.metadata.deleteWebhookTarget(orgID: org.id, id: id) else {
                    throw APIError.notFound("no webhook target '\(id)' in org '\(org.slug)'")
                }
            }
            return try JSONResponse.make(SuccessResponse())
        }

        group.get(":org/webhook-targets/:id/deliveries") { request, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.admin)
            let id = try context.segment("id")
            let limit = try RouteSupport.limit(request)
            let cursorText = try RouteSupport.query(request, "cursor")
            let cursor = try cursorText.map { text throws(APIError) -> Int64 in
                guard let value = Int64(text), value > 0 else {
                    throw .badRequest("cursor '\(text)' is not a cursor this list gave")
                }
                return value
            }
            let page = try await services.blocking { () throws -> MetadataPage<WebhookDeliveryRow> in
                _ = try target(id, principal, org, services)
                return try services.metadata.webhookDeliveries(targetID: id, limit: limit, cursor: cursor)
            }
            let items = page.rows.map { row in
                WebhookDelivery(
                    id: String(row.sequence), eventID: row.eventID, type: row.type, status: row.status.rawValue,
                    attempts: row.attempts, createdAt: RouteSupport.time(row.createdAt),
                    lastAttemptAt: row.lastAttemptAt.map(RouteSupport.time), lastStatusCode: row.lastStatusCode,
                    lastError: row.lastError,
                    nextAttemptAt: row.status == .pending ? RouteSupport.time(row.nextAttemptAt) : nil,
                    completedAt: row.completedAt.map(RouteSupport.time))
            }
            return try JSONResponse.make(Page(items: items, nextCursor: page.nextCursor, itemsKey: "deliveries"))
        }
    }

    /// A target as answered, without its secret.
    static func json(_ row: WebhookTargetRow) -> WebhookTarget {
        WebhookTarget(
            id: row.id, name: row.name, url: row.url, events: row.events, repoIDs: row.repoIDs,
            createdAt: RouteSupport.time(row.createdAt), updatedAt: RouteSupport.time(row.updatedAt))
    }

    /// The target `id` of the org, if the caller may manage it (404 otherwise: another credential's targets are
    /// not this one's business).
    static func target(
        _ id: String, _ principal: Principal, _ org: OrgRow, _ services: ServerServices
    ) throws -> WebhookTargetRow {
        guard let row = try services.metadata.webhookTarget(orgID: org.id, id: id), row.id == id,
            try manageable(row.repoIDs, principal, org, services)
        else { throw APIError.notFound("no webhook target '\(id)' in org '\(org.slug)'") }
        return row
    }

    /// Whether the caller may manage a target with this repo filter: an unrestricted credential any, a repo-scoped one
    /// only targets limited to repos it may access (MESA-API.md, "Webhooks").
    static func manageable(
        _ repoIDs: [String]?, _ principal: Principal, _ org: OrgRow, _ services: ServerServices
    ) throws -> Bool {
        guard !principal.isUnrestricted else { return true }
        guard let repoIDs, !repoIDs.isEmpty else { return false }
        return try repoIDs.allSatisfy { id in
            try services.metadata.repo(id: id).map { $0.id == id && $0.orgID == org.id && principal.canAccess($0) }
                ?? false
        }
    }

    /// Checks a new repo filter: every id a repo of the org, and within a repo-scoped caller's repos.
    static func checkRepos(
        _ repoIDs: [String]?, _ principal: Principal, _ org: OrgRow, _ services: ServerServices
    ) throws {
        if let repoIDs {
            guard repoIDs.count <= 1_000 else { throw APIError.badRequest("repo_ids may name at most 1000 repos") }
            // The row must match exactly: SQLite compares text only up to a NUL byte.
            let unknown = try repoIDs.filter { id in
                try services.metadata.repo(id: id).map { $0.id != id || $0.orgID != org.id } ?? true
            }
            guard unknown.isEmpty else {
                let names = unknown.map { "'\($0)'" }.joined(separator: ", ")
                let verb = unknown.count == 1 ? "is not a repo" : "are not repos"
                throw APIError.badRequest("repo_ids: \(names) \(verb) of org '\(org.slug)'")
            }
        }
        guard try manageable(repoIDs, principal, org, services) else {
            throw APIError(
                .forbidden, "REPO_NOT_ALLOWED",
                "a repo-scoped credential can only manage webhook targets limited to its own repos")
        }
    }

    /// `?cursor` of the target list: a target id.
    private static func cursor(_ request: Request) throws(APIError) -> String? {
        guard let cursor = try RouteSupport.query(request, "cursor") else { return nil }
        let valid = cursor.hasPrefix("wht_") && cursor.utf8.count <= 64
            && cursor.utf8.dropFirst(4).allSatisfy(RouteSupport.isKeyIDByte)
        guard valid else { throw .badRequest("cursor '\(cursor)' is not a cursor this list gave") }
        return cursor
    }

    /// A target URL: absolute `http` or `https` with a host, at most 2048 bytes.
    static func validate(url text: String) throws(APIError) {
        let lower = text.lowercased()
        guard text.utf8.count <= 2048, lower.hasPrefix("http://") || lower.hasPrefix("https://"),
            let url = URL(string: text), let host = url.host, !host.isEmpty,
            !text.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f })
        else {
            throw .badRequest(
                "url '\(text)' must be an absolute http:// or https:// URL with a host (at most 2048 bytes)")
        }
    }

    /// Events: at least one, each once (kept in the given order).
    static func validate(events: [WebhookEventType]) throws(APIError) -> [WebhookEventType] {
        guard !events.isEmpty else {
            let known = WebhookEventType.allCases.map(\.rawValue).joined(separator: ", ")
            throw .badRequest("events must name at least one of: \(known)")
        }
        var seen = Set<WebhookEventType>()
        return events.filter { seen.insert($0).inserted }
    }

    /// A target name: at most 200 bytes, no NUL.
    static func validate(name: String?) throws(APIError) -> String? {
        guard let name else { return nil }
        guard name.utf8.count <= 200, !name.utf8.contains(0) else {
            throw .badRequest("name must be at most 200 bytes without NUL")
        }
        return name
    }
}
