import Foundation
import Hummingbird
import MesaWire

/// `GET /whoami`, `GET /{org}` and the API key routes.
enum OrgRoutes {
    /// An API key as lists show it (never its secret).
    static func info(_ row: APIKeyRow) -> APIKeyInfo {
        APIKeyInfo(
            id: row.id, name: row.name, scopes: row.scopes, repoIDs: row.repoIDs, tags: row.tags,
            createdAt: RouteSupport.time(row.createdAt), expiresAt: row.expiresAt.map(RouteSupport.time),
            lastUsedAt: row.lastUsedAt.map(RouteSupport.time), revokedAt: row.revokedAt.map(RouteSupport.time))
    }

    static func register(on group: RouterGroup<MesaRequestContext>, services: ServerServices) {
        group.get("whoami") { _, context in
            let principal = try context.caller()
            try principal.require(.read)
            let org = principal.org
            let body = WhoAmI(
                org: .init(id: org.id, slug: org.slug, name: org.name), keyID: principal.key.id,
                keyName: principal.key.name, scopes: principal.scopes)
            return try JSONResponse.make(body)
        }

        group.get(":org") { _, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.read)
            // A repo-restricted credential counts only the repos it may see (the others' existence is not its business).
            let count = try await services.blocking { () throws -> Int in
                guard !principal.isUnrestricted else { return try services.metadata.repoCount(orgID: org.id) }
                var count = 0
                var cursor: String?
                repeat {
                    let page = try services.metadata.repos(orgID: org.id, limit: 100, cursor: cursor)
                    count += page.rows.filter(principal.canAccess).count
                    cursor = page.nextCursor
                } while cursor != nil
                return count
            }
            return try JSONResponse.make(OrgInfo(createdAt: RouteSupport.time(org.createdAt), numRepos: count))
        }

        group.post(":org/api-keys") { request, context in
            let (principal, org) = try RouteSupport.org(context)
            guard !principal.viaToken else {
                throw APIError(.forbidden, "TOKEN_CANNOT_MINT", "a token cannot create API keys; use an admin API key")
            }
            try principal.require(.admin)
            let body = try await RouteSupport.decode(CreateAPIKeyRequest.self, from: request, context: context)
            let scopes = body.scopes ?? [.read, .write]
            guard !scopes.isEmpty else { throw APIError.badRequest("scopes must not be empty") }
            guard scopes.allSatisfy({ principal.scopes.allow($0) }) else {
                throw APIError.forbidden("a key cannot be given scopes its creator does not have")
            }
            if let seconds = body.expiresInSeconds, !(100...31_536_000).contains(seconds) {
                throw APIError.badRequest("expires_in_seconds must be between 100 and 31536000")
            }
            if let restriction = principal.key.repoIDs {
                guard let wanted = body.repoIDs, Set(wanted).isSubset(of: restriction) else {
                    throw APIError.forbidden("a repo-restricted key can only create keys restricted to the same repos")
                }
            }
            if let wanted = body.repoIDs {
                guard wanted.count <= 1_000 else { throw APIError.badRequest("repo_ids may name at most 1000 repos") }
                let unknown = try await services.blocking {
                    // The row must match exactly: SQLite compares text only up to a NUL byte.
                    try wanted.filter { id in
                        try services.metadata.repo(id: id).map { $0.id != id || $0.orgID != org.id } ?? true
                    }
                }
                guard unknown.isEmpty else {
                    let names = unknown.map { "'\($0)'" }.joined(separator: ", ")
                    let verb = unknown.count == 1 ? "is not a repo" : "are not repos"
                    throw APIError.badRequest("repo_ids: \(names) \(verb) of org '\(org.slug)'")
                }
            }
            try RouteSupport.validateTagKeys((body.tags ?? [:]).keys)
            let expiresAt = body.expiresInSeconds.map { Date().timeIntervalSince1970 + Double($0) }
            let created = try await services.blocking {
                try services.metadata.createAPIKey(
                    orgID: org.id, name: body.name, scopes: scopes, repoIDs: body.repoIDs, expiresAt: expiresAt,
                    tags: body.tags ?? [:])
            }
            let response = CreatedAPIKey(
                id: created.row.id, key: created.key, name: created.row.name, scopes: created.row.scopes,
                repoIDs: created.row.repoIDs, tags: created.row.tags, createdAt: RouteSupport.time(created.row.createdAt))
            return try JSONResponse.make(response, status: .created)
        }

        group.get(":org/api-keys") { request, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.admin)
            let limit = try RouteSupport.limit(request)
            let cursor = try RouteSupport.query(request, "cursor")
            if let cursor, cursor.isEmpty || cursor.utf8.count > 64 || !cursor.utf8.allSatisfy(RouteSupport.isKeyIDByte) {
                throw APIError.badRequest("cursor '\(cursor)' is not a cursor this list gave")
            }
            let page = try await services.blocking {
                try services.metadata.apiKeys(orgID: org.id, limit: limit, cursor: cursor)
            }
            return try JSONResponse.make(Page(items: page.rows.map(info), nextCursor: page.nextCursor, itemsKey: "api_keys"))
        }

        // A key's tags, patched: a string sets, null removes, an absent key is kept. Answers the key as listed.
        group.patch(":org/api-keys/:id") { request, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.admin)
            let id = try context.segment("id")
            let body = try await RouteSupport.decode(UpdateAPIKeyRequest.self, from: request, context: context)
            try RouteSupport.validateTagKeys(body.tags.keys)
            let updated = try await services.blocking { () throws -> APIKeyRow? in
                // A repo-restricted credential (a key's repo_ids, a token's repos) changes only keys restricted to
                // repos it may access, as it creates only those.
                if !principal.isUnrestricted, let row = try services.metadata.apiKey(id: id), row.id == id,
                    row.orgID == org.id
                {
                    let within = try row.repoIDs.map { ids in
                        try ids.allSatisfy { id in try services.metadata.repo(id: id).map(principal.canAccess) ?? false }
                    } ?? false
                    guard within else {
                        throw APIError.forbidden("a repo-restricted credential can only change keys restricted to its repos")
                    }
                }
                return try services.metadata.updateAPIKeyTags(orgID: org.id, id: id, patch: body.tags)
            }
            guard let updated else { throw APIError.notFound("no API key '\(id)' in org '\(org.slug)'") }
            return try JSONResponse.make(info(updated))
        }

        group.delete(":org/api-keys/:id") { _, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.admin)
            let id = try context.segment("id")
            let revoked = try await services.blocking { try services.metadata.revokeAPIKey(orgID: org.id, id: id) }
            guard revoked else { throw APIError.notFound("no active API key '\(id)' in org '\(org.slug)'") }
            return try JSONResponse.make(SuccessResponse())
        }
    }
}
