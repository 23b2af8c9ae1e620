import MesaCore
import MesaStore
import MesaTesting
import MesaTree
import Testing

@Suite struct RecordPlanTests {
    @Test func recordsComeAfterWhatTheyPointAtAndKnownHistoryIsSkipped() throws {
        let directory = try TemporaryDirectory()
        let store = try ContentStore(path: directory.appending("store"))
        let repository = try MesaRepository(store: store)
        let author = Signature(name: "t", email: "t@t", time: 1_700_000_000)
        func blob(_ text: String) throws -> ObjectID { try repository.writeBlob(Array(text.utf8)) }
        let first = try repository.createChange(
            parents: [], edits: [.upsert(path: "a/b/c.txt", blob: try blob("one"), mode: .regular),
                .upsert(path: "top.txt", blob: try blob("top"), mode: .regular)],
            message: "1", author: author)
        let second = try repository.createChange(
            parents: [first.id], edits: [.upsert(path: "a/b/d.txt", blob: try blob("two"), mode: .regular)],
            message: "2", author: author)

        let plan = try repository.records(reachableFrom: [second.commit])
        #expect(Set(plan).count == plan.count)
        // Every record appears after every record it refers to.
        var position: [RecordKey: Int] = [:]
        for (index, key) in plan.enumerated() { position[key] = index }
        for key in plan {
            let bytes = try store.get(key)
            var references: [RecordKey] = []
            switch key.kind {
            case .commit:
                let commit = try repository.commit(try #require(key.objectID))
                references = [RecordKey(.tree, object: commit.tree)] + commit.parents.map { RecordKey(.commit, object: $0) }
            case .tree:
                references = try repository.tree(try #require(key.objectID)).map {
                    $0.mode == .directory ? RecordKey(.tree, object: $0.id) : RecordKey(.manifest, object: $0.id)
                }
            case .manifest:
                references = try #require(Manifest(decoding: bytes)).chunks.map { RecordKey(chunk: $0.id) }
            case .chunk, .tag:
                references = []
            }
            for reference in references {
                let referenced = try #require(position[reference], "\(key) refers to \(reference), which the plan lacks")
                #expect(referenced < position[key] ?? 0)
            }
        }
        #expect(plan.filter { $0.kind == .commit } == [RecordKey(.commit, object: first.commit), RecordKey(.commit, object: second.commit)])

        // With the first commit known, only the second commit is walked (its trees and blobs all come again, for the
        // receiver's `have` to prune).
        let incremental = try repository.records(reachableFrom: [second.commit], known: [first.commit])
        #expect(incremental.filter { $0.kind == .commit } == [RecordKey(.commit, object: second.commit)])
        #expect(incremental.count < plan.count)
    }
}
