import Foundation
import Hummingbird
import Logging
import MesaWire

// Upstream remotes over REST (docs/Protocol.md, "Upstream remotes"): the `upstream` of repo create and PATCH and of
// every repo answer, and the sync jobs under `/{org}/{repo}/upstream/syncs`. Starting a sync needs write scope, like
// any other write to the repo; reading syncs needs read.

enum UpstreamRoutes {
    static func register(on group: RouterGroup<MesaRequestContext>, services: ServerServices) {
        group.post(":org/:repo/upstream/syncs") { request, context in
            let (repo, _) = try await RepoRoutes.resolve(context, services: services, scope: .write)
            let body = try await RouteSupport.decode(StartUpstreamSyncRequest.self, from: request, context: context)
            guard let direction = UpstreamDirection(rawValue: body.direction) else {
                throw APIError.badRequest("direction '\(body.direction)' must be 'pull' or 'push'")
            }
            let globs = body.refGlobs ?? UpstreamRefGlobs()
            for glob in [globs.branches, globs.tags] {
                guard !glob.isEmpty, glob.utf8.count <= 1024, !glob.utf8.contains(0) else {
                    throw APIError.badRequest("ref_globs patterns must be 1-1024 bytes without NUL")
                }
            }
            let sync = try await services.blocking { () throws -> UpstreamSync in
                try requireUpstream(repo, services)
                let row = try services.metadata.createUpstreamSync(
                    repoID: repo.id,
                    direction: direction,
                    globs: globs,
                    at: Date().timeIntervalSince1970
                )
                return json(row)
            }
            return try JSONResponse.make(sync, status: .created)
        }

        group.get(":org/:repo/upstream/syncs") { request, context in
            let (repo, _) = try await RepoRoutes.resolve(context, services: services, scope: .read)
            let limit = try RouteSupport.limit(request)
            let cursor = try RouteSupport.query(request, "cursor").map { text throws(APIError) -> Int64 in
                guard let value = Int64(text), value > 0 else {
                    throw .badRequest("cursor '\(text)' is not a cursor this list gave")
                }
                return value
            }
            let page = try await services.blocking { () throws -> MetadataPage<UpstreamSyncRow> in
                try requireUpstream(repo, services)
                return try services.metadata.upstreamSyncs(repoID: repo.id, limit: limit, cursor: cursor)
            }
            return try JSONResponse.make(
                Page(items: page.rows.map(json), nextCursor: page.nextCursor, itemsKey: "syncs")
            )
        }

        group.get(":org/:repo/upstream/syncs/:id") { _, context in
            let (repo, _) = try await RepoRoutes.resolve(context, services: services, scope: .read)
            let id = try context.segment("id")
            let sync = try await services.blocking { () throws -> UpstreamSync in
                try requireUpstream(repo, services)
                guard let row = try services.metadata.upstreamSync(repoID: repo.id, id: id) else {
                    throw APIError.notFound("repo '\(repo.name)' has no upstream sync '\(id)'")
                }
                return json(row)
            }
            return try JSONResponse.make(sync)
        }
    }

    /// 404 unless the repo has an upstream (blocking).
    private static func requireUpstream(_ repo: RepoRow, _ services: ServerServices) throws {
        guard try services.metadata.upstream(repoID: repo.id) != nil else {
            throw APIError.notFound("repo '\(repo.name)' has no upstream: set one with PATCH {\"upstream\": {\"url\"}}")
        }
    }

    /// A sync as answered.
    static func json(_ row: UpstreamSyncRow) -> UpstreamSync {
        UpstreamSync(
            id: row.id,
            repoID: row.repoID,
            direction: row.direction.rawValue,
            status: row.status.rawValue,
            attempt: row.attempt,
            refGlobs: row.globs,
            stats: row.refs.map(UpstreamSyncStats.init(refs:)),
            error: row.error,
            createdAt: RouteSupport.time(row.createdAt),
            startedAt: row.startedAt.map(RouteSupport.time),
            finishedAt: row.finishedAt.map(RouteSupport.time)
        )
    }

    /// A repo's `upstream` as answered, `nil` when it has none (blocking).
    static func upstream(of repoID: String, services: ServerServices) throws -> Upstream? {
        guard let row = try services.metadata.upstream(repoID: repoID) else { return nil }
        let latest = try services.metadata.latestUpstreamSync(repoID: repoID)
        return Upstream(url: row.url, authKind: row.authKind, latestSync: latest.map(json))
    }

    /// Deletes a repo's upstream mirror (blocking), once the repo or its upstream is gone. A sync running meanwhile
    /// fails (its repo or upstream no longer exists), so nothing needs the mirror any more.
    static func removeMirror(of repoID: String, services: ServerServices) {
        let path = services.upstreamMirrors + "/" + repoID + ".git"
        guard FileManager.default.fileExists(atPath: path) else { return }
        do {
            try FileManager.default.removeItem(atPath: path)
        } catch {
            services.logger.warning(
                "cannot remove an upstream mirror",
                metadata: ["repo.id": "\(repoID)", "error": "\(error)"]
            )
        }
    }

    /// Checks an upstream request before anything is written (400 for a bad URL or empty credential fields).
    static func validate(_ request: UpstreamRequest, services: ServerServices) throws(APIError) {
        try UpstreamURL.validate(request.url, allowFile: services.allowFileUpstreams)
        guard case .set(let auth) = request.auth else { return }
        switch auth {
        case .token(let token, let username):
            guard !token.isEmpty, username.map({ !$0.isEmpty }) ?? true else {
                throw .badRequest("upstream auth 'token' needs a non-empty token (and token_username when given)")
            }
        case .usernamePassword(let username, let password):
            guard !username.isEmpty, !password.isEmpty else {
                throw .badRequest("upstream auth 'username_password' needs a non-empty username and password")
            }
        }
    }

    /// Stores a validated upstream request for a repo (blocking): `auth` absent keeps a stored credential, `null`
    /// clears it, an object replaces it (sealed).
    static func store(_ request: UpstreamRequest, repoID: String, services: ServerServices) throws {
        let existing = try services.metadata.upstream(repoID: repoID)
        var row = UpstreamRow(
            repoID: repoID,
            url: request.url,
            authKind: existing?.authKind,
            sealedAuth: existing?.sealedAuth,
            updatedAt: Date().timeIntervalSince1970
        )
        switch request.auth {
        case .keep: break
        case .clear:
            row.authKind = nil
            row.sealedAuth = nil
        case .set(let auth):
            row.authKind = auth.kind
            row.sealedAuth = try services.secrets.seal(auth, repoID: repoID)
        }
        try services.metadata.setUpstream(row, repoID: repoID)
    }
}
