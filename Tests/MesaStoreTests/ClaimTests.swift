import Foundation
import MesaCore
import MesaTesting
import Testing

@testable import MesaStore

/// Manifest claims in the store: they persist in the pin log, a verified writer of the same id settles them (the
/// same manifest confirms, another replaces), and a removed record takes its claim with it, also across a reopen.
@Suite struct ClaimTests {
    /// A manifest record naming `chunks` under the blob id of `content` (true or not).
    static func record(_ manifest: Manifest, claiming content: [UInt8]) -> StoredRecord {
        var hasher = GitBlobHasher(size: Int64(content.count))
        content.withUnsafeBytes { hasher.update($0) }
        let bytes = manifest.encoded()
        return StoredRecord(
            key: RecordKey(.manifest, object: hasher.finalize()), codec: .raw, rawLength: UInt32(bytes.count),
            stored: bytes, checksum: nil)
    }

    @Test func claimsPersistAndAVerifiedWriterSettlesThem() throws {
        let directory = try TemporaryDirectory()
        let path = directory.appending("store")
        var store = try ContentStore(path: path)
        var random = SeededBytes(seed: 5)
        let real = random.bytes(300_000)
        let other = random.bytes(200_000)
        let realManifest = try store.ingest(bytes: real)
        let otherManifest = try store.ingest(bytes: other)

        // A true claim survives a reopen, and the writer that computes the id confirms it.
        let trueClaim = Self.record(realManifest, claiming: real)
        #expect(try store.putClaimed(trueClaim))
        #expect(store.isClaimed(trueClaim.key))
        try store.sync()
        try store.close()
        store = try ContentStore(path: path)
        #expect(store.claimedKeys() == [trueClaim.key])
        #expect(try !store.put(realManifest.encoded(), key: trueClaim.key))
        #expect(!store.isClaimed(trueClaim.key))

        // A false claim (another file's chunks under this content's id) is replaced by the verified writer's.
        let falseClaim = Self.record(otherManifest, claiming: Array(real.prefix(1000)))
        #expect(try store.putClaimed(falseClaim))
        let truth = try store.ingest(bytes: Array(real.prefix(1000)))
        #expect(try store.put(truth.encoded(), key: falseClaim.key))
        #expect(!store.isClaimed(falseClaim.key))
        #expect(try store.manifest(forBlob: try #require(falseClaim.key.objectID)) == truth)

        // A removed claimed record takes its claim along, also after a reopen.
        let removed = Self.record(otherManifest, claiming: Array(real.prefix(10)))
        #expect(try store.putClaimed(removed))
        try store.remove([removed.key])
        #expect(!store.isClaimed(removed.key))
        try store.sync()
        try store.close()
        store = try ContentStore(path: path)
        #expect(store.claimedKeys().isEmpty)
        #expect(try store.putStored(removed))
        #expect(!store.isClaimed(removed.key), "a record stored again is not the claim that was removed")
    }

    @Test func onlyManifestsAreClaimed() throws {
        let directory = try TemporaryDirectory()
        let store = try ContentStore(path: directory.appending("store"))
        let bytes = Array("x".utf8)
        let record = StoredRecord(
            key: RecordKey(.tree, object: try #require(ObjectID(bytes: [UInt8](repeating: 1, count: 20)))), codec: .raw,
            rawLength: 1, stored: bytes, checksum: nil)
        #expect(throws: StoreError.self) { try store.putClaimed(record) }
    }
}
