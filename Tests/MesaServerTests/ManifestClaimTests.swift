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

/// What the server verifies of a pushed manifest: a small edit of a large file is stored as a claim without reading
/// the chunks it shares with the old version; a false claim is served only where it was pushed and gives way to a
/// verified writer of the same blob id; a second, different manifest under a claimed id is refused unless verified.
@Suite struct ManifestClaimTests {
    static let author = Signature(name: "t", email: "t@t", time: 1_700_000_000)

    /// 8 MiB of seeded random bytes: many chunks, far more than the verification budget.
    static func large() -> [UInt8] {
        var random = SeededBytes(seed: 31)
        return random.bytes(8 << 20)
    }

    func pushCreate(_ records: [SyncRecord], _ change: ChangeRecord, repo: String, bookmark: String = "main") -> PushTransaction {
        PushTransaction(
            changes: [ChangeUpdate(changeID: change.id.description, expectedCommit: nil, commit: change.commit.hex, parents: [ChangeID.root.description])],
            bookmarks: [BookmarkUpdate(name: bookmark, expectedChange: nil, change: change.id.description)])
    }

    @Test func aOneByteEditOfALargeFileIsStoredAsAClaimWithoutReadingTheFile() async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        var bytes = Self.large()
        let firstBlob = try client.repository.writeBlob(bytes)
        let first = try client.repository.createChange(
            parents: [.root], edits: [.upsert(path: "big.bin", blob: firstBlob, mode: .regular)], message: "m", author: Self.author)
        bytes[4 << 20] ^= 0xFF
        let secondBlob = try client.repository.writeBlob(bytes)
        let second = try client.repository.evolveChange(
            first.id, edits: [.upsert(path: "big.bin", blob: secondBlob, mode: .regular)], committer: Self.author)
        let firstRecords = try client.records(of: first.commit)
        let newRecords = try client.records(of: second.commit).filter { record in !firstRecords.contains { $0.key == record.key } }
        let edited = bytes
        let newChunkBytes = newRecords.filter { $0.key.kind == .chunk }.reduce(0) { $0 + Int64($1.rawLength) }
        #expect(newChunkBytes < 2 << 20, "a 1-byte edit makes a few new chunks, not \(newChunkBytes) bytes")
        let key = server.adminKey
        let store = server.services.store

        try await server.test { http in
            #expect(try await http.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"r"}"#).status == .created)
            #expect(try await http.push(try pushBody(firstRecords, pushCreate(firstRecords, first, repo: "r")), credential: key).status == .ok)
            // A new file is verified in full: all of its chunks arrived with it.
            #expect(!store.isClaimed(RecordKey(.manifest, object: firstBlob)))

            let hitsBefore = store.stats().hits
            let evolve = PushTransaction(
                changes: [ChangeUpdate(changeID: first.id.description, expectedCommit: first.commit.hex, commit: second.commit.hex, parents: nil)],
                bookmarks: [])
            let pushed = try await http.push(try pushBody(newRecords, evolve), credential: key)
            #expect(pushed.status == .ok, "\(pushed.text)")
            let reads = store.stats().hits - hitsBefore
            #expect(store.isClaimed(RecordKey(.manifest, object: secondBlob)))
            // Without claims the push reads all 8 MiB of chunks to recompute the blob id: one read per chunk.
            let chunks = try client.repository.manifest(ofBlob: secondBlob).chunks.count
            #expect(reads < Int64(chunks / 2), "the push read \(reads) records for a file of \(chunks) chunks")

            let served = try await http.send(
                .get, "/v1/local/r/content?path=big.bin", credential: key, headers: [.accept: "application/octet-stream"])
            #expect(Array(served.body) == edited)
        }
    }

    @Test func aFalseClaimGivesWayToAVerifiedWriterAndCannotBeReplacedByAnotherLie() async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let bytes = Self.large()
        let bigBlob = try client.repository.writeBlob(bytes)
        let first = try client.repository.createChange(
            parents: [.root], edits: [.upsert(path: "big.bin", blob: bigBlob, mode: .regular)], message: "m", author: Self.author)
        let firstRecords = try client.records(of: first.commit)
        // The lie: the blob id of a small text, naming the large file's chunks.
        let truth = Array("the real content\n".utf8)
        var hasher = GitBlobHasher(size: Int64(truth.count))
        truth.withUnsafeBytes { hasher.update($0) }
        let liedID = hasher.finalize()
        let bigManifest = try client.repository.manifest(ofBlob: bigBlob)
        try client.store.put(bigManifest.encoded(), key: RecordKey(.manifest, object: liedID))
        let lie = try client.repository.evolveChange(
            first.id, edits: [.upsert(path: "fake.txt", blob: liedID, mode: .regular)], committer: Self.author)
        let lieRecords = try client.records(of: lie.commit).filter { record in !firstRecords.contains { $0.key == record.key } }
        let key = server.adminKey
        let store = server.services.store
        let liedKey = RecordKey(.manifest, object: liedID)

        try await server.test { http in
            #expect(try await http.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"r"}"#).status == .created)
            #expect(try await http.push(try pushBody(firstRecords, pushCreate(firstRecords, first, repo: "r")), credential: key).status == .ok)
            let evolve = PushTransaction(
                changes: [ChangeUpdate(changeID: first.id.description, expectedCommit: first.commit.hex, commit: lie.commit.hex, parents: nil)],
                bookmarks: [])
            let pushed = try await http.push(try pushBody(lieRecords, evolve), credential: key)
            #expect(pushed.status == .ok, "\(pushed.text)")
            #expect(store.isClaimed(liedKey))

            // Another repo writes the real content over REST: the server computes the id itself and the claim gives
            // way; the real content is what that repo reads.
            #expect(try await http.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"y"}"#).status == .created)
            let content = Data(truth).base64EncodedString()
            let created = try await http.send(
                .post, "/v1/local/y/changes", credential: key,
                json: #"{"base_change_id":"\#(ChangeID.root)","files":[{"path":"real.txt","content":"\#(content)"}]}"#)
            #expect(created.status == .created, "\(created.text)")
            let change = try created.decode(Change.self)
            let served = try await http.send(
                .get, "/v1/local/y/content?path=real.txt&change_id=\(change.id)", credential: key,
                headers: [.accept: "application/octet-stream"])
            #expect(Array(served.body) == truth)
            #expect(!store.isClaimed(liedKey))
            #expect(try store.idMismatch(liedKey, try store.get(liedKey)) == nil)

            // A second lie under the now verified id, naming other chunks, is checked and refused.
            let again = try client.repository.evolveChange(
                first.id, edits: [.upsert(path: "fake2.txt", blob: liedID, mode: .regular)], committer: Self.author)
            let againRecords = try client.records(of: again.commit).filter { record in
                !firstRecords.contains { $0.key == record.key } && record.key.kind != .chunk
            }
            let refused = try await http.push(
                try pushBody(againRecords, PushTransaction(
                    changes: [ChangeUpdate(changeID: first.id.description, expectedCommit: lie.commit.hex, commit: again.commit.hex, parents: nil)],
                    bookmarks: [])),
                credential: key)
            #expect(refused.status == .badRequest, "\(refused.text)")
            #expect(refused.text.contains("does not hash to the blob id"))
        }
    }

    @Test func aClaimListingAChunkWithAnotherLengthIsRefused() async throws {
        let server = try ServerHarness()
        let client = try ClientRepo()
        let bytes = Self.large()
        let blob = try client.repository.writeBlob(bytes)
        let first = try client.repository.createChange(
            parents: [.root], edits: [.upsert(path: "big.bin", blob: blob, mode: .regular)], message: "m", author: Self.author)
        let firstRecords = try client.records(of: first.commit)
        // A manifest over the stored chunks (a claim: nothing new to read) listing the first one a byte short, so
        // offsets would map to other bytes; its id is that of the content it claims.
        var chunks = try client.repository.manifest(ofBlob: blob).chunks
        chunks[0].length -= 1
        let claimed = Array(bytes.dropFirst())
        var hasher = GitBlobHasher(size: Int64(claimed.count))
        claimed.withUnsafeBytes { hasher.update($0) }
        let claimedID = hasher.finalize()
        try client.store.put(Manifest(chunks: chunks).encoded(), key: RecordKey(.manifest, object: claimedID))
        let bad = try client.repository.evolveChange(
            first.id, edits: [.upsert(path: "short.bin", blob: claimedID, mode: .regular)], committer: Self.author)
        let badRecords = try client.records(of: bad.commit).filter { record in !firstRecords.contains { $0.key == record.key } }
        let key = server.adminKey
        try await server.test { http in
            #expect(try await http.send(.post, "/v1/local/repos", credential: key, json: #"{"name":"r"}"#).status == .created)
            #expect(try await http.push(try pushBody(firstRecords, pushCreate(firstRecords, first, repo: "r")), credential: key).status == .ok)
            let refused = try await http.push(
                try pushBody(badRecords, PushTransaction(
                    changes: [ChangeUpdate(changeID: first.id.description, expectedCommit: first.commit.hex, commit: bad.commit.hex, parents: nil)],
                    bookmarks: [])),
                credential: key)
            #expect(refused.status == .badRequest)
            #expect(refused.text.contains("with length"), "\(refused.text)")
        }
    }
}
