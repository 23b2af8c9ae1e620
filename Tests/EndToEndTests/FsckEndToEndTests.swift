import Foundation
import MesaCore
import MesaStore
import MesaTesting
import MesaTree
import Testing

/// `mesa debug store fsck --deep` run as a process, on a bare store and on a stopped server's data directory.
@Suite struct FsckEndToEndTests {
    private static let author = Signature(name: "Fsck Test", email: "fsck@example.com", time: 1_700_000_000)

    /// A store in `path` holding one change of two files in a directory, closed again.
    private func makeCleanStore(at path: String) throws {
        let store = try ContentStore(path: path)
        let repository = try MesaRepository(store: store)
        _ = try repository.createChange(
            parents: [.root],
            edits: [
                .upsert(path: "src/a.txt", blob: try repository.writeBlob(Array("a\n".utf8)), mode: .regular),
                .upsert(path: "b.txt", blob: try repository.writeBlob(Array("b\n".utf8)), mode: .regular),
            ],
            message: "clean\n",
            author: Self.author
        )
        try store.close()
    }

    @Test func deepFsckOfABareStoreNamesPlantedDefectsAndExitsOne() throws {
        let directory = try TemporaryDirectory(prefix: "mesa-fsck-e2e")
        let path = directory.appending("store")
        try makeCleanStore(at: path)

        let clean = try MesaBinary.run(["debug", "store", "fsck", "--deep", "--store", path])
        #expect(clean.status == 0, "\(clean.standardError)")
        #expect(clean.standardOutput.hasPrefix("checked "))
        #expect(clean.standardOutput.split(separator: "\n").count == 1)
        #expect(
            clean.standardOutput.hasSuffix(
                " reachable): 0 corrupt, 0 unreferenced, 0 dangling-parent, 0 dangling-reference, 0 invalid-tree, "
                    + "0 invalid-commit\n"
            )
        )
        // Without --deep the output is what it always was.
        let plain = try MesaBinary.run(["debug", "store", "fsck", "--store", path])
        #expect(plain.status == 0)
        #expect(plain.standardOutput.hasPrefix("checked ") && plain.standardOutput.hasSuffix(" records, 0 corrupt\n"))

        // Plant an orphan chunk and a commit whose tree has an entry named `..`.
        let store = try ContentStore(path: path)
        let repository = try MesaRepository(store: store)
        let chunk = try store.putChunk(Array("orphan".utf8))
        let blob = try repository.writeBlob(Array("planted\n".utf8))
        let treeBody = Array("100644 ..\0".utf8) + blob.bytes
        let tree = TreeCodec.objectID(kind: "tree", body: treeBody)
        try store.put(treeBody, key: RecordKey(.tree, object: tree))
        let commitBody = Array(
            ("tree \(tree.hex)\nauthor Fsck Test <fsck@example.com> 1700000000 +0000\n"
                + "committer Fsck Test <fsck@example.com> 1700000000 +0000\n\nplanted\n").utf8
        )
        let commit = TreeCodec.objectID(kind: "commit", body: commitBody)
        try store.put(commitBody, key: RecordKey(.commit, object: commit))
        let records = store.stats().records
        try store.close()

        let planted = try MesaBinary.run(["debug", "store", "fsck", "--deep", "--store", path])
        #expect(planted.status == 1)
        #expect(
            planted.standardOutput == """
                unreferenced\tchunk:\(chunk.hex)\tno root reaches it
                invalid-tree\ttree:\(tree.hex)\ta '..' component (rule dot-name) at '..'
                checked \(records) records from 2 roots (\(records - 1) reachable): 0 corrupt, 1 unreferenced, \
                0 dangling-parent, 0 dangling-reference, 1 invalid-tree, 0 invalid-commit

                """
        )

        let json = try MesaBinary.run(["debug", "store", "fsck", "--deep", "--json", "--store", path])
        #expect(json.status == 1)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        )
        #expect(object["clean"] as? Bool == false)
        #expect(object["records"] as? Int == records)
        let counts = try #require(object["counts"] as? [String: Int])
        #expect(counts["unreferenced"] == 1 && counts["invalid-tree"] == 1 && counts["corrupt"] == 0)
        let findings = try #require(object["findings"] as? [[String: String]])
        #expect(
            findings.first == [
                "kind": "unreferenced", "location": "chunk:\(chunk.hex)", "detail": "no root reaches it",
            ]
        )
    }

    @Test func deepFsckNeedsExactlyOneOfStoreAndDataDirectory() throws {
        let directory = try TemporaryDirectory(prefix: "mesa-fsck-e2e")
        let neither = try MesaBinary.run(["debug", "store", "fsck", "--deep"])
        #expect(neither.status != 0 && neither.standardError.contains("exactly one of --store DIR and --data-dir DIR"))
        let both = try MesaBinary.run(
            ["debug", "store", "fsck", "--deep", "--store", directory.appending("s"), "--data-dir", directory.path])
        #expect(both.status != 0 && both.standardError.contains("exactly one of"))
        let notServer = try MesaBinary.run(["debug", "store", "fsck", "--deep", "--data-dir", directory.path])
        #expect(notServer.status != 0 && notServer.standardError.contains("is not a mesa serve data directory"))
    }

    @Test func deepFsckOfAStoppedServersDataDirectoryUsesItsChangesAsRoots() throws {
        let server = try ServerProcess()
        func curl(_ path: String, _ body: String) throws -> String {
            try Shell.run(
                "curl -sf -X POST -H 'Authorization: Bearer \(server.adminKey)' -H 'Content-Type: application/json' "
                    + "'\(server.url)/v1\(path)' -d '\(body)'"
            ).output
        }
        #expect(try !curl("/local/repos", #"{"name":"demo"}"#).isEmpty)
        let root = String(repeating: "z", count: 32)
        let created = try curl(
            "/local/demo/changes",
            #"{"base_change_id":"\#(root)","message":"first","files":[{"path":"dir/a.txt","content":"YQo="}]}"#
        )
        let change = try #require(
            (try JSONSerialization.jsonObject(with: Data(created.utf8)) as? [String: Any])?["id"] as? String
        )
        _ = try curl("/local/demo/changes", #"{"base_change_id":"\#(change)","files":[{"path":"b","content":"Ygo="}]}"#)
        server.stop()
        let data = server.directory.path

        let clean = try MesaBinary.run(["debug", "store", "fsck", "--deep", "--data-dir", data])
        #expect(clean.status == 0, "\(clean.standardOutput)\(clean.standardError)")
        #expect(clean.standardOutput.contains(" from 2 roots "))

        let store = try ContentStore(path: data + "/store")
        let orphan = try store.putChunk(Array("left behind".utf8))
        try store.close()
        let planted = try MesaBinary.run(["debug", "store", "fsck", "--deep", "--data-dir", data])
        #expect(planted.status == 1)
        let lines = planted.standardOutput.split(separator: "\n").map(String.init)
        #expect(lines.first == "unreferenced\tchunk:\(orphan.hex)\tno root reaches it")
        #expect(lines.count == 2)
        #expect(lines.last?.contains(": 0 corrupt, 1 unreferenced, 0 dangling-parent,") == true)
    }
}
