import Foundation
import MesaKit
import MesaTesting
import MesaWire
import Testing

@Suite struct RESTTests {
    @Test func repoJSONDecodesAndRequestCarriesBearerCredential() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, Fixture.repo("demo")) }
        let repo = try await makeClient(server).repos.get("demo")
        #expect(repo.name == "demo")
        #expect(repo.headChangeID == Fixture.virtualRoot)
        #expect(repo.tags.isEmpty)
        let request = try #require(server.requests.first)
        #expect(request.method == "GET")
        #expect(request.rawPath == "/v1/acme/demo")
        #expect(request.header("Authorization") == "Bearer \(Fixture.apiKey)")
    }

    @Test func bookmarkNamesAreOnePercentEncodedSegment() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, Fixture.bookmark("feat/x")) }
        let bookmark = try await makeClient(server).bookmarks("demo").get("feat/x")
        #expect(bookmark.name == "feat/x")
        let request = try #require(server.requests.first)
        #expect(request.rawPath == "/v1/acme/demo/bookmarks/feat%2Fx")
        #expect(request.pathSegments == ["v1", "acme", "demo", "bookmarks", "feat/x"])
    }

    @Test func queryValuesArePercentEncoded() async throws {
        let server = try LoopbackHTTPServer { _ in
            .json(200, #"{"bookmarks":[\#(Fixture.bookmark("feat/a b"))],"next_cursor":null,"has_more":false}"#)
        }
        let page = try await makeClient(server).bookmarks("demo").list(glob: "feat/* b&c=d", limit: 5)
        #expect(page.items.map(\.name) == ["feat/a b"])
        let request = try #require(server.requests.first)
        #expect(request.rawQuery == "glob=feat%2F%2A%20b%26c%3Dd&limit=5")
        #expect(request.queryItems["glob"] == "feat/* b&c=d")
    }

    @Test func createSendsJSONBodyAndDecodesCreatedAnswer() async throws {
        let server = try LoopbackHTTPServer { request in
            request.method == "POST" ? .json(201, Fixture.repo("demo")) : .error(404, code: "NOT_FOUND", message: "no")
        }
        let repo = try await makeClient(server).repos.create(name: "demo", tags: ["team": "infra"])
        #expect(repo.id == "repo-demo")
        let request = try #require(server.requests.first)
        #expect(request.rawPath == "/v1/acme/repos")
        #expect(request.header("Content-Type") == "application/json")
        let sent = try JSONDecoder().decode(CreateRepoRequest.self, from: Data(request.body))
        #expect(sent == CreateRepoRequest(name: "demo", tags: ["team": "infra"]))
    }

    @Test func changeFilesTravelAsBase64() async throws {
        let server = try LoopbackHTTPServer { _ in .json(201, Fixture.change) }
        let change = try await makeClient(server).changes("demo").create(
            base: Fixture.virtualRoot,
            message: "add a",
            files: [.upsert("a.txt", text: "hi"), .delete("old.txt")]
        )
        #expect(change.files == ["a.txt"])
        #expect(change.authors == [AuthorRef(name: "A", email: nil)])
        let sent = try JSONDecoder().decode(
            CreateChangeRequest.self,
            from: Data(try #require(server.requests.first).body)
        )
        #expect(sent.baseChangeID == Fixture.virtualRoot)
        #expect(
            sent.files?.first
                == FileOperation(path: "a.txt", content: "aGk=", encoding: "base64", action: "upsert", mode: "100644")
        )
        #expect(sent.files?.last?.isDelete == true)
    }

    @Test func errorBodyBecomesTypedAPIError() async throws {
        let server = try LoopbackHTTPServer { _ in
            .json(
                409,
                #"{"error":{"code":"MERGE_CONFLICT","message":"conflicts","details":{"conflict_paths":["a.txt"]}}}"#
            )
        }
        do {
            _ = try await makeClient(server).bookmarks("demo").merge("feature", into: "main")
            Issue.record("a 409 must throw")
        } catch {
            #expect(
                error
                    == .api(
                        status: 409,
                        code: "MERGE_CONFLICT",
                        message: "conflicts",
                        details: ["conflict_paths": .array([.string("a.txt")])]
                    )
            )
            #expect(error.apiCode == "MERGE_CONFLICT")
        }
        let sent = try JSONDecoder().decode(MergeRequest.self, from: Data(try #require(server.requests.first).body))
        #expect(sent.source == "feature" && sent.target == "main")
    }

    @Test func errorWithoutMesaBodyKeepsStatusAndText() async throws {
        let server = try LoopbackHTTPServer { _ in
            LoopbackHTTPServer.Response(status: 404, body: .bytes(Array("no such page".utf8)))
        }
        await #expect(throws: KitError.unexpectedResponse(status: 404, body: "no such page")) {
            try await makeClient(server).repos.get("demo")
        }
    }

    @Test func malformedJSONIsADecodingError() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, #"{"id":"x"}"#) }
        do {
            _ = try await makeClient(server).repos.get("demo")
            Issue.record("a body without the repo's keys must throw")
        } catch {
            guard case .decoding(let type, _) = error else {
                Issue.record("expected a decoding error, got \(error)")
                return
            }
            #expect(type == "Repo")
        }
    }

    @Test func orgComesFromWhoamiOnceWhenNotGiven() async throws {
        let server = try LoopbackHTTPServer { request in
            request.rawPath == "/v1/whoami"
                ? .json(200, Fixture.whoami(keyID: "k1"))
                : .json(200, #"{"repos":[],"next_cursor":null,"has_more":false}"#)
        }
        let mesa = makeClient(server, org: nil)
        _ = try await mesa.repos.list()
        _ = try await mesa.repos.list(limit: 10)
        #expect(server.requests.map(\.rawPath) == ["/v1/whoami", "/v1/acme/repos", "/v1/acme/repos"])
        #expect(try await mesa.orgSlug() == "acme")
    }

    @Test func paginationFollowsCursorsToTheEnd() async throws {
        let server = try LoopbackHTTPServer { request in
            switch request.queryItems["cursor"] {
            case nil:
                .json(
                    200,
                    #"{"repos":[\#(Fixture.repo("a")),\#(Fixture.repo("b"))],"next_cursor":"c1","has_more":true}"#
                )
            case "c1":
                .json(200, #"{"repos":[\#(Fixture.repo("c"))],"next_cursor":null,"has_more":false}"#)
            default:
                .error(400, code: "BAD_CURSOR", message: "unknown cursor")
            }
        }
        let names = try await makeClient(server).repos.all(pageSize: 2).collect().map(\.name)
        #expect(names == ["a", "b", "c"])
        #expect(server.requests.map(\.rawQuery) == ["limit=2", "limit=2&cursor=c1"])
    }

    @Test func rawContentAsksForOctetStream() async throws {
        let payload: [UInt8] = [0, 1, 2, 255, 10, 13]
        let server = try LoopbackHTTPServer { request in
            request.header("Accept") == "application/octet-stream"
                ? .init(status: 200, body: .bytes(payload))
                : .error(406, code: "NOT_ACCEPTABLE", message: "raw only")
        }
        let bytes = try await makeClient(server).content("demo").bytes(path: "src/main.swift", changeID: "abc")
        #expect(bytes == payload)
        #expect(try #require(server.requests.first).rawQuery == "change_id=abc&path=src%2Fmain.swift")
    }

    @Test func contentJSONDecodesDirectoryEntries() async throws {
        let server = try LoopbackHTTPServer { _ in
            .json(
                200,
                #"""
                {"type":"dir","name":"","path":"","sha":"4b825dc642cb6eb9a060e54bf8d69288fbee4904","child_count":1,
                "entries":[{"type":"file","name":"a.txt","path":"a.txt","sha":"x","size":2,"mode":"100644"}]}
                """#
            )
        }
        let entry = try await makeClient(server).content("demo").get(depth: 1)
        #expect(entry.type == "dir")
        #expect(entry.entries?.first?.size == 2)
        #expect(try #require(server.requests.first).rawQuery == "depth=1")
        await #expect(throws: KitError.invalidArgument("depth 11 is outside 0...10")) {
            try await makeClient(server).content("demo").get(depth: 11)
        }
    }

    @Test func diffJSONAndTextDecode() async throws {
        let json = #"""
            {"base_change_id":"a","head_change_id":"b",
            "stats":{"entries":1,"additions":1,"deletions":0,"changes":1,"conflicted_entries":1,"conflicted_hunks":1},
            "truncated":false,
            "entries":[{"path":"a.txt","status":"modified","old_path":null,"is_conflicted":false,"omitted_reason":null,
              "hunks":[{"old_start":1,"old_lines":1,"new_start":1,"new_lines":2,
                "lines":[{"kind":"context","text":"x"},{"kind":"added","text":"y"}]}],"conflict_hunks":null}],
            "conflicted_entries":[{"path":"c.txt","hunks":[{"hunk_id":"h1","old_start":1,"old_lines":1,"new_start":1,
              "new_lines":1,"target":{"content":"dA=="},"base":null,"source":{"content":"cw=="}}]}]}
            """#
        let server = try LoopbackHTTPServer { request in
            request.header("Accept") == "text/plain"
                ? .init(status: 200, body: .bytes(Array("--- a/a.txt\n+++ b/a.txt\n".utf8)))
                : .json(200, json)
        }
        let diffs = makeClient(server).diff("demo")
        let diff = try await diffs.get(base: "a", head: "b", conflicts: .include)
        #expect(diff.stats.conflictedHunks == 1)
        #expect(diff.entries.first?.hunks?.first?.lines.map(\.kind) == [.context, .added])
        #expect(diff.conflictedEntries.first?.hunks.first?.base == nil)
        #expect(diff.conflictedEntries.first?.hunks.first?.source == ConflictSide(content: "cw=="))
        #expect(try await diffs.text(base: "a", head: "b").hasPrefix("--- a/a.txt"))
        #expect(server.requests.first?.rawQuery == "base_change_id=a&head_change_id=b&conflicts=include")

        // Keys that are "present, possibly null" are written as null.
        let encoded = String(decoding: try JSONEncoder().encode(diff.entries[0]), as: UTF8.self)
        #expect(encoded.contains(#""old_path":null"#) && encoded.contains(#""conflict_hunks":null"#))
        #expect(!encoded.contains("size_bytes"))
    }

    @Test func apiKeysCreateListRevoke() async throws {
        let server = try LoopbackHTTPServer { request in
            switch request.method {
            case "POST":
                .json(
                    201,
                    #"""
                    {"id":"k2","key":"mesa_k2_s","name":"ci","scopes":["read"],"repo_ids":null,"tags":{},
                    "created_at":"2024-01-02T03:04:05+00:00"}
                    """#
                )
            case "DELETE":
                .json(200, #"{"success":true}"#)
            default:
                .json(
                    200,
                    #"""
                    {"api_keys":[{"id":"k2","name":"ci","scopes":["read"],"repo_ids":null,"tags":null,"metadata":null,
                    "created_at":"2024-01-02T03:04:05+00:00","expires_at":null,"last_used_at":null,"revoked_at":null}],
                    "next_cursor":null,"has_more":false}
                    """#
                )
            }
        }
        let keys = makeClient(server).apiKeys
        #expect(try await keys.create(name: "ci", scopes: [.read]).key == "mesa_k2_s")
        #expect(try await keys.list().items.map(\.id) == ["k2"])
        try await keys.revoke("k2")
        #expect(server.requests.map(\.rawPath) == ["/v1/acme/api-keys", "/v1/acme/api-keys", "/v1/acme/api-keys/k2"])
        #expect(server.requests.map(\.method) == ["POST", "GET", "DELETE"])
    }
}
