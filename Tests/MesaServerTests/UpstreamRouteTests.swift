import Foundation
import HTTPTypes
import MesaServer
import MesaTesting
import MesaWire
import Testing

@Suite struct UpstreamRouteTests {
    static let secret = "ghp_supersecret_0123456789"

    /// A key of the harness's org with `scopes`.
    private func key(_ server: ServerHarness, _ scopes: [Scope]) throws -> String {
        let org = try #require(try server.services.metadata.org(slug: "local"))
        return try server.services.metadata.createAPIKey(
            orgID: org.id,
            name: "k",
            scopes: scopes,
            repoIDs: nil,
            expiresAt: nil,
            tags: [:]
        ).key
    }

    /// `file://` upstreams reach the server's own disk: refused (400, nothing written) unless the operator allows them.
    @Test func fileUpstreamsAreRefusedUnlessAllowed() async throws {
        let server = try ServerHarness()
        let key = server.adminKey
        try await server.test { client in
            let refused = try await client.send(
                .post, "/v1/local/repos", credential: key, json: #"{"name":"r","upstream":{"url":"file:///srv/x.git"}}"#)
            #expect(refused.status == .badRequest, "\(refused.text)")
            #expect(refused.text.contains("--allow-file-upstreams"))
            #expect(try await client.send(.get, "/v1/local/r", credential: key).status == .notFound)
            let created = try await client.send(
                .post, "/v1/local/repos", credential: key, json: #"{"name":"r","upstream":{"url":"https://example.com/x.git"}}"#)
            #expect(created.status == .created, "\(created.text)")
            let patched = try await client.send(
                .patch, "/v1/local/r", credential: key, json: #"{"upstream":{"url":"file:///srv/x.git"}}"#)
            #expect(patched.status == .badRequest, "\(patched.text)")
            let repo = try await client.send(.get, "/v1/local/r", credential: key).decode(Repo.self)
            #expect(repo.upstream?.url == "https://example.com/x.git")
        }
    }

    @Test func upstreamIsSetShownKeptClearedAndRemovedWithoutEverAnsweringTheCredential() async throws {
        let server = try ServerHarness(configure: { $0.upstream.allowFileURLs = true })
        let key = server.adminKey
        try await server.test { client in
            let created = try await client.send(
                .post,
                "/v1/local/repos",
                credential: key,
                json: #"""
                    {"name":"m","upstream":{"url":"https://git.example.com/a/b.git",
                     "auth":{"kind":"token","token":"\#(Self.secret)"}}}
                    """#
            )
            #expect(created.status == .created)
            let repo = try created.decode(Repo.self)
            #expect(
                repo.upstream == Upstream(url: "https://git.example.com/a/b.git", authKind: "token", latestSync: nil)
            )
            #expect(created.text.contains(#""latest_sync":null"#))
            #expect(!created.text.contains(Self.secret))

            // Without `auth` the stored credential stays; with another kind it is replaced; `null` clears it.
            let moved = try await client.send(
                .patch,
                "/v1/local/m",
                credential: key,
                json: #"{"upstream":{"url":"http://other.example/x.git"}}"#
            )
            #expect(try moved.decode(Repo.self).upstream?.authKind == "token")
            #expect(try moved.decode(Repo.self).upstream?.url == "http://other.example/x.git")
            let basic = try await client.send(
                .patch,
                "/v1/local/m",
                credential: key,
                json: #"""
                    {"upstream":{"url":"git://h/x","auth":{"kind":"username_password","username":"u",
                     "password":"\#(Self.secret)"}}}
                    """#
            )
            #expect(try basic.decode(Repo.self).upstream?.authKind == "username_password")
            #expect(!basic.text.contains(Self.secret))
            for path in ["/v1/local/m", "/v1/local/repos"] {
                let read = try await client.send(.get, path, credential: key)
                #expect(read.text.contains(#""auth_kind":"username_password""#))
                #expect(!read.text.contains(Self.secret))
            }
            let cleared = try await client.send(
                .patch,
                "/v1/local/m",
                credential: key,
                json: #"{"upstream":{"url":"file:///srv/x.git","auth":null}}"#
            )
            #expect(try cleared.decode(Repo.self).upstream?.authKind == nil)
            #expect(cleared.text.contains(#""auth_kind":null"#))
            let removed = try await client.send(.patch, "/v1/local/m", credential: key, json: #"{"upstream":null}"#)
            #expect(try removed.decode(Repo.self).upstream == nil)
            #expect(removed.text.contains(#""upstream":null"#))
        }
        // Sealed at rest: no file of the data directory holds the credential; the key file is private.
        let files = FileManager.default.enumerator(atPath: server.directory.path)?.allObjects as? [String] ?? []
        #expect(files.contains("upstream.key"))
        for file in files {
            let data = FileManager.default.contents(atPath: server.directory.appending(file)) ?? Data()
            #expect(data.range(of: Data(Self.secret.utf8)) == nil, "\(file) holds the credential")
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: server.directory.appending("upstream.key"))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
    }

    @Test(arguments: [
        #"{"upstream":{"url":"ssh://git@h/x.git"}}"#, #"{"upstream":{"url":"ftp://h/x"}}"#,
        #"{"upstream":{"url":"not a url"}}"#, #"{"upstream":{"url":"https:///nohost"}}"#,
        #"{"upstream":{"url":"file:relative/x"}}"#, #"{"upstream":{"url":"https://u:pw@h/x.git"}}"#,
        #"{"upstream":{"url":"https://h/x","auth":{"kind":"oauth","token":"t"}}}"#,
        #"{"upstream":{"url":"https://h/x","auth":{"kind":"token","token":""}}}"#,
        #"{"upstream":{"url":"https://h/x","auth":{"kind":"username_password","username":"u"}}}"#,
        #"{"upstream":{}}"#,
    ])
    func badUpstreamsAre400AndChangeNothing(body: String) async throws {
        let server = try ServerHarness(configure: { $0.upstream.allowFileURLs = true })
        let key = server.adminKey
        try await server.test { client in
            #expect(
                try await client.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"r"}"#).status
                    == .created
            )
            let patched = try await client.send(.patch, "/v1/local/r", credential: key, json: body)
            #expect(patched.status == .badRequest, "\(patched.text)")
            #expect(patched.errorCode == "BAD_REQUEST")
            #expect(try await client.send(.get, "/v1/local/r", credential: key).decode(Repo.self).upstream == nil)
            // On create, the repo is not made either.
            let createBody = "{\"name\":\"s\"," + body.dropFirst()
            let created = try await client.send(.post, "/v1/local/repos", credential: key, json: createBody)
            #expect(created.status == .badRequest, "\(created.text)")
            #expect(try await client.send(.get, "/v1/local/s", credential: key).status == .notFound)
        }
    }

    @Test func syncsAreQueuedListedPagedAndReadWithTheSDKsShape() async throws {
        let server = try ServerHarness(configure: { $0.upstream.allowFileURLs = true })
        let key = server.adminKey
        try await server.test { client in
            _ = try await client.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"r"}"#)
            // No upstream: 404 for every sync route.
            let noUpstream = try await client.send(
                .post,
                "/v1/local/r/upstream/syncs",
                credential: key,
                json: #"{"direction":"pull"}"#
            )
            #expect(noUpstream.status == .notFound)
            #expect(noUpstream.errorCode == "NOT_FOUND")
            #expect(try await client.send(.get, "/v1/local/r/upstream/syncs", credential: key).status == .notFound)
            #expect(try await client.send(.get, "/v1/local/r/upstream/syncs/x", credential: key).status == .notFound)

            _ = try await client.send(
                .patch,
                "/v1/local/r",
                credential: key,
                json: #"{"upstream":{"url":"git://127.0.0.1:1/x.git"}}"#
            )
            for bad in [
                #"{"direction":"both"}"#, #"{}"#, #"{"direction":"pull","ref_globs":{}}"#,
                #"{"direction":"pull","ref_globs":{"branches":""}}"#, #"{"direction":"pull","ref_globs":"main"}"#,
            ] {
                let reply = try await client.send(.post, "/v1/local/r/upstream/syncs", credential: key, json: bad)
                #expect(reply.status == .badRequest, "\(bad): \(reply.text)")
            }
            #expect(try server.services.metadata.latestUpstreamSync(repoID: server.repoID("r")) == nil)

            let first = try await client.send(
                .post,
                "/v1/local/r/upstream/syncs",
                credential: key,
                json: #"{"direction":"pull"}"#
            )
            #expect(first.status == .created)
            let sync = try first.decode(UpstreamSync.self)
            #expect(sync.status == "queued" && sync.attempt == 0 && sync.direction == "pull")
            #expect(sync.refGlobs == UpstreamRefGlobs(branches: "*", tags: "*"))
            #expect(sync.repoID == (try server.repoID("r")))
            for field in ["stats", "error", "started_at", "finished_at"] {
                #expect(first.text.contains("\"\(field)\":null"), "\(field)")
            }
            let second = try await client.send(
                .post,
                "/v1/local/r/upstream/syncs",
                credential: key,
                json: #"{"direction":"push","ref_globs":{"branches":"release/*"}}"#
            )
            #expect(try second.decode(UpstreamSync.self).refGlobs == UpstreamRefGlobs(branches: "release/*", tags: "*"))
            _ = try await client.send(
                .post,
                "/v1/local/r/upstream/syncs",
                credential: key,
                json: #"{"direction":"pull","ref_globs":{"tags":"v*"}}"#
            )

            // Newest first, paged.
            var ids: [String] = []
            var cursor: String?
            repeat {
                let query = cursor.map { "&cursor=\($0)" } ?? ""
                let reply = try await client.send(.get, "/v1/local/r/upstream/syncs?limit=2\(query)", credential: key)
                #expect(reply.text.contains(#""syncs":["#))
                let page = try reply.decode(Page<UpstreamSync>.self)
                ids += page.items.map(\.id)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(ids.count == 3)
            #expect(ids.last == sync.id)
            let bad = try await client.send(.get, "/v1/local/r/upstream/syncs?cursor=zzz", credential: key)
            #expect(bad.status == .badRequest)

            let one = try await client.send(.get, "/v1/local/r/upstream/syncs/\(sync.id)", credential: key)
            #expect(try one.decode(UpstreamSync.self) == sync)
            let repo = try await client.send(.get, "/v1/local/r", credential: key).decode(Repo.self)
            #expect(repo.upstream?.latestSync?.id == ids.first)
        }
    }

    @Test func startingASyncNeedsWriteScopeAndReadingNeedsRead() async throws {
        let server = try ServerHarness(configure: { $0.upstream.allowFileURLs = true })
        let admin = server.adminKey
        let reader = try key(server, [.read])
        let writer = try key(server, [.read, .write])
        try await server.test { client in
            _ = try await client.send(
                .post,
                "/v1/local/repos",
                credential: admin,
                json: #"{"name":"r","upstream":{"url":"file:///x"}}"#
            )
            let refused = try await client.send(
                .post,
                "/v1/local/r/upstream/syncs",
                credential: reader,
                json: #"{"direction":"pull"}"#
            )
            #expect(refused.status == .forbidden)
            let setByReader = try await client.send(
                .patch,
                "/v1/local/r",
                credential: reader,
                json: #"{"upstream":null}"#
            )
            #expect(setByReader.status == .forbidden)
            #expect(try await client.send(.get, "/v1/local/r/upstream/syncs", credential: reader).status == .ok)
            let started = try await client.send(
                .post,
                "/v1/local/r/upstream/syncs",
                credential: writer,
                json: #"{"direction":"push"}"#
            )
            #expect(started.status == .created)
            let credential = try await client.send(
                .patch,
                "/v1/local/r",
                credential: writer,
                json: #"{"upstream":{"url":"file:///x","auth":{"kind":"token","token":"t"}}}"#
            )
            #expect(credential.status == .ok)
        }
    }

    @Test func jobsRunOnePerRepoInOrderRetryAndComeBackAfterARestart() throws {
        let server = try ServerHarness(configure: { $0.upstream.allowFileURLs = true })
        let metadata = server.services.metadata
        let org = try #require(try metadata.org(slug: "local"))
        let a = try metadata.createRepo(orgID: org.id, name: "a", defaultBookmark: "main", tags: [:])
        let b = try metadata.createRepo(orgID: org.id, name: "b", defaultBookmark: "main", tags: [:])
        let first = try metadata.createUpstreamSync(repoID: a.id, direction: .pull, globs: .init(), at: 100)
        let second = try metadata.createUpstreamSync(repoID: a.id, direction: .push, globs: .init(), at: 101)
        let other = try metadata.createUpstreamSync(repoID: b.id, direction: .pull, globs: .init(), at: 102)

        // One per repo, oldest first; the attempt is counted when claimed.
        let claimed = try metadata.claimDueUpstreamSyncs(at: 200, limit: 10)
        #expect(claimed.map(\.id) == [first.id, other.id])
        #expect(claimed.allSatisfy { $0.status == .inProgress && $0.attempt == 1 && $0.startedAt == 200 })
        #expect(try metadata.claimDueUpstreamSyncs(at: 200, limit: 10).isEmpty)

        // A server that stopped mid-attempt: the jobs are queued again and claimed again.
        #expect(try metadata.requeueInterruptedUpstreamSyncs() == 2)
        #expect(try metadata.upstreamSync(repoID: a.id, id: first.id)?.status == .queued)
        #expect(try metadata.claimDueUpstreamSyncs(at: 201, limit: 10).map(\.attempt) == [2, 2])

        // A failed attempt waits for its retry, holding back the repo's later job.
        try metadata.finishUpstreamSync(id: first.id, outcome: .failed(error: "down", retryAt: 500), at: 202)
        #expect(try metadata.claimDueUpstreamSyncs(at: 300, limit: 10).isEmpty)
        #expect(try metadata.nextUpstreamSyncAttempt() == 500)
        let retried = try metadata.claimDueUpstreamSyncs(at: 500, limit: 10)
        #expect(retried.map(\.id) == [first.id])
        #expect(retried.first?.attempt == 3 && retried.first?.error == "down")

        // Completed and failed jobs free the repo.
        let refs = [
            UpstreamSyncRef(
                name: "refs/heads/main",
                before: nil,
                after: String(repeating: "a", count: 40),
                outcome: "updated"
            )
        ]
        try metadata.finishUpstreamSync(id: first.id, outcome: .completed(refs), at: 501)
        let done = try #require(try metadata.upstreamSync(repoID: a.id, id: first.id))
        #expect(done.status == .completed && done.refs == refs && done.error == nil && done.finishedAt == 501)
        #expect(try metadata.claimDueUpstreamSyncs(at: 502, limit: 10).map(\.id) == [second.id])
        try metadata.finishUpstreamSync(id: second.id, outcome: .failed(error: "gone", retryAt: nil), at: 503)
        let failed = try #require(try metadata.upstreamSync(repoID: a.id, id: second.id))
        #expect(failed.status == .failed && failed.error == "gone" && failed.finishedAt == 503)
        #expect(try metadata.latestUpstreamSync(repoID: a.id)?.id == second.id)

        // Deleting the repo deletes its upstream and syncs.
        try metadata.setUpstream(
            UpstreamRow(repoID: a.id, url: "file:///x", authKind: nil, sealedAuth: nil, updatedAt: 1),
            repoID: a.id
        )
        try metadata.deleteRepo(id: a.id)
        #expect(try metadata.upstream(repoID: a.id) == nil)
        #expect(try metadata.upstreamSync(repoID: a.id, id: first.id) == nil)
    }

    @Test func sealedCredentialsOpenOnlyForTheirRepoAndKey() throws {
        let server = try ServerHarness(configure: { $0.upstream.allowFileURLs = true })
        let secrets = server.services.secrets
        let auth = UpstreamAuth.usernamePassword(username: "u", password: Self.secret)
        let sealed = try secrets.seal(auth, repoID: "repo-1")
        #expect(Data(sealed).range(of: Data(Self.secret.utf8)) == nil)
        #expect(try secrets.open(sealed, repoID: "repo-1") == auth)
        #expect(throws: APIError.self) { try secrets.open(sealed, repoID: "repo-2") }
        // Another server key (a replaced key file) does not open it.
        let other = UpstreamSecrets(keyPath: server.directory.appending("other.key"))
        #expect(throws: APIError.self) { try other.open(sealed, repoID: "repo-1") }
        // A key file of the wrong size is refused rather than used.
        let short = server.directory.appending("short.key")
        #expect(FileManager.default.createFile(atPath: short, contents: Data([1, 2, 3])))
        #expect(throws: APIError.self) {
            try UpstreamSecrets(keyPath: server.directory.appending("short.key")).seal(auth, repoID: "r")
        }
    }
}
