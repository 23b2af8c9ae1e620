import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MesaCore
import MesaServer
import MesaStore
import MesaTesting
import MesaTree
import MesaWire
import NIOCore
import Testing

@Suite struct SyncRouteTests {
    @Test func aPushedChangeIsReadableThroughRESTAndAStalePushGets409() async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let first = try client.change(["src/a.txt": "hello\n", "README": "readme\n"])
        let second = try client.repository.evolveChange(
            first.id,
            edits: [.upsert(path: "src/a.txt", blob: try client.repository.writeBlob(Array("bye\n".utf8)), mode: .regular)],
            committer: .init(name: "t", email: "t@t", time: 1_700_000_100))
        let firstRecords = try client.records(of: first.commit)
        let secondRecords = try client.records(of: second.commit)
        let key = server.adminKey

        try await server.test { client in
            #expect(try await client.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"r"}"#).status == .created)
            let caps = try await client.send(.get, "/v1/local/r/sync/capabilities", credential: key).decode(SyncCapabilities.self)
            #expect(caps.protocolVersion == 1)

            let have = try await client.send(
                .post, "/v1/local/r/sync/have", credential: key,
                json: String(decoding: try JSONEncoder().encode(HaveRequest(keys: firstRecords.map(\.key.description))), as: UTF8.self))
            #expect(try have.decode(HaveResponse.self).missing.count == firstRecords.count)

            let create = PushTransaction(
                changes: [ChangeUpdate(changeID: first.id.description, expectedCommit: nil, commit: first.commit.hex, parents: [ChangeID.root.description])],
                bookmarks: [BookmarkUpdate(name: "main", expectedChange: nil, change: first.id.description)])
            let pushed = try await client.push(try pushBody(firstRecords, create), credential: key)
            #expect(pushed.status == .ok, "\(pushed.text)")
            guard case .json(let resultJSON) = try frames(pushed).first else { Issue.record("no result frame"); return }
            let result = try JSONDecoder().decode(PushResult.self, from: Data(resultJSON))
            #expect(result.status == "applied")
            #expect(result.stored == firstRecords.count)

            let content = try await client.send(.get, "/v1/local/r/content?path=src/a.txt", credential: key).decode(ContentEntry.self)
            #expect(content.content == Data("hello\n".utf8).base64EncodedString())
            let change = try await client.send(.get, "/v1/local/r/changes/\(first.id)", credential: key).decode(Change.self)
            #expect(change.currentCommitOID == first.commit.hex)

            // Evolve: only the new records travel; the expectation names the commit the client last saw.
            let newRecords = secondRecords.filter { record in !firstRecords.contains { $0.key == record.key } }
            let evolve = PushTransaction(
                changes: [ChangeUpdate(changeID: first.id.description, expectedCommit: first.commit.hex, commit: second.commit.hex, parents: [ChangeID.root.description])],
                bookmarks: [])
            #expect(try await client.push(try pushBody(newRecords, evolve), credential: key).status == .ok)
            let text = try await client.send(
                .get, "/v1/local/r/content?path=src/a.txt", credential: key, headers: [.accept: "application/octet-stream"])
            #expect(text.text == "bye\n")

            // The same evolution again is stale: 409 with the current commit and its trees in the stream.
            let stale = try await client.push(try pushBody([], evolve), credential: key)
            #expect(stale.status == .conflict)
            let staleFrames = try frames(stale)
            guard case .json(let conflictJSON) = staleFrames.first else { Issue.record("no conflict frame"); return }
            let conflict = try JSONDecoder().decode(PushResult.self, from: Data(conflictJSON))
            #expect(conflict.status == "conflict")
            #expect(conflict.conflicts == [PushConflict(kind: "change", name: first.id.description, expected: first.commit.hex, current: second.commit.hex)])
            let carried = staleFrames.compactMap { frame -> RecordKey? in if case .record(let r) = frame { return r.key } else { return nil } }
            #expect(carried.contains(RecordKey(.commit, object: second.commit)))
            #expect(carried.contains { $0.kind == .tree })
        }
    }

    /// Each refused push runs against a fresh server: records of a push cut short stay staged for the repo (so an
    /// interrupted push can resume), which would let a later push in the same test rely on them.
    @Test(arguments: ["corrupt frame", "forged chunk", "dangling manifest", "cut stream", "bad transaction"])
    func refusedPushesLeaveNothingVisible(failure: String) async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let change = try client.change(["a.txt": String(repeating: "content ", count: 5000)])
        let records = try client.records(of: change.commit)
        let allKeys = records.map(\.key.description)
        var transaction = PushTransaction(
            changes: [ChangeUpdate(changeID: change.id.description, expectedCommit: nil, commit: change.commit.hex, parents: [])],
            bookmarks: [BookmarkUpdate(name: "main", expectedChange: nil, change: change.id.description)])
        var body: [UInt8]
        switch failure {
        case "corrupt frame":
            body = try pushBody(records, transaction)
            body[8 + 16 + 32 + 10] ^= 0x40  // inside the first record's payload
        case "forged chunk":
            var forged = records
            let index = try #require(forged.firstIndex { $0.key.kind == .chunk })
            forged[index] = SyncRecord(key: forged[index].key, codec: 0, rawLength: 3, stored: Array("bad".utf8))
            body = try pushBody(forged, transaction)
        case "dangling manifest":
            body = try pushBody(records.filter { $0.key.kind != .chunk }, transaction)
        case "cut stream":
            body = Array(try pushBody(records, transaction).dropLast(5))
        default:
            transaction.changes[0].commit = String(repeating: "1", count: 40)
            body = try pushBody(records, transaction)
        }
        let key = server.adminKey
        let pushBytes = body
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"r"}"#)
            let refused = try await http.push(pushBytes, credential: key)
            #expect(refused.status.code >= 400 && refused.status.code < 500, "\(refused.text)")
            #expect(refused.errorCode != nil)
            // Nothing is visible: no bookmark, no change, no content.
            #expect(try await http.send(.get, "/v1/local/r/bookmarks/main", credential: key).status == .notFound)
            #expect(try await http.send(.get, "/v1/local/r/changes/\(change.id)", credential: key).status == .notFound)
            #expect(try await http.send(.get, "/v1/local/r/content?path=a.txt", credential: key).status == .notFound)
            // A refused push stages nothing: `have` still misses every key. A stream cut short keeps what arrived
            // whole and verified staged, so the client's next attempt need not send it again.
            let have = try await http.send(
                .post, "/v1/local/r/sync/have", credential: key,
                json: String(decoding: try JSONEncoder().encode(HaveRequest(keys: allKeys)), as: UTF8.self))
            let missing = try have.decode(HaveResponse.self).missing.count
            #expect(missing == (failure == "cut stream" ? 0 : allKeys.count))
        }
    }

    @Test func anotherOrgCannotFetchOrProbeThisOrgsContent() async throws {
        let server = try ServerHarness()
        let other = try server.services.metadata.createOrg(slug: "other", name: "other")
        let otherKey = try server.services.metadata.createAPIKey(
            orgID: other.id, name: "o", scopes: [.read, .write], repoIDs: nil, expiresAt: nil, tags: [:]).key
        let client = try ClientRepo()
        let change = try client.change(["secret.txt": "the secret\n"])
        let records = try client.records(of: change.commit)
        let chunks = records.filter { $0.key.kind == .chunk }
        let key = server.adminKey
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"r"}"#)
            let transaction = PushTransaction(
                changes: [ChangeUpdate(changeID: change.id.description, expectedCommit: nil, commit: change.commit.hex, parents: [])],
                bookmarks: [BookmarkUpdate(name: "main", expectedChange: nil, change: change.id.description)])
            #expect(try await http.push(try pushBody(records, transaction), credential: key).status == .ok)

            _ = try await http.execute(
                uri: "/v1/other/repos", method: .post, headers: [.authorization: "Bearer \(otherKey)"],
                body: ByteBuffer(string: #"{"name":"o"}"#)) { _ in }
            // `have` from the other org reports the chunk missing even though the store holds it.
            let probe = try await http.execute(
                uri: "/v1/other/o/sync/have", method: .post, headers: [.authorization: "Bearer \(otherKey)"],
                body: ByteBuffer(string: String(decoding: try JSONEncoder().encode(HaveRequest(keys: chunks.map(\.key.description))), as: UTF8.self))
            ) { Reply(status: $0.status, body: Data($0.body.readableBytesView), headers: $0.headers) }
            #expect(try probe.decode(HaveResponse.self).missing.count == chunks.count)
            // Fetching it is refused.
            let fetch = try await http.execute(
                uri: "/v1/other/o/sync/objects", method: .post, headers: [.authorization: "Bearer \(otherKey)"],
                body: ByteBuffer(string: String(decoding: try JSONEncoder().encode(ObjectsRequest(keys: chunks.map(\.key.description))), as: UTF8.self))
            ) { Reply(status: $0.status, body: Data($0.body.readableBytesView), headers: $0.headers) }
            #expect(fetch.status == .notFound)
            // A manifest pointing at the chunks without carrying them is refused too (no existence oracle).
            let manifests = records.filter { $0.key.kind == .manifest }
            let sneak = try await http.execute(
                uri: "/v1/other/o/sync/push", method: .post, headers: [.authorization: "Bearer \(otherKey)"],
                body: ByteBuffer(bytes: try pushBody(manifests, PushTransaction(changes: [], bookmarks: [])))
            ) { Reply(status: $0.status, body: Data($0.body.readableBytesView), headers: $0.headers) }
            #expect(sneak.status == .badRequest)
            // And the org's own repo is not reachable with the other org's key at all.
            let direct = try await http.execute(
                uri: "/v1/local/r/sync/capabilities", method: .get, headers: [.authorization: "Bearer \(otherKey)"]
            ) { $0.status }
            #expect(direct == .forbidden)
        }
    }

    @Test func lookupTreesObjectsAndResolveServeWhatAMountNeeds() async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        var files: [String: String] = ["a/b/c/d/e/f.txt": "deep\n", "top.txt": "top\n"]
        for index in 0..<20 { files["a/many/\(index).txt"] = String(repeating: "x", count: 1000 * (index + 1)) }
        let change = try client.change(files)
        let records = try client.records(of: change.commit)
        let key = server.adminKey
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"r"}"#)
            let transaction = PushTransaction(
                changes: [ChangeUpdate(changeID: change.id.description, expectedCommit: nil, commit: change.commit.hex, parents: [])],
                bookmarks: [BookmarkUpdate(name: "main", expectedChange: nil, change: change.id.description)])
            #expect(try await http.push(try pushBody(records, transaction), credential: key).status == .ok)

            // One round trip from nothing to a deep file's bytes.
            let lookup = try await http.send(
                .post, "/v1/local/r/sync/lookup", credential: key, json: #"{"revision":"","path":"a/b/c/d/e/f.txt","inline_max_bytes":65536}"#)
            let lookupFrames = try frames(lookup)
            guard case .json(let headerJSON) = lookupFrames.first else { Issue.record("no header"); return }
            let header = try JSONDecoder().decode(LookupHeader.self, from: Data(headerJSON))
            #expect(header.type == "file" && header.size == 5 && header.resolution.changeID == change.id.description)
            let kinds = lookupFrames.compactMap { frame -> RecordKind? in if case .record(let r) = frame { return r.key.kind } else { return nil } }
            #expect(kinds == [.tree, .tree, .tree, .tree, .tree, .tree, .manifest, .chunk])
            let missing = try await http.send(
                .post, "/v1/local/r/sync/lookup", credential: key, json: #"{"revision":"","path":"a/nope","inline_max_bytes":0}"#)
            guard case .json(let missingJSON) = try frames(missing).first else { Issue.record("no header"); return }
            #expect(try JSONDecoder().decode(LookupHeader.self, from: Data(missingJSON)).type == nil)

            // Trees to a depth, and all of them.
            let root = header.resolution.rootTree
            let shallow = try frames(try await http.send(.post, "/v1/local/r/sync/trees", credential: key, json: #"{"roots":["\#(root)"],"depth":1}"#))
            let all = try frames(try await http.send(.post, "/v1/local/r/sync/trees", credential: key, json: #"{"roots":["\#(root)"]}"#))
            #expect(shallow.count - 1 == 2)  // root and a/
            #expect(all.count - 1 == 7)  // root, a, a/b, a/b/c, a/b/c/d, a/b/c/d/e, a/many

            // A subtree's content in one call, within a byte budget.
            let subtree = #"{"keys":[],"subtree":{"tree":"\#(root)","max_bytes":50000,"max_file_bytes":1000000}}"#
            let content = try frames(try await http.send(.post, "/v1/local/r/sync/objects", credential: key, json: subtree))
            let manifests = content.filter { if case .record(let r) = $0 { return r.key.kind == .manifest } else { return false } }
            let chunkBytes = content.reduce(0) { sum, frame in
                if case .record(let r) = frame, r.key.kind == .chunk { return sum + Int(r.rawLength) } else { return sum }
            }
            #expect(manifests.count == 22)
            #expect(chunkBytes >= 50000 && chunkBytes < 50000 + 21000)

            // Resolve with a conditional request: 304 while nothing moves.
            let resolve = try await http.send(.post, "/v1/local/r/sync/resolve", credential: key, json: #"{"revisions":["bookmark:main"]}"#)
            let tag = try #require(resolve.headers[.eTag])
            let again = try await http.send(
                .post, "/v1/local/r/sync/resolve", credential: key, json: #"{"revisions":["bookmark:main"]}"#,
                headers: [.ifNoneMatch: tag])
            #expect(again.status == .notModified, "tag \(tag) second \(again.headers[.eTag] ?? "none")")
        }
    }
}

@Suite struct StagedRecordTests {
    /// A push cut short (no end frame) leaves its verified records staged; a later push that relies on them (without
    /// carrying them again) makes them referenced when its transaction applies, so they are not garbage.
    @Test func aResumedPushPromotesTheRecordsAnInterruptedPushStaged() async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let change = try client.change(["dir/a.txt": "resumed\n"])
        let records = try client.records(of: change.commit)
        let key = server.adminKey
        let good = PushTransaction(
            changes: [ChangeUpdate(changeID: change.id.description, expectedCommit: nil, commit: change.commit.hex, parents: [])],
            bookmarks: [BookmarkUpdate(name: "main", expectedChange: nil, change: change.id.description)])
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"r"}"#)
            let repoID = try server.repoID("r")
            // Everything but the commit, and the stream stops before its end frame: records verified and staged.
            let withoutCommit = records.filter { $0.key.kind != .commit }
            let cut = Array(try pushBody(withoutCommit, good).dropLast(5))
            let refused = try await http.push(cut, credential: key)
            #expect(refused.status == .badRequest)
            let stagedBefore = try server.services.metadata.staged(repoID: repoID, keys: withoutCommit.map(\.key))
            #expect(stagedBefore.count == withoutCommit.count)
            // The resumed push carries only the commit.
            let commit = records.filter { $0.key.kind == .commit }
            #expect(try await http.push(try pushBody(commit, good), credential: key).status == .ok)
            #expect(try server.services.metadata.staged(repoID: repoID, keys: records.map(\.key)).isEmpty)
            let read = try await http.send(
                .get, "/v1/local/r/content?path=dir/a.txt", credential: key, headers: [.accept: "application/octet-stream"])
            #expect(read.text == "resumed\n")
        }
    }

    /// A push the server refuses keeps nothing: nothing staged, and the records it stored taken back from the store
    /// at once (here: a transaction naming a commit it does not carry, a forged record after valid ones in the same
    /// batch, and no transaction at all).
    @Test(arguments: ["absent commit", "forged record", "no transaction"])
    func aRefusedPushLeavesTheStoreAsItWas(failure: String) async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let change = try client.change(["dir/a.txt": String(repeating: "refused push content\n", count: 4000)])
        let records = try client.records(of: change.commit)
        let key = server.adminKey
        var transaction = PushTransaction(
            changes: [ChangeUpdate(changeID: change.id.description, expectedCommit: nil, commit: change.commit.hex, parents: [])],
            bookmarks: [])
        var body: [UInt8]
        switch failure {
        case "absent commit":
            transaction.changes[0].commit = String(repeating: "1", count: 40)
            body = try pushBody(records.filter { $0.key.kind != .commit }, transaction)
        case "forged record":
            var forged = records
            forged[forged.count - 1] = SyncRecord(
                key: forged[forged.count - 1].key, codec: 0, rawLength: 4, stored: Array("evil".utf8))
            body = try pushBody(forged, transaction)
        default:
            body = SyncFrameEncoder.magic
            for record in records { body += SyncFrameEncoder.encode(.record(record)) }
            body += SyncFrameEncoder.encode(.end(recordCount: UInt32(records.count)))
        }
        let pushBytes = body
        let baseline = server.services.store.stats()
        try await server.test { http in
            _ = try await http.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"r"}"#)
            let repoID = try server.repoID("r")
            let refused = try await http.push(pushBytes, credential: key)
            #expect((400..<500).contains(refused.status.code), "\(refused.text)")
            #expect(try server.services.metadata.referenced(repoID: repoID, keys: records.map(\.key)).isEmpty)
            let have = try await http.send(
                .post, "/v1/local/r/sync/have", credential: key,
                json: String(decoding: try JSONEncoder().encode(HaveRequest(keys: records.map(\.key.description))), as: UTF8.self))
            #expect(try have.decode(HaveResponse.self).missing.count == records.count)
        }
        let after = server.services.store.stats()
        #expect(after.records == baseline.records, "\(failure)")
        #expect(after.bytes == baseline.bytes, "\(failure)")
    }
}
