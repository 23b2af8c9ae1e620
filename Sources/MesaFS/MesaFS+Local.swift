import MesaCore
import MesaSync
import Synchronization

// Making content local before it changes (see Overlay/LocalNode.swift for the model).
//
// Materializing awaits the source (a directory's tree, a file's bytes) without the lock, then applies under the lock
// after checking that what it read is still what the inode shows; if a remote update or another writer got there
// first it starts again. Each application is one journal transaction, written before the lock is let go, so memory
// and journal change in the same order.

extension MesaFS {
    /// The journal changes of one operation, written under the lock; a failed write leaves memory unchanged only
    /// when the caller applies its memory changes after this returns, so callers write first where they can.
    func record(_ changes: [JournalChange], _ local: LocalState) throws(FSError) {
        guard let overlay else { throw .readOnly }
        try overlay.journal.write(local.journalable(changes))
    }

    /// Writes an operation's journal changes after the operation changed `local` in place (moved out of the state
    /// with ``State/takeLocal()``, so nothing is copied). If the journal refuses, `local` is reloaded from the
    /// journal, which is the truth, keeping the local-only nodes and counters of memory: memory never holds a
    /// change the journal lacks.
    func commit(_ changes: [JournalChange], _ local: inout LocalState) throws(FSError) {
        do throws(FSError) {
            try record(changes, local)
        } catch {
            if let overlay, let snapshot = try? overlay.journal.load() {
                var reloaded = LocalState(snapshot: snapshot, layout: layout)
                reloaded.nextID = max(reloaded.nextID, local.nextID)
                reloaded.generation = max(reloaded.generation, local.generation)
                reloaded.orphans = local.orphans
                for node in local.nodes.values where node.ignored {
                    reloaded.nodes[node.id] = node
                    if let parent = node.parent, let name = local.nodes[parent]?.entries.first(where: {
                        $0.value == .local(node.id, node.kind)
                    })?.key {
                        reloaded.nodes[parent]?.entries[name] = .local(node.id, node.kind)
                    }
                }
                local = reloaded
            }
            throw error
        }
    }

    /// The layout index of the repository whose root directory is `inode` (its parent is an organization).
    func repositoryRootIndex(_ record: Inode, state: State) -> Int? {
        guard let parent = state.inodes[record.parent], case .organization = parent.content else { return nil }
        return record.repository
    }

    /// Makes a directory local (and every directory above it, up to its repository's root).
    /// - Returns: the directory's local node and its repository.
    /// - Throws: ``FSError/notPermitted(_:)`` for the mount root, organizations and submodules,
    ///   ``FSError/notADirectory``, ``FSError/source(_:)`` when a tree cannot be read, ``FSError/journal(_:)``.
    func localDirectory(_ inode: InodeNumber) async throws(FSError) -> (id: LocalID, repository: Int) {
        for _ in 0..<8 {
            // The chain of clean directories from `inode` up to the first local one (or the repository root).
            let chain = try state.withLock { (state) throws(FSError) -> [(InodeNumber, ObjectID)]? in
                var chain: [(InodeNumber, ObjectID)] = []
                var current = inode
                while true {
                    guard let record = state.inodes[current] else { throw .unknownInode(current) }
                    switch record.content {
                    case .mountRoot, .organization:
                        throw .notPermitted("the mount root and organization directories cannot change")
                    case .local(_, let kind):
                        guard kind == .directory else { throw .notADirectory }
                        return chain.isEmpty ? nil : chain
                    case .clean(let kind, let tree):
                        guard kind != .submodule else { throw .notPermitted("a submodule cannot change here") }
                        guard kind == .directory else { throw .notADirectory }
                        guard record.attached else { throw .notFound }
                        chain.append((current, tree))
                        if repositoryRootIndex(record, state: state) != nil { return chain }
                        current = record.parent
                    }
                }
            }
            guard let chain else {
                return try state.withLock { (state) throws(FSError) -> (LocalID, Int) in
                    guard let record = state.inodes[inode], case .local(let id, _) = record.content,
                        let repository = record.repository
                    else { throw .unknownInode(inode) }
                    return (id, repository)
                }
            }
            guard let repository = try record(inode).repository else { throw .notPermitted("not in a repository") }
            let source = layout.repositories[repository].source
            var trees: [ObjectID: SourceTree] = [:]
            for (_, tree) in chain where trees[tree] == nil {
                do throws(SyncError) {
                    trees[tree] = try await source.tree(tree)
                } catch {
                    throw FSError(error)
                }
            }
            let base = try await resolution(ofRepository: repository)
            let listings = trees
            let applied = try state.withLock { (state) throws(FSError) -> Bool in
                // Still as read? Then apply from the top down.
                for (number, tree) in chain {
                    guard let record = state.inodes[number], record.content == .clean(.directory, tree) else {
                        return false
                    }
                }
                // The top of the chain hangs below a local directory or is the repository root; every listing is
                // here. Checked before anything changes, so the loop below cannot stop half way.
                guard let top = chain.last, let topRecord = state.inodes[top.0],
                    chain.allSatisfy({ listings[$0.1] != nil })
                else { return false }
                if repositoryRootIndex(topRecord, state: state) == nil {
                    guard case .local(_, .directory)? = state.inodes[topRecord.parent]?.content else { return false }
                }
                var local = state.takeLocal()  // moved out: changed in place, never copied
                var committed = false
                defer { if !committed { swap(&state.local, &local) } }
                var changes: [JournalChange] = []
                var made: [InodeNumber: LocalID] = [:]
                for (number, tree) in chain.reversed() {
                    guard let record = state.inodes[number], let listing = listings[tree] else { return false }
                    let id = local.allocate()
                    var parentID: LocalID?
                    if repositoryRootIndex(record, state: state) != nil {
                        local.roots[repository] = id
                        changes.append(
                            .base(repository: layout.repositories[repository].path, root: id, resolution: base))
                    } else if let parent = made[record.parent] {
                        parentID = parent
                    } else if case .local(let parent, .directory)? = state.inodes[record.parent]?.content {
                        parentID = parent
                    } else {
                        return false
                    }
                    if let parentID {
                        local.nodes[parentID]?.entries[record.name] = .local(id, .directory)
                        changes.append(.entry(directory: parentID, name: record.name, item: .local(id, .directory)))
                    }
                    var node = LocalNode(
                        id: id, parent: parentID, kind: .directory, permissions: 0o755,
                        time: Timestamp(seconds: record.modificationTime), generation: local.generation)
                    node.entries = Self.entries(of: listing)
                    // A materialized directory is not a change by itself: it uploads as the tree it came from.
                    node.uploaded = LocalNode.Uploaded(generation: local.generation, id: tree)
                    local.nodes[id] = node
                    changes.append(.node(node))
                    for (name, item) in node.entries { changes.append(.entry(directory: id, name: name, item: item)) }
                    made[number] = id
                }
                try self.commit(changes, &local)
                swap(&state.local, &local)
                committed = true
                for (number, id) in made {
                    state.inodes.replaceContent(of: number, with: .local(id, .directory))
                    state.inodeOfNode[id] = number
                    state.inodes.update(number) { $0.permissions = 0o755 }
                }
                return true
            }
            if applied { continue }
        }
        throw .source(.invalidArgument("directory \(inode) changed during every attempt to make it local"))
    }

    static func entries(of tree: SourceTree) -> [FileName: LocalItem] {
        var entries: [FileName: LocalItem] = [:]
        for entry in tree.entries { entries[entry.name] = .clean(entry.kind, entry.id) }
        return entries
    }

    /// Makes a file or symbolic link local: a node whose content is still its blob (`copy` false: a mode or time
    /// change), or whose bytes are copied into its overlay file (`copy` true: before a write or truncation; with
    /// `truncating`, nothing is copied and the file starts empty).
    /// - Returns: the node.
    func localFile(_ inode: InodeNumber, copy: Bool, truncating: Bool = false) async throws(FSError) -> LocalID {
        guard let overlay else { throw .readOnly }
        for _ in 0..<8 {
            let current = try record(inode)
            guard let repository = current.repository else { throw .isADirectory }
            let blob: ObjectID
            switch current.content {
            case .mountRoot, .organization:
                throw .isADirectory
            case .local(let id, let kind):
                guard kind != .directory else { throw .isADirectory }
                let content = state.withLock { $0.local.node(id)?.content }
                guard copy, case .blob(let source) = content else { return id }
                blob = source
            case .clean(let kind, let source):
                guard kind.isBlob else { throw .isADirectory }
                blob = source
                _ = try await localDirectory(current.parent)
            }
            // Copy the bytes first (into a temporary file, renamed over the node's when complete).
            let id: LocalID = state.withLock { state in
                if case .local(let existing, _) = state.inodes[inode]?.content { return existing }
                return state.local.allocate()
            }
            var size: Int64 = 0
            if copy {
                if !truncating {
                    size = try await copyBlob(blob, size: current.size, repository: repository, into: id, overlay)
                } else {
                    try overlay.create(id)
                }
            }
            let applied = try state.withLock { (state) throws(FSError) -> Bool in
                guard let record = state.inodes[inode] else { throw .unknownInode(inode) }
                var local = state.takeLocal()  // moved out: changed in place, never copied
                var committed = false
                defer { if !committed { swap(&state.local, &local) } }
                var changes: [JournalChange] = []
                switch record.content {
                case .local(let existing, _):
                    guard existing == id, var node = local.nodes[id], node.content == .blob(blob) else { return false }
                    node.content = .overlay
                    node.size = size
                    local.nodes[id] = node
                    changes += [.node(node)] + local.touch(id)
                case .clean(let kind, let source):
                    guard source == blob, let parent = state.inodes[record.parent],
                        case .local(let parentID, _) = parent.content, local.nodes[parentID] != nil
                    else { return false }
                    var node = LocalNode(
                        id: id, parent: parentID, kind: kind == .symlink ? .symlink : .file,
                        permissions: kind == .executable ? 0o755 : (kind == .symlink ? 0o777 : 0o644),
                        time: Timestamp(seconds: record.modificationTime), generation: local.generation)
                    node.content = copy ? .overlay : .blob(blob)
                    node.size = copy ? size : record.size
                    local.nodes[id] = node
                    local.nodes[parentID]?.entries[record.name] = .local(id, node.kind)
                    changes += [.node(node), .entry(directory: parentID, name: record.name, item: .local(id, node.kind))]
                    changes += local.touch(parentID)
                    if copy { changes += local.touch(id) }
                default:
                    throw .isADirectory
                }
                try self.commit(changes, &local)
                swap(&state.local, &local)
                committed = true
                state.inodes.replaceContent(of: inode, with: .local(id, state.local.nodes[id]?.kind ?? .file))
                state.inodeOfNode[id] = inode
                refreshRecord(&state, id)
                return true
            }
            if applied { return id }
            if copy { overlay.remove(id) }
        }
        throw .source(.invalidArgument("file \(inode) changed during every attempt to make it local"))
    }

    /// Copies a blob into a node's overlay file, in slices of a few MiB (never the whole file in memory).
    private func copyBlob(
        _ blob: ObjectID, size: Int64, repository: Int, into id: LocalID, _ overlay: Overlay
    ) async throws(FSError) -> Int64 {
        let source = layout.repositories[repository].source
        let copy = try overlay.startCopy(id)
        var offset: Int64 = 0
        do throws(FSError) {
            while offset < size {
                let length = min(Int64(8 << 20), size - offset)
                let bytes: ByteSlices
                do throws(SyncError) {
                    bytes = try await source.read(blob, range: offset..<(offset + length), readAhead: 0)
                } catch {
                    throw FSError(error)
                }
                guard bytes.count > 0 else { break }
                try copy.append(bytes)
                offset += Int64(bytes.count)
            }
            try overlay.finishCopy(copy)
        } catch {
            overlay.abandonCopy(copy)
            throw error
        }
        return offset
    }

    /// Copies a node's current attributes into its loaded inode record.
    func refreshRecord(_ state: inout State, _ id: LocalID) {
        guard let number = state.inodeOfNode[id], let node = state.local.node(id),
            case .local(id, _) = state.inodes[number]?.content
        else { return }
        state.inodes.update(number) { record in
            record.size = node.kind == .symlink ? Int64(node.target.count) : node.size
            record.permissions = node.permissions
            record.modificationTime = node.modificationTime.seconds
            record.modificationNanoseconds = node.modificationTime.nanoseconds
            record.accessTime = node.accessTime == node.modificationTime ? nil : node.accessTime
        }
    }

    /// Loads the inode of a local directory's entry (under the lock) and counts a lookup when `count`.
    func loadLocalEntry(
        _ state: inout State, parent: InodeNumber, name: FileName, item: LocalItem, repository: Int, size: Int64,
        time: Int64
    ) -> Inode {
        let content: InodeContent =
            switch item {
            case .clean(let kind, let id): .clean(kind, id)
            case .local(let id, let kind): .local(id, kind)
            }
        let inode = state.inodes.load(
            parent: parent, name: name, content: content, repository: repository, size: size, time: time)
        if case .local(let id, _) = item {
            state.inodeOfNode[id] = inode.number
            refreshRecord(&state, id)
        }
        return state.inodes[inode.number] ?? inode
    }
}
