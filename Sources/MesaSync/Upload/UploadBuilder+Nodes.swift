package import MesaCore
import MesaStore
package import MesaTree

// Uploads of a mount's local nodes. A writable mount keeps its changes as a tree of local directories (MesaFS's
// journal), not as a list of paths: a directory that changed is written again from its entries, where everything
// that did not change is named by id (a clean file or subtree, a node uploaded before), so a rename of a large
// clean subtree costs one entry and the build never reads below what changed. The base commit and its parents are
// made local (the new commit evolves the base's), as for a dirty set.

/// One entry of a local tree to upload.
package indirect enum UploadItem: Sendable, Hashable {
    /// Content or a subtree that did not change since it was stored: named by id.
    case existing(EntryKind, ObjectID)
    /// A file whose bytes are in a local file (an overlay file); `key` names it in ``NodeUpload/ids``.
    case file(key: Int64, contentPath: String, executable: Bool)
    /// A symbolic link to `target`.
    case symlink(key: Int64, target: [UInt8])
    /// A directory to write from its entries (a directory left with no entries is left out: git records none).
    case directory(key: Int64, entries: [FileName: UploadItem])
}

/// A built upload of local nodes, with the id each node was stored as.
package struct NodeUpload: Sendable, Hashable {
    /// The upload to send.
    package var upload: BuiltUpload
    /// The blob or tree id of each node by its key; `nil` for a directory left out for being empty.
    package var ids: [Int64: ObjectID?]
}

extension UploadBuilder {
    /// Builds a new commit of the change `base` shows whose root tree is `root` (the message is the base commit's,
    /// the change's description, when `message` is `nil`) (a ``UploadItem/directory(key:entries:)``
    /// or an existing tree).
    ///
    /// New content is chunked into the source's store, pinned, as are the new trees and the commit, until
    /// ``release(_:)``. Only the items given as files, links and directories are read or written.
    /// - Throws: ``SyncError/invalidArgument(_:)`` for a name or signature the server would refuse, store, tree and
    ///   remote failures (the base commit may have to be fetched). On failure nothing stays pinned.
    package func build(
        base: Resolution, root: UploadItem, message: String?, committer: Signature
    ) async throws(SyncError) -> NodeUpload {
        do throws(TreeError) {
            try TreeValidator.check(signatureName: committer.name, email: committer.email, role: "committer")
        } catch {
            throw .invalidArgument("the committer cannot be uploaded: \(error)")
        }
        var basePins: [RecordKey] = []
        do throws(SyncError) {
            _ = try await loadBase(base, directories: [], pinned: &basePins)
            let repository = self.repository
            let result = try await source.pool.run { () throws(SyncError) -> NodeUpload in
                var keys = UploadKeys()
                do throws(SyncError) {
                    return try Self.write(
                        root, base: base, message: message, committer: committer, repository: repository,
                        keys: &keys)
                } catch {
                    try? repository.store.unpin(keys.ordered)
                    throw error
                }
            }
            try await unpin(basePins)
            return result
        } catch {
            try? await unpin(basePins)
            throw error
        }
    }

    private static func write(
        _ root: UploadItem, base: Resolution, message: String?, committer: Signature, repository: MesaRepository,
        keys: inout UploadKeys
    ) throws(SyncError) -> NodeUpload {
        var ids: [Int64: ObjectID?] = [:]
        var trees: [RecordKey] = []
        do throws(TreeError) {
            let rootTree: ObjectID
            switch root {
            case .existing(.directory, let id):
                rootTree = id
            case .directory:
                if let written = try write(root, repository: repository, keys: &keys, trees: &trees, ids: &ids) {
                    rootTree = written.id
                } else {
                    // Everything was deleted: the root is the empty tree, which the push must carry (a repo has it
                    // only when something stored it).
                    rootTree = try repository.writeTree([])
                    trees.append(RecordKey(.tree, object: rootTree))
                }
            default:
                throw TreeError.invalidArgument("an upload's root must be a directory")
            }
            try pin(trees, in: repository.store)
            keys.trees = trees
            let change = base.change.isRoot ? ChangeID.random() : base.change
            let old = try base.commit.map { id throws(TreeError) in try repository.commit(id) }
            let commit = try repository.createCommit(
                tree: rootTree, parents: old?.parents ?? [], author: old?.author ?? committer, committer: committer,
                message: message ?? old?.message ?? "", changeID: change)
            let commitKey = RecordKey(.commit, object: commit)
            try pin([commitKey], in: repository.store)
            keys.commit = commitKey
            return NodeUpload(
                upload: BuiltUpload(base: base, change: change, rootTree: rootTree, commit: commit, keys: keys.ordered),
                ids: ids)
        } catch {
            throw SyncError(error)
        }
    }

    /// Writes one item (depth first) and returns its entry, or `nil` for a directory with nothing in it.
    private static func write(
        _ item: UploadItem, repository: MesaRepository, keys: inout UploadKeys, trees: inout [RecordKey],
        ids: inout [Int64: ObjectID?]
    ) throws(TreeError) -> (mode: FileMode, id: ObjectID)? {
        let store = repository.store
        switch item {
        case .existing(let kind, let id):
            return (FileMode(kind), id)
        case .file(let key, let contentPath, let executable):
            let (blob, manifest) = try converting { () throws(StoreError) in
                try store.ingestBlob(fileAt: contentPath, pinned: true)
            }
            keys.add(blob: blob, manifest: manifest)
            ids[key] = blob
            return (executable ? .executable : .regular, blob)
        case .symlink(let key, let target):
            let (blob, manifest) = try converting { () throws(StoreError) in try ingest(target, into: store) }
            keys.add(blob: blob, manifest: manifest)
            ids[key] = blob
            return (.symlink, blob)
        case .directory(let key, let entries):
            var written: [TreeEntry] = []
            for (name, child) in entries {
                guard let (mode, id) = try write(child, repository: repository, keys: &keys, trees: &trees, ids: &ids)
                else { continue }
                guard let text = String(validating: name.bytes, as: UTF8.self) else {
                    throw .invalidArgument("the name \(name) is not UTF-8")
                }
                written.append(TreeEntry(name: text, mode: mode, id: id))
            }
            guard !written.isEmpty else {
                ids[key] = .some(nil)
                return nil
            }
            let tree = try repository.writeTree(written)
            trees.append(RecordKey(.tree, object: tree))
            ids[key] = tree
            return (.directory, tree)
        }
    }
}

extension FileMode {
    /// The git mode of an entry kind.
    init(_ kind: EntryKind) {
        switch kind {
        case .regular: self = .regular
        case .executable: self = .executable
        case .symlink: self = .symlink
        case .directory: self = .directory
        case .submodule: self = .submodule
        }
    }
}
