import Logging
import MesaCore
import MesaTree

// Rebuilds per-repo references for data written before references were kept per repo (metadata migration "v3"):
// for each repo the migration marked, every record reachable from every commit its changes have had is recorded as
// referenced by it, and the mark is cleared in the same transaction. A repo whose history cannot be walked (a record
// missing from the store) stays marked and is logged; its content stays unreachable through the sync protocol until
// `mesa debug store fsck --deep` has been run and the store repaired.

package enum ReferenceRebuild {
    /// Rebuilds the references of every marked repo (blocking; runs once when the server opens its data).
    package static func run(services: ServerServices) throws {
        for repoID in try services.metadata.reposAwaitingReferenceRebuild() {
            do {
                let repository = try services.repositories.repository(for: repoID)
                let commits = try services.metadata.recordedCommits(repoID: repoID).compactMap(ObjectID.init(hex:))
                let keys = try repository.records(reachableFrom: commits)
                try services.metadata.finishReferenceRebuild(repoID: repoID, keys: keys)
                services.logger.notice(
                    "rebuilt repo references", metadata: ["repo.id": "\(repoID)", "records": "\(keys.count)"])
            } catch {
                services.logger.error(
                    "cannot rebuild repo references", metadata: ["repo.id": "\(repoID)", "error": "\(error)"])
            }
        }
    }
}
