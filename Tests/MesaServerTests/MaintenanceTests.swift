import Foundation
import HTTPTypes
import HummingbirdTesting
import MesaCore
import MesaServer
import MesaStore
import MesaTree
import MesaWire
import Testing

@Suite struct MaintenanceTests {
    /// Referenced records and records staged within the grace period stay; a record no repo references goes on the
    /// second run after it was last used; staged records past the grace period go too.
    @Test func collectionKeepsWhatReposReachAndReclaimsTheRest() async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let admin = server.adminKey
        let store = server.services.store
        let collector = server.services.collector
        let change = try client.change(["staged/file.txt": String(repeating: "staged for a resume\n", count: 500)])
        let staged = try client.records(of: change.commit).filter { $0.key.kind != .commit }
        let transaction = PushTransaction(
            changes: [ChangeUpdate(changeID: change.id.description, expectedCommit: nil, commit: change.commit.hex, parents: [])],
            bookmarks: [])
        try await server.test { http in
            let facts = try await AuthorizationMatrixTests.seed("r", http: http, admin: admin)
            // A push cut short: its records are staged for a resume.
            let cut = Array(try pushBody(staged, transaction).dropLast(5))
            #expect(try await http.push(cut, credential: admin).status == .badRequest)
            // What a refused request could have left: a record nothing references.
            let orphan = try store.putChunk(Array("orphaned bytes".utf8))
            let orphanKey = RecordKey(chunk: orphan)

            _ = try collector.collect()
            #expect(store.contains(orphanKey), "the first run after a write keeps it (it may be about to be referenced)")
            let second = try collector.collect()
            #expect(!store.contains(orphanKey))
            #expect(second.removedRecords == 1)
            #expect(staged.allSatisfy { store.contains($0.key) })
            let manifest = RecordKey(.manifest, object: try #require(ObjectID(hex: facts.blob)))
            #expect(store.contains(manifest))

            // Past the grace period the staged records are no one's.
            let later = Date().timeIntervalSince1970 + collector.grace + 60
            let expired = try collector.collect(now: later)
            #expect(expired.expiredStaged == staged.count)
            #expect(expired.removedRecords == staged.count)
            #expect(staged.allSatisfy { !store.contains($0.key) })
            let read = try await http.send(
                .get, "/v1/local/r/content?path=src/a.txt", credential: admin, headers: [.accept: "application/octet-stream"])
            #expect(read.text == "content\n")
        }
    }

    /// A record touched since the previous run (what a writer does before referencing content it found present)
    /// survives the run; untouched for a whole interval, it goes.
    @Test func aRecordUsedSinceThePreviousRunIsKept() throws {
        let server = try ServerHarness()
        let store = server.services.store
        let collector = server.services.collector
        let key = RecordKey(chunk: try store.putChunk(Array("about to be referenced".utf8)))
        _ = try collector.collect()
        #expect(store.touch([key]) == [key])
        _ = try collector.collect()
        #expect(store.contains(key))
        _ = try collector.collect()
        #expect(!store.contains(key))
    }

    /// A deleted repo's records become collectable; records another repo also reaches stay.
    @Test func aDeletedReposRecordsAreCollectedButSharedOnesStay() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        let store = server.services.store
        try await server.test { http in
            let kept = try await AuthorizationMatrixTests.seed("x", http: http, admin: admin, text: "shared\n")
            let gone = try await AuthorizationMatrixTests.seed("y", http: http, admin: admin, text: "shared\n")
            let only = Data("only in y\n".utf8).base64EncodedString()
            let extra = try await http.send(
                .post, "/v1/local/y/changes", credential: admin,
                json: #"{"base_change_id":"\#(gone.head)","files":[{"path":"only.txt","content":"\#(only)"}]}"#
            ).decode(Change.self)
            let onlyBlob = try await http.send(
                .get, "/v1/local/y/content?path=only.txt&change_id=\(extra.id)", credential: admin
            ).decode(ContentEntry.self).sha
            #expect(try await http.send(.delete, "/v1/local/y", credential: admin).status == .ok)
            _ = try server.services.collector.collect()
            _ = try server.services.collector.collect()
            #expect(!store.contains(RecordKey(.manifest, object: try #require(ObjectID(hex: onlyBlob)))))
            #expect(store.contains(RecordKey(.manifest, object: try #require(ObjectID(hex: kept.blob)))))
            let read = try await http.send(
                .get, "/v1/local/x/content?path=src/a.txt", credential: admin, headers: [.accept: "application/octet-stream"])
            #expect(read.text == "shared\n")
        }
    }

    /// References rebuilt from a repo's history (data from before per-repo references, or a repair) serve the
    /// repo's records again, and nothing more.
    @Test func rebuiltReferencesServeTheReposHistory() async throws {
        let server = try ServerHarness()
        let admin = server.adminKey
        try await server.test { http in
            let facts = try await AuthorizationMatrixTests.seed("r", http: http, admin: admin)
            let keys = #"{"keys":["tree:\#(facts.rootTree)","manifest:\#(facts.blob)"]}"#
            #expect(try await http.send(.post, "/v1/local/r/sync/objects", credential: admin, json: keys).status == .ok)
            let repoID = try server.repoID("r")
            try server.services.metadata.markForReferenceRebuild(repoID: repoID)
            #expect(try await http.send(.post, "/v1/local/r/sync/objects", credential: admin, json: keys).status == .notFound)
            #expect(try server.services.metadata.reposAwaitingReferenceRebuild() == [repoID])
            try ReferenceRebuild.run(services: server.services)
            #expect(try server.services.metadata.reposAwaitingReferenceRebuild().isEmpty)
            #expect(try await http.send(.post, "/v1/local/r/sync/objects", credential: admin, json: keys).status == .ok)
        }
    }
}
