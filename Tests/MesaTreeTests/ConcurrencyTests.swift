import Dispatch
import MesaCore
import MesaStore
import MesaTesting
import MesaTree
import Synchronization
import Testing

@Suite struct ConcurrencyTests {
    /// Commits, diffs and merges from many threads share one libgit2 handle safely (it is locked per call).
    @Test func oneRepositoryServesManyThreadsAtOnce() throws {
        let fixture = try StoreFixture()
        let repository = fixture.repository
        let first = try fixture.blob(DiffTests.lines(1...20))
        let base = try repository.createChange(
            parents: [.root], edits: [.upsert(path: "f.txt", blob: first, mode: .regular)], message: "base",
            author: testAuthor)
        let failures = Mutex<[String]>([])
        let changes = Mutex<[ChangeRecord]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            do {
                let blob = try repository.writeBlob(Array(DiffTests.lines(1...20, changing: [index + 1: "edit"]).utf8))
                let change = try repository.createChange(
                    parents: [base.id], edits: [.upsert(path: "f.txt", blob: blob, mode: .regular)],
                    message: "edit \(index)", author: testAuthor)
                let diff = try repository.diff(from: base.commit, to: change.commit)
                if diff.entries.map(\.path) != ["f.txt"] { failures.withLock { $0.append("diff \(index)") } }
                _ = try repository.merge(base: base.commit, ours: change.commit, theirs: base.commit)
                changes.withLock { $0.append(change) }
            } catch {
                failures.withLock { $0.append("\(index): \(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
        #expect(Set(changes.withLock { $0 }.map(\.id)).count == 8)
        #expect(try repository.catalog.changes().count == 9)
    }
}
