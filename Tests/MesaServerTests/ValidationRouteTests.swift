import Foundation
import HTTPTypes
import HummingbirdTesting
import MesaCore
import MesaServer
import MesaStore
import MesaTree
import MesaWire
import NIOCore
import Testing

/// The error rule a refusal names in `details.rule`.
private func rule(_ reply: Reply) -> String? {
    guard let body = try? reply.decode(ErrorBody.self), case .string(let rule)? = body.error.details?["rule"] else {
        return nil
    }
    return rule
}

/// What the store holds, to show that a refused request stored nothing.
private func footprint(_ server: ServerHarness) -> (records: Int, bytes: Int64) {
    let stats = server.services.store.stats()
    return (stats.records, stats.bytes)
}

@Suite struct ValidationRouteTests {
    /// Names git or a case-insensitive filesystem treat specially, control characters, absurd lengths and depths:
    /// each refused with 400, its rule named, and nothing of the request stored (a 10 MB file rides along).
    @Test func hostileRESTPathsAreRefusedAndStoreNothing() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        let bigContent = Data(repeating: 0x61, count: 10 << 20).base64EncodedString()
        let cases: [(String, String)] = [
            (".git/config", "dot-git"), (".GIT/config", "dot-git"), (".Git/hooks/post-checkout", "dot-git"),
            ("git~1/config", "dot-git"), (".git./config", "dot-git"), ("a/.g\u{200C}it/config", "dot-git"),
            ("a\\b", "backslash"), ("new\nline", "control-character"), ("carriage\rreturn", "control-character"),
            ("tab\tname", "control-character"), (String(repeating: "n", count: 5_000), "path-too-long"),
            (String(repeating: "n", count: 300), "name-too-long"), ("/etc/passwd", "absolute-path"),
            ("a/../b", "dot-name"), ("a//b", "empty-name"),
            (Array(repeating: "d", count: 10_000).joined(separator: "/"), "path-too-long"),
            (Array(repeating: "d", count: 300).joined(separator: "/"), "path-too-deep"),
        ]
        try await server.test { http in
            #expect(try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#).status == .created)
            let before = footprint(server)
            for (path, expected) in cases {
                let escaped = String(decoding: try JSONEncoder().encode(path), as: UTF8.self)
                let body = #"{"base_change_id":"\#(ChangeID.root)","files":[{"path":"ok.txt","content":"\#(bigContent)"},{"path":\#(escaped),"content":"eA=="}]}"#
                let reply = try await http.send(.post, "/v1/local/r/changes", credential: admin, json: body)
                #expect(reply.status == .badRequest, "\(path.prefix(40)): \(reply.text.prefix(200))")
                #expect(reply.errorCode == "INVALID_PATH")
                #expect(rule(reply) == expected, "\(path.prefix(40)): \(reply.text.prefix(200))")
            }
            let after = footprint(server)
            #expect(after.records == before.records && after.bytes == before.bytes)
            #expect(try await http.send(.get, "/v1/local/r/bookmarks/main", credential: admin).status == .notFound)
        }
    }

    /// Signatures with line breaks or `<>`, NUL in messages, bad modes and encodings: 400 with a code, never 500.
    @Test func badSignaturesMessagesAndModesAre400() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        let root = ChangeID.root.description
        let file = #"{"path":"a.txt","content":"eA=="}"#
        let bodies: [(String, String)] = [
            (#"{"base_change_id":"\#(root)","author":{"name":"Eve\nMallory","email":"e@x"},"files":[\#(file)]}"#, "INVALID_COMMIT"),
            (#"{"base_change_id":"\#(root)","author":{"name":"Eve <evil>","email":"e@x"},"files":[\#(file)]}"#, "INVALID_COMMIT"),
            (#"{"base_change_id":"\#(root)","author":{"name":"Eve","email":"e@x>\ncommitter x"},"files":[\#(file)]}"#, "INVALID_COMMIT"),
            (#"{"base_change_id":"\#(root)","message":"nul\u0000byte","files":[\#(file)]}"#, "INVALID_COMMIT"),
            (#"{"base_change_id":"\#(root)","files":[{"path":"a","content":"eA==","mode":"120000"}]}"#, "BAD_REQUEST"),
            (#"{"base_change_id":"\#(root)","files":[{"path":"a","content":"***"}]}"#, "BAD_REQUEST"),
            (#"{"base_change_id":"\#(root)","files":[{"path":"missing.txt","action":"delete"}]}"#, "NOT_FOUND"),
        ]
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#)
            let before = footprint(server)
            for (body, code) in bodies {
                let reply = try await http.send(.post, "/v1/local/r/changes", credential: admin, json: body)
                #expect(reply.status.code < 500 && reply.status.code >= 400, "\(body): \(reply.text)")
                #expect(reply.errorCode == code, "\(body): \(reply.text)")
            }
            #expect(footprint(server).records == before.records)
        }
    }

    /// Trees a client could push that git fsck refuses, or that would put names like `..` in front of the kernel:
    /// each push is refused naming the rule, nothing becomes visible and nothing stays staged.
    @Test func hostileTreesInAPushAreRefusedNamingTheRule() async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let admin = server.adminKey
        let blob = try client.blob("payload\n")
        let subtree = try client.rawObject(.tree, TreeCodec.encode([TreeEntry(name: "f", mode: .regular, id: blob.id)]))
        let subtreeID = try #require(subtree.key.objectID)
        func entry(_ mode: String, _ name: String, _ id: ObjectID) -> [UInt8] { Array("\(mode) \(name)".utf8) + [0] + id.bytes }
        let trees: [(String, [UInt8], String)] = [
            ("dot", entry("100644", ".", blob.id), "dot-name"),
            ("dotdot", entry("100644", "..", blob.id), "dot-name"),
            ("traversal", entry("100644", "../../name", blob.id), "slash-in-name"),
            ("absolute", entry("100644", "/etc/passwd", blob.id), "slash-in-name"),
            ("dotgit", entry("40000", ".git", subtreeID), "dot-git"),
            ("DOTGIT", entry("40000", ".GIT", subtreeID), "dot-git"),
            ("duplicate", entry("100644", "a", blob.id) + entry("100644", "a", blob.id), "duplicate-entry"),
            ("unsorted", entry("100644", "b", blob.id) + entry("100644", "a", blob.id), "unsorted-entries"),
            ("file and dir", entry("100644", "a", blob.id) + entry("40000", "a", subtreeID), "duplicate-entry"),
            ("zero-padded", entry("040000", "d", subtreeID), "bad-mode"),
            ("kind mismatch", entry("40000", "d", blob.id), "entry-kind-mismatch"),
            ("gitmodules link", entry("120000", ".gitmodules", blob.id), "git-metadata-symlink"),
        ]
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#)
            let repoID = try server.repoID("r")
            for (label, body, expected) in trees {
                let tree = try client.rawObject(.tree, body)
                let commit = try client.rawObject(.commit, ClientRepo.commitBody(tree: try #require(tree.key.objectID)))
                let records = blob.records + [subtree, tree, commit]
                let change = ChangeID.random()
                let transaction = PushTransaction(
                    changes: [ChangeUpdate(changeID: change.description, expectedCommit: nil, commit: try #require(commit.key.objectID?.hex), parents: [])],
                    bookmarks: [BookmarkUpdate(name: "main", expectedChange: nil, change: change.description)])
                let reply = try await http.push(try pushBody(records, transaction), credential: admin)
                #expect(reply.status == .badRequest, "\(label): \(reply.text)")
                #expect(rule(reply) == expected, "\(label): \(reply.text)")
                #expect(try server.services.metadata.referenced(repoID: repoID, keys: records.map(\.key)).isEmpty, "\(label)")
            }
            #expect(try await http.send(.get, "/v1/local/r/bookmarks/main", credential: admin).status == .notFound)
            #expect(try await http.send(.get, "/v1/local/r/content", credential: admin).decode(ContentEntry.self).entries?.isEmpty == true)
        }
    }

    /// A chain of nested trees is refused once it passes 256 levels, as each tree arrives: the server never walks
    /// (or recurses through) more than the bound.
    @Test func pushedTreesDeeperThanTheBoundAreRefused() async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let admin = server.adminKey
        let blob = try client.blob("deep\n")
        var records = blob.records
        var current = try client.rawObject(.tree, TreeCodec.encode([TreeEntry(name: "f", mode: .regular, id: blob.id)]))
        records.append(current)
        for _ in 0..<300 {
            current = try client.rawObject(
                .tree, TreeCodec.encode([TreeEntry(name: "d", mode: .directory, id: try #require(current.key.objectID))]))
            records.append(current)
        }
        let commit = try client.rawObject(.commit, ClientRepo.commitBody(tree: try #require(current.key.objectID)))
        records.append(commit)
        let pushed = records
        let change = ChangeID.random()
        let transaction = PushTransaction(
            changes: [ChangeUpdate(changeID: change.description, expectedCommit: nil, commit: try #require(commit.key.objectID?.hex), parents: [])],
            bookmarks: [])
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#)
            let reply = try await http.push(try pushBody(pushed, transaction), credential: admin)
            #expect(reply.status == .badRequest)
            #expect(rule(reply) == "path-too-deep", "\(reply.text)")
        }
    }

    /// Commits must be well formed, and a change's parents must exist (in the repo or the same push).
    @Test func malformedCommitsAndMissingParentsAreRefused() async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let admin = server.adminKey
        let blob = try client.blob("p\n")
        let tree = try client.rawObject(.tree, TreeCodec.encode([TreeEntry(name: "f", mode: .regular, id: blob.id)]))
        let treeID = try #require(tree.key.objectID)
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#)
            func push(_ commit: SyncRecord, parents: [String] = []) async throws -> Reply {
                let change = ChangeID.random()
                let transaction = PushTransaction(
                    changes: [ChangeUpdate(changeID: change.description, expectedCommit: nil, commit: try #require(commit.key.objectID?.hex), parents: parents)],
                    bookmarks: [BookmarkUpdate(name: "b\(change.description.prefix(6))", expectedChange: nil, change: change.description)])
                return try await http.push(try pushBody(blob.records + [tree, commit], transaction), credential: admin)
            }
            let badAuthor = try client.rawObject(.commit, ClientRepo.commitBody(tree: treeID, author: "Eve <e@x"))
            #expect(rule(try await push(badAuthor)) == "bad-signature")
            let absentParent = try client.rawObject(
                .commit, ClientRepo.commitBody(tree: treeID, parents: [try #require(ObjectID(hex: String(repeating: "7", count: 40)))]))
            #expect(rule(try await push(absentParent)) == "missing-parent")
            let good = try client.rawObject(.commit, ClientRepo.commitBody(tree: treeID))
            let orphan = try await push(good, parents: [ChangeID.random().description])
            #expect(orphan.status == .badRequest, "\(orphan.text)")
            #expect(rule(orphan) == "missing-parent", "\(orphan.text)")
            #expect(try await push(good).status == .ok)
        }
    }

    /// Bytes after a push's end frame refuse the push: nothing is applied.
    @Test func bytesAfterTheEndFrameRefuseThePush() async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let admin = server.adminKey
        let change = try client.change(["a.txt": "a\n"])
        let transaction = PushTransaction(
            changes: [ChangeUpdate(changeID: change.id.description, expectedCommit: nil, commit: change.commit.hex, parents: [])],
            bookmarks: [BookmarkUpdate(name: "main", expectedChange: nil, change: change.id.description)])
        let body = try pushBody(try client.records(of: change.commit), transaction)
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#)
            for trailer in [[UInt8(0)], SyncFrameEncoder.encode(.end(recordCount: 0))] {
                let reply = try await http.push(body + trailer, credential: admin)
                #expect(reply.status == .badRequest, "\(reply.text)")
                #expect(try await http.send(.get, "/v1/local/r/bookmarks/main", credential: admin).status == .notFound)
            }
            #expect(try await http.push(body, credential: admin).status == .ok)
        }
    }

    /// Numbers out of range, cursors the server never gave, leading slashes in read paths.
    @Test func absurdParametersAreRefused() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            _ = try await AuthorizationMatrixTests.seed("r", http: http, admin: admin)
            let root = try await http.send(.post, "/v1/local/r/sync/resolve", credential: admin, json: #"{"revisions":[""]}"#)
                .decode(ResolveResponse.self).resolutions[0].rootTree
            let refusals: [(HTTPRequest.Method, String, String?)] = [
                (.post, "/v1/local/r/sync/trees", #"{"roots":["\#(root)"],"depth":-1}"#),
                (.post, "/v1/local/r/sync/trees", #"{"roots":["\#(root)"],"depth":100000}"#),
                (.post, "/v1/local/r/sync/objects", #"{"keys":[],"subtree":{"tree":"\#(root)","max_bytes":-1,"max_file_bytes":10}}"#),
                (.post, "/v1/local/r/sync/objects", #"{"keys":[],"subtree":{"tree":"\#(root)","max_bytes":10,"max_file_bytes":-5}}"#),
                (.post, "/v1/local/r/sync/lookup", #"{"revision":"","path":"src/a.txt","inline_max_bytes":-1}"#),
                (.post, "/v1/local/r/sync/lookup", #"{"revision":"","path":"/src/a.txt","inline_max_bytes":0}"#),
                (.get, "/v1/local/r/content?path=/src/a.txt", nil),
                (.get, "/v1/local/r/content?path=src/../src/a.txt", nil),
                (.get, "/v1/local/r/content?depth=-1", nil),
                (.get, "/v1/local/r/changes?cursor=-5", nil),
                (.get, "/v1/local/repos?cursor=-5", nil),
                (.get, "/v1/local/repos?limit=-5", nil),
                (.get, "/v1/local/api-keys?cursor=-5", nil),
            ]
            for (method, uri, body) in refusals {
                let reply = try await http.send(method, uri, credential: admin, json: body)
                #expect(reply.status == .badRequest, "\(uri) \(body ?? ""): \(reply.status.code) \(reply.text)")
                #expect(reply.errorCode != nil)
            }
            // The cursor a page gives still works.
            _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"s"}"#)
            let first = try await http.send(.get, "/v1/local/repos?limit=1", credential: admin).decode(Page<Repo>.self)
            let cursor = try #require(first.nextCursor)
            let second = try await http.send(.get, "/v1/local/repos?limit=1&cursor=\(cursor)", credential: admin)
                .decode(Page<Repo>.self)
            #expect(first.items.map(\.name) == ["r"])
            #expect(second.items.map(\.name) == ["s"])
        }
    }

    /// Keys restricted to another org's repos are refused; a repo-restricted caller counts only its repos.
    @Test func keysCannotNameAnotherOrgsReposAndCountsStayWithinRestrictions() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        let other = try server.services.metadata.createOrg(slug: "other", name: "other")
        let foreign = try server.services.metadata.createRepo(orgID: other.id, name: "theirs", defaultBookmark: "main", tags: [:])
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"x"}"#)
            _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"y"}"#)
            let refused = try await http.send(
                .post, "/v1/local/api-keys", credential: admin, json: #"{"repo_ids":["\#(foreign.id)"]}"#)
            #expect(refused.status == .badRequest, "\(refused.text)")
            let unknown = try await http.send(.post, "/v1/local/api-keys", credential: admin, json: #"{"repo_ids":["nope"]}"#)
            #expect(unknown.status == .badRequest)
            let xKey = try await http.send(
                .post, "/v1/local/api-keys", credential: admin, json: #"{"repo_ids":["\#(try server.repoID("x"))"]}"#
            ).decode(CreatedAPIKey.self).key
            #expect(try await http.send(.get, "/v1/local", credential: xKey).decode(OrgInfo.self).numRepos == 1)
            #expect(try await http.send(.get, "/v1/local", credential: admin).decode(OrgInfo.self).numRepos == 2)
        }
    }

    /// A body over the configured limit is a 413 with Mesa's error body, not a 500.
    @Test func oversizedBodiesAre413() async throws {
        let server = try ServerHarness { $0.maxBodyBytes = 1 << 20 }
        let admin = server.adminKey
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"r"}"#)
            let content = Data(repeating: 0x62, count: 2 << 20).base64EncodedString()
            let reply = try await http.send(
                .post, "/v1/local/r/changes", credential: admin,
                json: #"{"base_change_id":"\#(ChangeID.root)","files":[{"path":"big","content":"\#(content)"}]}"#)
            #expect(reply.status == .contentTooLarge)
            #expect(reply.errorCode == "PAYLOAD_TOO_LARGE")
        }
    }

    /// Tokens live at most a day from their `iat`, cannot be issued in the future, and must name their key.
    @Test func tokensOutsideTheirLifetimeRulesAreRefused() async throws {
        let server = try ServerHarness()
        let admin = try #require(APIKey(server.adminKey))
        let keyID = try #require(admin.embeddedKeyID)
        let now = Int64(Date().timeIntervalSince1970)
        @Sendable func token(iat: Int64, exp: Int64, issuer: String? = nil) -> String {
            AccessToken.sign(
                TokenClaims(scopes: [.read], repos: nil, issuer: issuer ?? keyID, issuedAt: iat, expiresAt: exp, tokenID: "t"),
                keyID: keyID, signingKey: admin.signingKey)
        }
        try await server.test { http in
            #expect(try await http.send(.get, "/v1/whoami", credential: token(iat: now, exp: now + 3_600)).status == .ok)
            #expect(try await http.send(.get, "/v1/whoami", credential: token(iat: now - 30, exp: now + 86_000)).status == .ok)
            for (label, credential) in [
                ("ten years", token(iat: now, exp: now + 10 * 365 * 86_400)),
                ("a day and a second", token(iat: now, exp: now + 86_401)),
                ("issued in the future", token(iat: now + 3_600, exp: now + 7_200)),
                ("exp before iat", token(iat: now + 7_200, exp: now + 3_600)),
                ("foreign issuer", token(iat: now, exp: now + 3_600, issuer: "someone-else")),
            ] {
                let reply = try await http.send(.get, "/v1/whoami", credential: credential)
                #expect(reply.status == .unauthorized, "\(label)")
                #expect(reply.errorCode == "INVALID_TOKEN", "\(label): \(reply.text)")
            }
        }
    }

    /// REST writes refused after their checks (a stale evolution, a conflicting merge, with or without a fresh
    /// resolution) take back what they stored: the store is as it was.
    @Test func refusedEvolutionsAndMergesLeaveTheStoreAsItWas() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        @Sendable func files(_ text: String) -> String {
            let a = Data("a \(text)\n".utf8).base64EncodedString()
            let b = Data("b \(text)\n".utf8).base64EncodedString()
            return #"[{"path":"src/a.txt","content":"\#(a)"},{"path":"src/b.txt","content":"\#(b)"}]"#
        }
        try await server.test { http in
            let facts = try await AuthorizationMatrixTests.seed("r", http: http, admin: admin)
            var tips: [String] = []
            for (bookmark, text) in [("main", "left"), ("feat", "right")] {
                let change = try await http.send(
                    .post, "/v1/local/r/changes", credential: admin,
                    json: #"{"base_change_id":"\#(facts.head)","files":\#(files(text))}"#
                ).decode(Change.self)
                let moved = try await http.send(
                    .patch, "/v1/local/r/bookmarks/\(bookmark)", credential: admin,
                    json: #"{"change_id":"\#(change.id)","allow_backwards":true}"#)
                #expect(moved.status == .ok, "\(moved.text)")
                tips.append(change.id)
            }
            let baseline = server.services.store.stats()

            let stale = try await http.send(
                .patch, "/v1/local/r/changes/\(tips[0])", credential: admin,
                json: #"{"base_commit_oid":"\#(String(repeating: "ab", count: 20))","files":\#(files("stale"))}"#)
            #expect(stale.status == .conflict, "\(stale.text)")

            let conflicting = try await http.send(
                .post, "/v1/local/r/bookmarks/merge", credential: admin, json: #"{"target":"main","source":"feat"}"#)
            #expect(conflicting.errorCode == "MERGE_CONFLICT", "\(conflicting.text)")

            let fresh = Data("resolved a, nowhere else\n".utf8).base64EncodedString()
            let half = try await http.send(
                .post, "/v1/local/r/bookmarks/merge", credential: admin,
                json: #"{"target":"main","source":"feat","resolutions":[{"path":"src/a.txt","content":"\#(fresh)"}]}"#)
            #expect(half.errorCode == "MERGE_CONFLICT", "\(half.text)")

            let bogus = try await http.send(
                .post, "/v1/local/r/bookmarks/merge", credential: admin,
                json: #"{"target":"main","source":"feat","resolutions":[{"path":"src/a.txt","content":"\#(fresh)"},{"path":"src/b.txt","take":"bogus"}]}"#)
            #expect(bogus.status == .badRequest, "\(bogus.text)")

            let after = server.services.store.stats()
            #expect(after.records == baseline.records)
            #expect(after.bytes == baseline.bytes)

            // The same merge resolved goes through and is readable.
            let resolved = try await http.send(
                .post, "/v1/local/r/bookmarks/merge", credential: admin,
                json: #"{"target":"main","source":"feat","resolutions":[{"path":"src/a.txt","content":"\#(fresh)"},{"path":"src/b.txt","take":"source"}]}"#)
            #expect(resolved.status == .ok, "\(resolved.text)")
            let read = try await http.send(
                .get, "/v1/local/r/content?path=src/b.txt", credential: admin, headers: [.accept: "application/octet-stream"])
            #expect(read.text == "b right\n")
        }
    }

    /// Found by the HTTP campaign: empty record keys crashed the server; a NUL in a path segment made `app%00x` mean
    /// `app` (SQLite compares text up to a NUL), so a DELETE could remove the wrong repo; `====` passed as base64;
    /// bookmark names git refuses were accepted.
    @Test func campaignFindingsAreRefused() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            let facts = try await AuthorizationMatrixTests.seed("app", http: http, admin: admin)
            for body in [#"{"keys":[""]}"#, #"{"keys":[":"]}"#, #"{"keys":["::"]}"#, #"{"keys":["tree:"]}"#] {
                for call in ["have", "objects"] {
                    let reply = try await http.send(.post, "/v1/local/app/sync/\(call)", credential: admin, json: body)
                    #expect(reply.status == .badRequest, "\(call) \(body): \(reply.text)")
                }
            }
            for (method, uri) in [
                (HTTPRequest.Method.delete, "/v1/local/app%00x"), (.get, "/v1/local/app%00x/content"),
                (.get, "/v1/local/app/bookmarks/main%00zzz"), (.get, "/v1/local/app/content?path=src%00/a.txt"),
                (.get, "/v1/local/app/changes?bookmark=main%00x"),
            ] {
                let reply = try await http.send(method, uri, credential: admin)
                #expect(reply.status == .badRequest, "\(uri): \(reply.text)")
            }
            #expect(try await http.send(.get, "/v1/local/app", credential: admin).status == .ok)
            let bad64 = try await http.send(
                .post, "/v1/local/app/changes", credential: admin,
                json: #"{"base_change_id":"\#(facts.head)","files":[{"path":"z","content":"===="}]}"#)
            #expect(bad64.status == .badRequest, "\(bad64.text)")
            for name in [".", "a/.b", "@", "a.lock/b", ".hidden", "a.", "a@{b", "a//b", "a b"] {
                let escaped = String(decoding: try JSONEncoder().encode(name), as: UTF8.self)
                let reply = try await http.send(
                    .post, "/v1/local/app/bookmarks", credential: admin,
                    json: #"{"name":\#(escaped),"change_id":"\#(facts.head)"}"#)
                #expect(reply.status == .badRequest, "\(name): \(reply.text)")
            }
            #expect(
                try await http.send(
                    .post, "/v1/local/app/bookmarks", credential: admin,
                    json: #"{"name":"feat/ok-1.2","change_id":"\#(facts.head)"}"#
                ).status == .created)
        }
    }
}
