import MesaCore
package import MesaStore
package import MesaTree

// The deep check of a `mesa serve` data directory (`mesa debug store fsck --deep --data-dir DIR`): MesaTree's
// `DeepCheck` over the server's one store, with the roots the server itself keeps alive: every commit any change of
// any repo has had (current and evolved-from, `recordedCommits`), and every record a repo holds staged (a push
// waiting for its transaction; garbage collection keeps those through the grace period). Change parents are checked
// here, against each repo's own change table, since they live in the metadata and not in the store. Run it while the
// server is stopped: the store is locked by one process at a time.

/// Audits a server's store against its metadata.
package enum StoreAudit {
    /// Runs the deep check with the server's roots and adds the change parents its repos lack.
    /// - Parameters:
    ///   - metadata: the server's metadata (read only).
    ///   - store: the server's content store.
    /// - Returns: the report; a repo's missing commit or staged record is a dangling reference located at the repo,
    ///   a change whose parent change is not in its repo a dangling parent.
    /// - Throws: ``MetadataError`` when the metadata cannot be read, ``TreeError`` when the store fails.
    package static func check(metadata: any MetadataStore, store: ContentStore) throws -> DeepCheckReport {
        var roots: [DeepCheck.Root] = []
        var findings: [StoreFinding] = []
        for repoID in try metadata.allRepoIDs() {
            let repo = try name(ofRepo: repoID, metadata: metadata)
            for hex in try metadata.recordedCommits(repoID: repoID) {
                guard let commit = ObjectID(hex: hex) else {
                    findings.append(
                        StoreFinding(
                            .danglingReference,
                            at: repo,
                            "a change recorded '\(hex)', which is not a commit id"
                        )
                    )
                    continue
                }
                roots.append(DeepCheck.Root(RecordKey(.commit, object: commit), origin: repo))
            }
            for key in try metadata.stagedKeys(repoID: repoID) {
                roots.append(DeepCheck.Root(key, origin: "\(repo) (staged)"))
            }
            let changes = try metadata.catalog(repoID: repoID).changes()
            let known = Set(changes.map(\.id))
            for change in changes {
                for parent in change.parents where !parent.isRoot && !known.contains(parent) {
                    findings.append(
                        StoreFinding(
                            .danglingParent,
                            at: "\(repo) change \(change.id)",
                            "names parent change \(parent), which does not exist in the repo"
                        )
                    )
                }
            }
        }
        var report = try DeepCheck(store: store).run(roots: roots)
        report.add(findings)
        return report
    }

    /// `repo <org slug>/<name>`, or `repo <id>` when its rows are gone.
    private static func name(ofRepo id: String, metadata: any MetadataStore) throws -> String {
        guard let repo = try metadata.repo(id: id) else { return "repo \(id)" }
        let org = try metadata.org(id: repo.orgID)?.slug ?? repo.orgID
        return "repo \(org)/\(repo.name)"
    }
}
