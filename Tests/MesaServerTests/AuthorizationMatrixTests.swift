import Foundation
import HTTPTypes
import HummingbirdTesting
import MesaCore
import MesaServer
import MesaTree
import MesaWire
import NIOCore
import Testing

/// Every repo endpoint, called by every kind of caller, on the caller's own repo and on another one: callers allowed
/// on a repo get the endpoint's success status, every other caller gets 403, and no caller reaches a record of
/// another repo through its own repo's sync endpoints.
@Suite struct AuthorizationMatrixTests {
    /// The callers of the matrix.
    enum Caller: String, CaseIterable {
        case admin, orgKey, repoKey, repoToken, otherOrg

        /// Whether the caller may act on `repo` (`x` is the restricted callers' repo).
        func allowed(on repo: String) -> Bool {
            switch self {
            case .admin, .orgKey: true
            case .repoKey, .repoToken: repo == "x"
            case .otherOrg: false
            }
        }
    }

    /// What a repo holds that the endpoints name.
    struct RepoFacts {
        var name: String
        var head: String
        var rootTree: String
        var blob: String
    }

    /// One endpoint: its request for a caller on a repo, and the status it answers an allowed caller.
    struct Endpoint {
        var name: String
        var success: HTTPResponse.Status
        var request: (_ repo: RepoFacts, _ caller: Caller) throws -> (HTTPRequest.Method, String, [UInt8]?)
    }

    static func json(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func endpoints(client: ClientRepo) -> [Endpoint] {
        [
            Endpoint(name: "GET repo", success: .ok) { repo, _ in (.get, "/v1/local/\(repo.name)", nil) },
            Endpoint(name: "PATCH repo", success: .ok) { repo, _ in
                (.patch, "/v1/local/\(repo.name)", json(#"{"tags":{"seen":"yes"}}"#))
            },
            Endpoint(name: "GET bookmarks", success: .ok) { repo, _ in (.get, "/v1/local/\(repo.name)/bookmarks", nil) },
            Endpoint(name: "POST bookmarks", success: .created) { repo, caller in
                (.post, "/v1/local/\(repo.name)/bookmarks", json(#"{"name":"b-\#(caller)","change_id":"\#(repo.head)"}"#))
            },
            Endpoint(name: "GET bookmark", success: .ok) { repo, _ in (.get, "/v1/local/\(repo.name)/bookmarks/main", nil) },
            Endpoint(name: "PATCH bookmark", success: .ok) { repo, _ in
                (.patch, "/v1/local/\(repo.name)/bookmarks/feat", json(#"{"change_id":"\#(repo.head)","allow_backwards":true}"#))
            },
            Endpoint(name: "DELETE bookmark", success: .ok) { repo, caller in
                (.delete, "/v1/local/\(repo.name)/bookmarks/b-\(caller)", nil)
            },
            Endpoint(name: "POST merge", success: .ok) { repo, _ in
                (.post, "/v1/local/\(repo.name)/bookmarks/merge", json(#"{"target":"main","source":"feat"}"#))
            },
            Endpoint(name: "GET changes", success: .ok) { repo, _ in (.get, "/v1/local/\(repo.name)/changes", nil) },
            Endpoint(name: "POST changes", success: .created) { repo, caller in
                let content = Data("by \(caller)".utf8).base64EncodedString()
                return (
                    .post, "/v1/local/\(repo.name)/changes",
                    json(#"{"base_change_id":"\#(repo.head)","files":[{"path":"c/\#(caller).txt","content":"\#(content)"}]}"#)
                )
            },
            Endpoint(name: "GET change", success: .ok) { repo, _ in (.get, "/v1/local/\(repo.name)/changes/\(repo.head)", nil) },
            Endpoint(name: "PATCH change", success: .ok) { repo, caller in
                (.patch, "/v1/local/\(repo.name)/changes/\(repo.head)", json(#"{"message":"seen by \#(caller)"}"#))
            },
            Endpoint(name: "GET diff", success: .ok) { repo, _ in
                (.get, "/v1/local/\(repo.name)/diff?base_change_id=\(ChangeID.root)&head_change_id=\(repo.head)", nil)
            },
            Endpoint(name: "GET content", success: .ok) { repo, _ in
                (.get, "/v1/local/\(repo.name)/content?path=src/a.txt", nil)
            },
            Endpoint(name: "sync capabilities", success: .ok) { repo, _ in (.get, "/v1/local/\(repo.name)/sync/capabilities", nil) },
            Endpoint(name: "sync resolve", success: .ok) { repo, _ in
                (.post, "/v1/local/\(repo.name)/sync/resolve", json(#"{"revisions":["bookmark:main"]}"#))
            },
            Endpoint(name: "sync lookup", success: .ok) { repo, _ in
                (.post, "/v1/local/\(repo.name)/sync/lookup", json(#"{"revision":"","path":"src/a.txt","inline_max_bytes":0}"#))
            },
            Endpoint(name: "sync trees", success: .ok) { repo, _ in
                (.post, "/v1/local/\(repo.name)/sync/trees", json(#"{"roots":["\#(repo.rootTree)"]}"#))
            },
            Endpoint(name: "sync objects", success: .ok) { repo, _ in
                (.post, "/v1/local/\(repo.name)/sync/objects", json(#"{"keys":["manifest:\#(repo.blob)"]}"#))
            },
            Endpoint(name: "sync have", success: .ok) { repo, _ in
                (.post, "/v1/local/\(repo.name)/sync/have", json(#"{"keys":["tree:\#(repo.rootTree)"]}"#))
            },
            Endpoint(name: "sync push", success: .ok) { repo, caller in
                let change = try client.change(["pushed/\(caller)-\(repo.name).txt": "pushed by \(caller)\n"])
                let transaction = PushTransaction(
                    changes: [ChangeUpdate(changeID: change.id.description, expectedCommit: nil, commit: change.commit.hex, parents: [])],
                    bookmarks: [])
                return (.post, "/v1/local/\(repo.name)/sync/push", try pushBody(try client.records(of: change.commit), transaction))
            },
        ]
    }

    @Test func everyEndpointAnswersEveryCallerAsItsRightsSay() async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let admin = server.adminKey
        let other = try server.services.metadata.createOrg(slug: "other", name: "other")
        let otherKey = try server.services.metadata.createAPIKey(
            orgID: other.id, name: "admin", scopes: [.admin, .write, .read], repoIDs: nil, expiresAt: nil, tags: [:]
        ).key
        try await server.test { http in
            var facts: [String: RepoFacts] = [:]
            for name in ["x", "y"] { facts[name] = try await Self.seed(name, http: http, admin: admin) }
            let xID = try server.repoID("x")
            let orgKey = try await http.send(.post, "/v1/local/api-keys", credential: admin, json: "{}")
                .decode(CreatedAPIKey.self).key
            let repoKey = try await http.send(
                .post, "/v1/local/api-keys", credential: admin, json: #"{"repo_ids":["\#(xID)"]}"#
            ).decode(CreatedAPIKey.self).key
            let repoToken = try AccessToken.mint(apiKey: try #require(APIKey(orgKey)), repos: ["local/x"])
            let credentials: [Caller: String] = [
                .admin: admin, .orgKey: orgKey, .repoKey: repoKey, .repoToken: repoToken, .otherOrg: otherKey,
            ]
            var checked = 0
            for endpoint in Self.endpoints(client: client) {
                for caller in Caller.allCases {
                    for repo in ["x", "y"] {
                        let (method, uri, body) = try endpoint.request(try #require(facts[repo]), caller)
                        var headers: HTTPFields = [.authorization: "Bearer \(try #require(credentials[caller]))"]
                        if body != nil { headers[.contentType] = "application/json" }
                        let reply = try await http.execute(
                            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) }
                        ) { response in
                            Reply(status: response.status, body: Data(response.body.readableBytesView), headers: response.headers)
                        }
                        let expected = caller.allowed(on: repo) ? endpoint.success : .forbidden
                        #expect(
                            reply.status == expected,
                            "\(endpoint.name) by \(caller) on \(repo): \(reply.status.code) \(reply.text.prefix(300))")
                        if !caller.allowed(on: repo) { #expect(reply.errorCode != nil) }
                        checked += 1
                    }
                }
            }
            #expect(checked == Self.endpoints(client: client).count * Caller.allCases.count * 2)

            // Deleting a repo follows the same rights (last: it is destructive).
            #expect(try await http.send(.delete, "/v1/local/y", credential: repoKey).status == .forbidden)
            #expect(try await http.send(.delete, "/v1/local/y", credential: repoToken).status == .forbidden)
            #expect(try await http.send(.delete, "/v1/local/y", credential: otherKey).status == .forbidden)
            #expect(try await http.send(.delete, "/v1/local/y", credential: orgKey).status == .ok)
        }
    }

    /// Records of repo `y` stay out of reach through repo `x`'s endpoints, whoever calls, even given their ids: not
    /// fetched, not reported present, not usable by a push into `x`.
    @Test(arguments: [Caller.admin, .orgKey, .repoKey, .repoToken])
    func anotherReposRecordsAreUnreachableThroughThisRepo(caller: Caller) async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let admin = server.adminKey
        try await server.test { http in
            _ = try await Self.seed("x", http: http, admin: admin)
            let y = try await Self.seed("y", http: http, admin: admin, text: "the secret of y\n")
            let xID = try server.repoID("x")
            let credential: String
            switch caller {
            case .admin: credential = admin
            case .orgKey: credential = try await http.send(.post, "/v1/local/api-keys", credential: admin, json: "{}").decode(CreatedAPIKey.self).key
            case .repoKey:
                credential = try await http.send(.post, "/v1/local/api-keys", credential: admin, json: #"{"repo_ids":["\#(xID)"]}"#)
                    .decode(CreatedAPIKey.self).key
            case .repoToken, .otherOrg:
                let key = try await http.send(.post, "/v1/local/api-keys", credential: admin, json: "{}").decode(CreatedAPIKey.self).key
                credential = try AccessToken.mint(apiKey: try #require(APIKey(key)), repos: ["local/x"])
            }
            let yKeys = ["tree:\(y.rootTree)", "manifest:\(y.blob)"]
            for key in yKeys {
                let objects = try await http.send(.post, "/v1/local/x/sync/objects", credential: credential, json: #"{"keys":["\#(key)"]}"#)
                #expect(objects.status == .notFound, "\(key): \(objects.text)")
            }
            let trees = try await http.send(.post, "/v1/local/x/sync/trees", credential: credential, json: #"{"roots":["\#(y.rootTree)"]}"#)
            #expect(trees.status == .notFound)
            let subtree = #"{"keys":[],"subtree":{"tree":"\#(y.rootTree)","max_bytes":1000000,"max_file_bytes":1000000}}"#
            #expect(try await http.send(.post, "/v1/local/x/sync/objects", credential: credential, json: subtree).status == .notFound)
            let have = try await http.send(
                .post, "/v1/local/x/sync/have", credential: credential, json: #"{"keys":["\#(yKeys[0])","\#(yKeys[1])"]}"#)
            #expect(try have.decode(HaveResponse.self).missing == yKeys)

            // A push into x that points at y's tree (a commit) or y's file (a tree entry), without carrying them.
            let yRoot = try #require(ObjectID(hex: y.rootTree))
            let yBlob = try #require(ObjectID(hex: y.blob))
            let commit = try client.rawObject(.commit, ClientRepo.commitBody(tree: yRoot))
            let tree = try client.rawObject(.tree, TreeCodec.encode([TreeEntry(name: "stolen.txt", mode: .regular, id: yBlob)]))
            let treeCommit = try client.rawObject(.commit, ClientRepo.commitBody(tree: try #require(tree.key.objectID)))
            for records in [[commit], [tree, treeCommit]] {
                let change = ChangeID.random()
                let transaction = PushTransaction(
                    changes: [ChangeUpdate(changeID: change.description, expectedCommit: nil, commit: try #require(records.last?.key.objectID?.hex), parents: [])],
                    bookmarks: [BookmarkUpdate(name: "stolen", expectedChange: nil, change: change.description)])
                let pushed = try await http.push(try pushBody(records, transaction), credential: credential, repo: "x")
                #expect(pushed.status == .badRequest, "\(pushed.text)")
                #expect(pushed.errorCode == "INVALID_TREE" || pushed.errorCode == "INVALID_COMMIT", "\(pushed.text)")
                #expect(try await http.send(.get, "/v1/local/x/bookmarks/stolen", credential: admin).status == .notFound)
            }
            let read = try await http.send(
                .get, "/v1/local/x/content?path=stolen.txt", credential: admin, headers: [.accept: "application/octet-stream"])
            #expect(read.status == .notFound)
        }
    }

    /// Creates repo `name` with one change holding `src/a.txt` and a second bookmark `feat` at it.
    static func seed(
        _ name: String, http: any TestClientProtocol, admin: String, text: String = "content\n"
    ) async throws -> RepoFacts {
        #expect(try await http.send(.post, "/v1/local/repos", credential: admin, json: #"{"name":"\#(name)"}"#).status == .created)
        let content = Data(text.utf8).base64EncodedString()
        let change = try await http.send(
            .post, "/v1/local/\(name)/changes", credential: admin,
            json: #"{"base_change_id":"\#(ChangeID.root)","files":[{"path":"src/a.txt","content":"\#(content)"}]}"#
        ).decode(Change.self)
        #expect(
            try await http.send(
                .post, "/v1/local/\(name)/bookmarks", credential: admin, json: #"{"name":"feat","change_id":"\#(change.id)"}"#
            ).status == .created)
        let resolved = try await http.send(
            .post, "/v1/local/\(name)/sync/resolve", credential: admin, json: #"{"revisions":["bookmark:main"]}"#
        ).decode(ResolveResponse.self)
        let file = try await http.send(.get, "/v1/local/\(name)/content?path=src/a.txt", credential: admin)
            .decode(ContentEntry.self)
        return RepoFacts(name: name, head: change.id, rootTree: try #require(resolved.resolutions.first?.rootTree), blob: file.sha)
    }
}
