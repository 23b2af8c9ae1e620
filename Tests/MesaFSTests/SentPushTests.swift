import MesaCore
import MesaFS
import MesaSync
import Testing

/// The journal's record of sent pushes (how a lost push answer is recognized later): kept in order across a restart,
/// and forgotten once the repository's base moves (an acknowledged upload or a rebase).
struct SentPushTests {
    static func push(_ byte: UInt8, time: Int64) throws -> SentPush {
        let change = try #require(ChangeID(parsing: String(repeating: "k", count: 32)))
        return SentPush(
            change: change, commit: try #require(ObjectID(bytes: [UInt8](repeating: byte, count: 20))),
            rootTree: try #require(ObjectID(bytes: [UInt8](repeating: byte &+ 1, count: 20))), commitTime: time)
    }

    @Test func sentPushesSurviveARestartUntilTheBaseMoves() async throws {
        let setup = try IgnoredPathTests.Setup()
        let fs = try setup.fs()
        let root = try await IgnoredPathTests.lookup(fs, "acme/demo")
        try await IgnoredPathTests.create(fs, in: root, "new.txt", "new\n")
        let first = try Self.push(1, time: 10)
        let second = try Self.push(7, time: 11)
        try fs.recordSent(first, repository: 0)
        try fs.recordSent(second, repository: 0)
        #expect(fs.sentPushes(repository: 0) == [first, second])

        // A daemon started again knows what the previous one sent, oldest first.
        let restarted = try setup.fs()
        #expect(restarted.sentPushes(repository: 0) == [first, second])

        // Acknowledging an upload moves the base: what was sent before is behind it, in memory and in the journal.
        let upload = try #require(restarted.pendingUpload(repository: 0))
        try restarted.acknowledge(
            upload, ids: [:], change: second.change, commit: second.commit, rootTree: second.rootTree,
            commitTime: second.commitTime)
        #expect(restarted.sentPushes(repository: 0).isEmpty)
        #expect(try setup.fs().sentPushes(repository: 0).isEmpty)

        // A rebase (`mesa new`, or following a lost answer's commit) forgets them too.
        let again = try setup.fs()
        try again.recordSent(first, repository: 0)
        let base = try #require(again.currentResolution(of: RepositoryPath(organization: "acme", name: "demo")))
        try again.rebase(RepositoryPath(organization: "acme", name: "demo"), to: base)
        #expect(again.sentPushes(repository: 0).isEmpty)
        #expect(try setup.fs().sentPushes(repository: 0).isEmpty)
    }
}
