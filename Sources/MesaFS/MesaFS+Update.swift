import Synchronization
package import MesaSync
import MesaCore

extension MesaFS {
    /// Moves a repository to a new resolution of its revision (a remote change) and returns exactly what the
    /// kernel must forget.
    ///
    /// Loaded directories keep their inode numbers and take their new listings; every name whose entry changed,
    /// appeared or went away is returned with its directory, and every directory whose listing changed is
    /// returned as an inode. A file whose content changed gets a new inode at its next lookup: its old inode is
    /// detached, so open handles and the kernel's pages for it keep the old content. Nothing is fetched for parts
    /// of the tree the kernel has not seen.
    /// - Throws: ``FSError/unknownRepository(_:)``, ``FSError/source(_:)`` when a tree cannot be read.
    package func update(_ path: RepositoryPath, to resolution: Resolution) async throws(FSError) -> Invalidation {
        guard let index = layout.index(of: path) else { throw .unknownRepository(path) }
        let source = layout.repositories[index].source
        var listings: [ObjectID: SourceTree] = [:]
        while true {
            let step = state.withLock { state -> InodeTable.UpdateStep in
                // A repository with local nodes stays at the base its edits were made on: taking a remote move
                // under them would upload the edits over changes they never saw. Its moves go through `adopt` once
                // every node is uploaded, or through the next upload's merge.
                if state.local.roots[index] != nil { return .applied(Invalidation()) }
                guard let organization = state.inodes.loadedChild(of: .root, named: FileName(path.organization)),
                    let root = state.inodes.loadedChild(of: organization.number, named: FileName(path.name))
                else {
                    state.resolutions[index] = resolution
                    return .applied(Invalidation())
                }
                let step = state.inodes.update(
                    root: root.number, to: resolution.rootTree, time: resolution.commitTime, listings: listings)
                if case .applied = step { state.resolutions[index] = resolution }
                return step
            }
            switch step {
            case .applied(let invalidation):
                return invalidation
            case .needsTrees(let ids):
                for id in ids {
                    do throws(SyncError) {
                        listings[id] = try await source.tree(id)
                    } catch {
                        throw FSError(error)
                    }
                }
            }
        }
    }

    /// Resolves a repository's revision again through its source and applies the result with
    /// ``update(_:to:)`` (the poll of a remote change).
    /// - Returns: what the kernel must forget (empty when nothing moved).
    package func refresh(_ path: RepositoryPath) async throws(FSError) -> Invalidation {
        guard let index = layout.index(of: path) else { throw .unknownRepository(path) }
        let repository = layout.repositories[index]
        let resolution: Resolution
        do throws(SyncError) {
            resolution = try await repository.source.resolve(repository.revision)
        } catch {
            throw FSError(error)
        }
        return try await update(path, to: resolution)
    }

    /// The resolution a repository shows now, or `nil` before its first access.
    package func currentResolution(of path: RepositoryPath) -> Resolution? {
        guard let index = layout.index(of: path) else { return nil }
        return state.withLock { $0.resolutions[index] }
    }
}
