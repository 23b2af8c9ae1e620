import Foundation
import Hummingbird
import MesaTree
import MesaWire

/// The repo routes: list, create, get, update, delete.
enum RepoRoutes {
    /// The virtual root change: the empty tree, where a new repo's default bookmark resolves until the first write.
    static let rootChangeID = String(repeating: "z", count: 32)

    static func register(on group: RouterGroup<MesaRequestContext>, services: ServerServices) {
        group.get(":org/repos") { request, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.read)
            let limit = try RouteSupport.limit(request)
            let cursor = try RouteSupport.nameCursor(request, validate: RouteSupport.validateRepoName)
            let tags = RepoTagFilter(request)
            let repos = try await services.blocking { () throws -> (items: [Repo], next: String?) in
                // A repo-restricted credential sees only its repos, a tag filter only the matching ones; page until a
                // page has some or the list ends.
                var cursor = cursor
                var items: [Repo] = []
                while true {
                    let page = try services.metadata.repos(orgID: org.id, limit: limit, cursor: cursor)
                    items += try page.rows.filter { principal.canAccess($0) && tags.matches($0.tags) }
                        .map { try json($0, org: org, services: services) }
                    cursor = page.nextCursor
                    if !items.isEmpty || cursor == nil { return (items, cursor) }
                }
            }
            let next = repos.next.map(RouteSupport.nameCursor(after:))
            return try JSONResponse.make(Page(items: repos.items, nextCursor: next, itemsKey: "repos"))
        }

        group.post(":org/repos") { request, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.write)
            guard principal.isUnrestricted else { throw APIError.forbidden("a repo-restricted credential cannot create repos") }
            let body = try await RouteSupport.decode(CreateRepoRequest.self, from: request, context: context)
            let name = body.name ?? "repo-" + UUID().uuidString.prefix(8).lowercased()
            try RouteSupport.validateRepoName(name)
            try RouteSupport.validateRepoNameIsNotRoute(name)
            let bookmark = body.defaultBookmark ?? "main"
            try RouteSupport.validateBookmarkName(bookmark)
            try RouteSupport.validateTagKeys((body.tags ?? [:]).keys)
            if let upstream = body.upstream { try UpstreamRoutes.validate(upstream, services: services) }
            let repo = try await services.blocking {
                let row = try services.metadata.createRepo(
                    orgID: org.id, name: name, defaultBookmark: bookmark, tags: body.tags ?? [:])
                if let upstream = body.upstream {
                    try UpstreamRoutes.store(upstream, repoID: row.id, services: services)
                }
                return try json(row, org: org, services: services)
            }
            return try JSONResponse.make(repo, status: .created)
        }

        // One tag set or removed on several repos at once, all or none (Mesa's `PATCH /{org}/repos/tags`). "repos" is
        // a reserved repo name, so this never shadows a repo's route.
        group.patch(":org/repos/tags") { request, context in
            let (principal, org) = try RouteSupport.org(context)
            try principal.require(.write)
            let body = try await RouteSupport.decode(BulkRepoTagsRequest.self, from: request, context: context)
            try RouteSupport.validateTagKeys([body.key])
            switch (body.action, body.value) {
            case (.set, nil): throw APIError.badRequest("action 'set' needs a 'value'")
            case (.remove, .some): throw APIError.badRequest("action 'remove' takes no 'value'")
            default: break
            }
            var seen = Set<String>()
            let ids = body.repoIDs.filter { seen.insert($0).inserted }
            guard !ids.isEmpty else { throw APIError.badRequest("repo_ids must name at least one repo") }
            guard ids.count <= 1_000 else { throw APIError.badRequest("repo_ids may name at most 1000 repos") }
            try await services.blocking {
                // A repo-restricted credential may tag only its repos (403 as for one repo's PATCH); the others are
                // checked for existence in the write's transaction, which changes nothing unless all are there.
                if !principal.isUnrestricted {
                    for id in ids {
                        if let row = try services.metadata.repo(id: id), row.id == id, row.orgID == org.id {
                            try principal.require(.write, on: row)
                        }
                    }
                }
                try services.metadata.setRepoTag(orgID: org.id, repoIDs: ids, key: body.key, value: body.value)
            }
            return try JSONResponse.make(BulkRepoTagsResult(updated: ids.count))
        }

        group.get(":org/:repo") { _, context in
            let (row, org) = try await resolve(context, services: services, scope: .read)
            return try JSONResponse.make(try await services.blocking { try json(row, org: org, services: services) })
        }

        group.patch(":org/:repo") { request, context in
            let (resolved, org) = try await resolve(context, services: services, scope: .write)
            var row = resolved
            let body = try await RouteSupport.decode(UpdateRepoRequest.self, from: request, context: context)
            if let name = body.name {
                try RouteSupport.validateRepoName(name)
                // Sending the current name back is never refused.
                if name != resolved.name { try RouteSupport.validateRepoNameIsNotRoute(name) }
                row.name = name
            }
            if let bookmark = body.defaultBookmark {
                try RouteSupport.validateBookmarkName(bookmark)
                row.defaultBookmark = bookmark
            }
            try RouteSupport.validateTagKeys((body.tags ?? [:]).keys)
            for (key, value) in body.tags ?? [:] { row.tags[key] = value }
            if case .set(let upstream) = body.upstream { try UpstreamRoutes.validate(upstream, services: services) }
            let updated = row
            let repo = try await services.blocking {
                // A new default must be an existing bookmark, unless the repo has none yet: an empty repo may name the
                // bookmark its first write creates (docs/Protocol.md, "REST choices"). Names compare as bytes.
                if !updated.defaultBookmark.utf8.elementsEqual(resolved.defaultBookmark.utf8) {
                    let catalog = services.metadata.catalog(repoID: updated.id)
                    let exists = try catalog.bookmark(named: updated.defaultBookmark) != nil
                    guard try exists || catalog.bookmarks().isEmpty else {
                        throw TreeError.bookmarkNotFound(updated.defaultBookmark)
                    }
                }
                try services.metadata.updateRepo(updated)
                switch body.upstream {
                case nil: break
                case .remove:
                    try services.metadata.setUpstream(nil, repoID: updated.id)
                    UpstreamRoutes.removeMirror(of: updated.id, services: services)
                case .set(let upstream): try UpstreamRoutes.store(upstream, repoID: updated.id, services: services)
                }
                return try json(updated, org: org, services: services)
            }
            return try JSONResponse.make(repo)
        }

        group.delete(":org/:repo") { _, context in
            let (row, _) = try await resolve(context, services: services, scope: .write)
            try await services.blocking {
                try services.metadata.deleteRepo(id: row.id)
                UpstreamRoutes.removeMirror(of: row.id, services: services)
            }
            services.repositories.forget(row.id)
            return try JSONResponse.make(SuccessResponse())
        }
    }

    /// The repo named in the path, checked against the caller's org, scope and repo restriction.
    static func resolve(
        _ context: MesaRequestContext, services: ServerServices, scope: Scope
    ) async throws -> (RepoRow, OrgRow) {
        let (principal, org) = try RouteSupport.org(context)
        let name = try context.segment("repo")
        guard let row = try await services.blocking({ try services.metadata.repo(orgID: org.id, name: name) }) else {
            throw APIError.notFound("repo '\(org.slug)/\(name)' does not exist")
        }
        try principal.require(scope, on: row)
        return (row, org)
    }

    /// The REST body of a repo (blocking: reads its default bookmark).
    static func json(_ row: RepoRow, org: OrgRow, services: ServerServices) throws -> Repo {
        let head = try services.metadata.bookmarkTarget(repoID: row.id, name: row.defaultBookmark) ?? rootChangeID
        return Repo(
            id: row.id, org: org.slug, name: row.name, defaultBookmark: row.defaultBookmark, headChangeID: head,
            createdAt: RouteSupport.time(row.createdAt), tags: row.tags,
            upstream: try UpstreamRoutes.upstream(of: row.id, services: services))
    }
}
