import MesaCore
import MesaServer
import MesaStore
import MesaTesting
import MesaTree
import Testing

/// `StoreAudit`: the server's roots (recorded commits, staged records) and its change parents.
@Suite struct StoreAuditTests {
    @Test func stagedRecordsAreRootsAndMissingChangeParentsAndStagedRecordsAreNamed() throws {
        let directory = try TemporaryDirectory(prefix: "mesa-audit")
        let metadata = try SQLiteMetadataStore(path: directory.appending("metadata.sqlite"))
        let store = try ContentStore(path: directory.appending("store"))
        let org = try metadata.createOrg(slug: "local", name: "local")
        let repo = try metadata.createRepo(orgID: org.id, name: "demo", defaultBookmark: "main", tags: [:])
        let catalog = metadata.catalog(repoID: repo.id)
        let repository = try MesaRepository(store: store, catalog: catalog)
        let author = Signature(name: "Audit", email: "audit@example.com", time: 1_700_000_000)
        let first = try repository.createChange(
            parents: [.root],
            edits: [.upsert(path: "d/a", blob: try repository.writeBlob(Array("a\n".utf8)), mode: .regular)],
            message: "first\n",
            author: author
        )
        _ = try repository.evolveChange(
            first.id,
            edits: [.upsert(path: "b", blob: try repository.writeBlob(Array("b\n".utf8)), mode: .regular)],
            committer: author
        )

        let clean = try StoreAudit.check(metadata: metadata, store: store)
        #expect(clean.findings == [])
        #expect(clean.roots == 2)  // the change's first commit and the one it evolved into
        #expect(clean.reachable == clean.records)

        let staged = try store.putChunk(Array("pushed, waiting for its transaction".utf8))
        let orphan = try store.putChunk(Array("nobody's".utf8))
        let vanished = TreeCodec.objectID(kind: "commit", body: Array("staged, then lost".utf8))
        try metadata.addReferences(
            repoID: repo.id,
            keys: [RecordKey(chunk: staged), RecordKey(.commit, object: vanished)],
            staged: true
        )
        let ghost = ChangeID.random()
        let child = ChangeID.random()
        try catalog.putChange(ChangeRecord(id: child, commit: first.commit, parents: [ghost]), expected: .absent)

        let report = try StoreAudit.check(metadata: metadata, store: store)
        #expect(
            report.findings
                == [
                    StoreFinding(.unreferenced, at: "chunk:\(orphan.hex)", "no root reaches it"),
                    StoreFinding(
                        .danglingParent,
                        at: "repo local/demo change \(child)",
                        "names parent change \(ghost), which does not exist in the repo"
                    ),
                    StoreFinding(
                        .danglingReference,
                        at: "repo local/demo (staged)",
                        "names commit:\(vanished.hex), which is not in the store"
                    ),
                ]
        )
        #expect(try metadata.allRepoIDs() == [repo.id])
        #expect(
            try metadata.stagedKeys(repoID: repo.id)
                == [RecordKey(chunk: staged), RecordKey(.commit, object: vanished)].sorted()
        )
    }
}
