package import MesaCore
package import MesaSync
import Synchronization

// What the upload pipeline needs from the filesystem: a snapshot of a repository's changed nodes as an
// `UploadItem` tree (O(changed nodes x depth): a node whose generation is not newer than its last upload is named by
// the id it was uploaded as, and nothing below it is visited), and the acknowledgement that marks what a pushed
// snapshot covered. Writes during an upload stamp newer generations, so they stay pending for the next batch.

/// A repository's local changes at one moment, to build and push.
package struct LocalUpload: Sendable {
    /// The layout index of the repository.
    package var repository: Int
    /// The revision the changes are based on (the last commit synced).
    package var base: Resolution
    /// The tree to upload.
    package var root: UploadItem
    /// The generation of each node the snapshot covers, by node number.
    package var generations: [Int64: Int64]
    /// Nodes the snapshot names by an id it already knows (a file whose bytes are still its blob).
    package var knownIDs: [Int64: ObjectID]
    /// The filesystem's generation when the snapshot was taken: every change up to it is in the snapshot.
    package var generation: Int64
    /// Files and links whose bytes the upload reads, and their total size (for status).
    package var files: Int
    /// See ``files``.
    package var bytes: Int64
}

/// What `mesa status` shows of a repository's local changes.
package struct PendingChanges: Sendable, Hashable {
    /// Nodes changed since their last upload (files, links and directories).
    package var nodes: Int = 0
    /// Files and links among them.
    package var files: Int = 0
    /// Bytes of those files.
    package var bytes: Int64 = 0
}

extension MesaFS {
    /// The filesystem's current generation (every change stamps a new one).
    package var generation: Int64 { state.withLock { $0.local.generation } }

    /// Whether a repository has changes not yet uploaded.
    package func hasPendingChanges(repository: Int) -> Bool {
        state.withLock { $0.local.hasPendingChanges(repository: repository) }
    }

    /// The changes a repository has not uploaded yet, counted over changed nodes only.
    package func pendingChanges(repository: Int) -> PendingChanges {
        state.withLock { state in
            var pending = PendingChanges()
            guard let root = state.local.roots[repository] else { return pending }
            var work = [root]
            while let id = work.popLast() {
                guard let node = state.local.nodes[id], node.isDirty, !node.ignored else { continue }
                pending.nodes += 1
                switch node.kind {
                case .directory:
                    for case .local(let child, _) in node.entries.values { work.append(child) }
                case .file, .symlink:
                    pending.files += 1
                    pending.bytes += node.kind == .file ? node.size : Int64(node.target.count)
                }
            }
            return pending
        }
    }

    /// A snapshot of a repository's changes, or `nil` when it has none.
    package func pendingUpload(repository index: Int) -> LocalUpload? {
        guard let overlay else { return nil }
        return state.withLock { state -> LocalUpload? in
            guard let root = state.local.roots[index], let rootNode = state.local.nodes[root], rootNode.isDirty,
                let base = state.resolutions[index]
            else { return nil }
            var upload = LocalUpload(
                repository: index, base: base, root: .directory(key: root.rawValue, entries: [:]), generations: [:],
                knownIDs: [:], generation: state.local.generation, files: 0, bytes: 0)
            upload.root = item(of: rootNode, in: state.local, overlay: overlay, upload: &upload)
            return upload
        }
    }

    private func item(
        of node: LocalNode, in local: LocalState, overlay: Overlay, upload: inout LocalUpload
    ) -> UploadItem {
        let key = node.id.rawValue
        if !node.isDirty, let uploaded = node.uploaded, let id = uploaded.id {
            return .existing(node.entryKind, id)
        }
        upload.generations[key] = node.generation
        switch node.kind {
        case .directory:
            var entries: [FileName: UploadItem] = [:]
            for (name, entry) in node.entries {
                switch entry {
                case .clean(let kind, let id):
                    entries[name] = .existing(kind, id)
                case .local(let child, _):
                    guard let childNode = local.nodes[child], !childNode.ignored else { continue }
                    entries[name] = item(of: childNode, in: local, overlay: overlay, upload: &upload)
                }
            }
            return .directory(key: key, entries: entries)
        case .file:
            switch node.content {
            case .blob(let id):
                upload.knownIDs[key] = id
                return .existing(node.entryKind, id)
            case .overlay:
                upload.files += 1
                upload.bytes += node.size
                return .file(key: key, contentPath: overlay.path(of: node.id), executable: node.permissions & 0o100 != 0)
            }
        case .symlink:
            if case .blob(let id) = node.content, node.target.isEmpty {
                upload.knownIDs[key] = id
                return .existing(.symlink, id)
            }
            upload.files += 1
            upload.bytes += Int64(node.target.count)
            return .symlink(key: key, target: node.target)
        }
    }

    /// Records that a snapshot was pushed: each node it covered is uploaded as of its snapshot generation, and the
    /// repository's base moves to the pushed commit. The journal records both in one transaction.
    /// - Throws: ``FSError/journal(_:)``; memory is unchanged then and the snapshot is pushed again later (the
    ///   server takes an identical push as already done).
    package func acknowledge(
        _ upload: LocalUpload, ids: [Int64: ObjectID?], change: ChangeID, commit: ObjectID, rootTree: ObjectID,
        commitTime: Int64
    ) throws(FSError) {
        try state.withLock { (state) throws(FSError) in
            var local = state.takeLocal()  // moved out: changed in place, never copied
            var committed = false
            defer { if !committed { swap(&state.local, &local) } }
            var changes: [JournalChange] = []
            for (key, generation) in upload.generations {
                let id = LocalID(key)
                guard var node = local.nodes[id] else { continue }
                let object: ObjectID? = ids[key] ?? upload.knownIDs[key]
                node.uploaded = LocalNode.Uploaded(generation: generation, id: object)
                local.nodes[id] = node
                changes.append(.node(node))
            }
            let resolution = Resolution(
                revision: upload.base.revision, change: change, commit: commit, rootTree: rootTree,
                commitTime: commitTime)
            if let root = local.roots[upload.repository] {
                changes.append(
                    .base(repository: layout.repositories[upload.repository].path, root: root, resolution: resolution))
            }
            try self.commit(changes, &local)
            swap(&state.local, &local)
            committed = true
            state.resolutions[upload.repository] = resolution
            state.sent[upload.repository] = nil
        }
    }

    /// Records, durably, a commit an upload is about to send, so that a later attempt recognizes it on the server
    /// when this one's answer is lost, even across a restart (``SentPush``). Kept until the base moves.
    /// - Throws: ``FSError/journal(_:)``; the upload must not be sent then.
    package func recordSent(_ push: SentPush, repository index: Int) throws(FSError) {
        guard let overlay else { throw .readOnly }
        let path = layout.repositories[index].path
        try state.withLock { (state) throws(FSError) in
            try overlay.journal.write([.sent(repository: path, push)])
            state.sent[index, default: []].append(push)
        }
    }

    /// The commits a repository's uploads sent since its base last moved, oldest first.
    package func sentPushes(repository index: Int) -> [SentPush] { state.withLock { $0.sent[index] ?? [] } }

    /// Whether a repository shows local nodes (its root is local): its revision then moves only by its own
    /// uploads until remote changes are reconciled (issue 11).
    package func hasLocalRoot(repository: Int) -> Bool { state.withLock { $0.local.roots[repository] != nil } }
}

extension MesaFS {
    /// Moves a repository's base to another commit of the same tree (`mesa new` made a change on top of the shown
    /// one, `mesa describe` evolved its message): local nodes stay as they are and upload into the new base's change.
    /// - Throws: ``FSError/unknownRepository(_:)``, ``FSError/journal(_:)`` (nothing changes then).
    package func rebase(_ path: RepositoryPath, to resolution: Resolution) throws(FSError) {
        guard let index = layout.index(of: path) else { throw .unknownRepository(path) }
        try state.withLock { (state) throws(FSError) in
            if let root = state.local.roots[index] {
                try record([.base(repository: path, root: root, resolution: resolution)], state.local)
            }
            state.resolutions[index] = resolution
            state.sent[index] = nil
        }
    }
}
