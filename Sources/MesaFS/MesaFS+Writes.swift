import MesaCore
import MesaSync
import MesaTree
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

// The write path: each modification makes what it touches local (MesaFS+Local.swift), then changes memory and the
// journal together under the lock. File bytes go to overlay files without the lock. A write returns once its bytes
// are in the overlay file (the page cache); `fsync` makes the overlay file and the journal durable.

extension MesaFS {
    /// Applies a modification and answers what its reply needs (``ModificationResult``).
    ///
    /// A read-only filesystem (no ``overlay``) refuses every one with ``FSError/readOnly`` (EROFS) after checking
    /// what it names. Errors, as docs/Semantics.md lists them: ``FSError/unknownInode(_:)``,
    /// ``FSError/unknownHandle(_:)``, ``FSError/nameTooLong``, ``FSError/illegalName(_:)`` (EILSEQ),
    /// ``FSError/exists``, ``FSError/notFound``, ``FSError/notEmpty``, ``FSError/notADirectory``,
    /// ``FSError/isADirectory``, ``FSError/crossRepository`` (EXDEV), ``FSError/notPermitted(_:)`` (EPERM),
    /// ``FSError/invalidArgument(_:)``, ``FSError/notSupported(_:)``, ``FSError/source(_:)``,
    /// ``FSError/journal(_:)`` and ``FSError/overlay(_:_:)``. A failed modification changes nothing.
    package func modify(_ modification: Modification) async throws(FSError) -> ModificationResult {
        let overlay = try validate(modification)
        // Make what the modification touches local (a fetch may be needed), then apply it; a remote update or a
        // concurrent writer between the two makes `apply` ask again.
        for _ in 0..<8 {
            if let result = try apply(modification, overlay) { return result }
            try await prepare(modification)
        }
        throw .source(.invalidArgument("what \(modification.inodes) name changed during every attempt to modify it"))
    }

    /// ``modify(_:)`` answered at once, when everything it touches is local already (no fetch, nothing to
    /// await), else `nil` (the caller then awaits ``modify(_:)``). Blocking disk work only (a pwrite, a journal
    /// transaction): MesaFuse calls it on the FUSE thread, which spares a Task per write of a local file.
    package func modifyIfReady(_ modification: Modification) throws(FSError) -> ModificationResult? {
        try apply(modification, try validate(modification))
    }

    /// The checks every modification passes first; returns the overlay (a read-only filesystem refuses here).
    private func validate(_ modification: Modification) throws(FSError) -> Overlay {
        for inode in modification.inodes { _ = try record(inode) }
        if let handle = modification.handle, handle != .inodeReads,
            state.withLock({ $0.handles[handle] }) == nil
        {
            throw .unknownHandle(handle)
        }
        for name in modification.names where name.bytes.count > 255 { throw .nameTooLong }
        guard let overlay, writesAccepted else { throw .readOnly }
        if case .rename(let parent, _, let newParent, _, _) = modification,
            try record(parent).repository != record(newParent).repository
        {
            throw .crossRepository
        }
        if case .link = modification { throw .notPermitted("hard links are not supported (a repository stores none)") }
        if case .makeNode(_, _, let mode, _) = modification, mode & S_IFMT != S_IFREG {
            throw .notPermitted("only regular files, directories and symbolic links can be stored")
        }
        if case .setAttributes(_, let changes, _) = modification {
            if let uid = changes.uid, uid != configuration.uid { throw .notPermitted("files belong to the mount's owner") }
            if let gid = changes.gid, gid != configuration.gid { throw .notPermitted("files belong to the mount's group") }
        }
        if case .allocate(_, _, let mode, let offset, let length) = modification {
            guard mode == 0 else { throw .notSupported("fallocate supports mode 0 only") }
            guard offset >= 0, length > 0 else { throw .invalidArgument("fallocate needs offset >= 0, length > 0") }
        }
        if case .write(_, _, let offset, _) = modification, offset < 0 {
            throw .invalidArgument("negative write offset")
        }
        return overlay
    }

    /// Makes local what a modification needs local (awaiting the source for a directory's tree or a file's bytes).
    private func prepare(_ modification: Modification) async throws(FSError) {
        switch modification {
        case .setAttributes(let inode, let changes, _):
            if try record(inode).content.nodeKind == .directory {
                guard changes.size == nil else { throw .isADirectory }
                _ = try await localDirectory(inode)
            } else if let size = changes.size {
                _ = try await localFile(inode, copy: true, truncating: size == 0)
            } else {
                _ = try await localFile(inode, copy: false)
            }
        case .createFile(let parent, _, _, _), .makeNode(let parent, _, _, _), .makeDirectory(let parent, _, _),
            .makeSymlink(let parent, _, _), .unlink(let parent, _), .removeDirectory(let parent, _):
            _ = try await localDirectory(parent)
        case .rename(let parent, _, let newParent, _, _):
            _ = try await localDirectory(parent)
            _ = try await localDirectory(newParent)
        case .write(let inode, _, _, _), .allocate(let inode, _, _, _, _):
            _ = try await localFile(inode, copy: true)
        case .link:
            throw .notPermitted("hard links are not supported (a repository stores none)")
        }
    }

    /// Applies a modification whose inodes are local, or answers `nil` when one is not (yet).
    private func apply(_ modification: Modification, _ overlay: Overlay) throws(FSError) -> ModificationResult? {
        switch modification {
        case .setAttributes(let inode, let changes, _):
            return try setAttributes(inode, changes, overlay).map { .attributes($0) }
        case .createFile(let parent, let name, let mode, _):
            guard let entry = try makeNode(
                parent: parent, name: name, kind: .file, permissions: mode & 0o7777, target: [], overlay)
            else { return nil }
            let opened =
                configuration.zeroMessageOpens
                ? OpenedHandle(handle: .inodeReads, keepCache: false)
                : try open(entry.attributes.inode, flags: OpenFlags(rawValue: O_RDWR))
            return .created(entry, opened)
        case .makeNode(let parent, let name, let mode, _):
            return try makeNode(
                parent: parent, name: name, kind: .file, permissions: mode & 0o7777, target: [], overlay
            ).map { .entry($0) }
        case .makeDirectory(let parent, let name, let mode):
            return try makeNode(
                parent: parent, name: name, kind: .directory, permissions: mode & 0o7777, target: [], overlay
            ).map { .entry($0) }
        case .makeSymlink(let parent, let name, let target):
            return try makeNode(
                parent: parent, name: name, kind: .symlink, permissions: 0o777, target: target, overlay
            ).map { .entry($0) }
        case .link:
            throw .notPermitted("hard links are not supported (a repository stores none)")
        case .unlink(let parent, let name):
            return try remove(parent: parent, name: name, directory: false, overlay) ? .done : nil
        case .removeDirectory(let parent, let name):
            return try remove(parent: parent, name: name, directory: true, overlay) ? .done : nil
        case .rename(let parent, let name, let newParent, let newName, let flags):
            return try rename(parent: parent, name: name, to: newParent, newName: newName, flags: flags) ? .done : nil
        case .write(let inode, _, let offset, let bytes):
            guard let id = try readyFile(inode, copied: true) else { return nil }
            let written = try overlay.write(id, at: offset, bytes)
            try updateNode(id) { node in
                node.size = max(node.size, offset + Int64(written))
                node.modificationTime = .now
            }
            return .written(written)
        case .allocate(let inode, _, _, let offset, let length):
            guard let id = try readyFile(inode, copied: true) else { return nil }
            try overlay.allocate(id, offset: offset, length: length)
            try updateNode(id) { node in node.size = max(node.size, offset + length) }
            return .done
        }
    }

    /// The local directory an inode is, or `nil` when it is not local yet.
    private func readyDirectory(_ inode: InodeNumber) throws(FSError) -> (id: LocalID, repository: Int)? {
        let record = try record(inode)
        guard case .local(let id, .directory) = record.content, let repository = record.repository else { return nil }
        return (id, repository)
    }

    /// The local file or link an inode is (with its bytes in the overlay when `copied`), or `nil`.
    private func readyFile(_ inode: InodeNumber, copied: Bool) throws(FSError) -> LocalID? {
        let record = try record(inode)
        guard case .local(let id, let kind) = record.content, kind != .directory else { return nil }
        guard copied else { return id }
        guard kind == .file, state.withLock({ $0.local.node(id)?.content }) == .overlay else { return nil }
        return id
    }

    // MARK: Creating

    /// Checks that a name can be stored in a repository.
    static func checkStorable(_ name: FileName) throws(FSError) {
        do throws(TreeError) {
            _ = try TreeValidator.name(name.bytes, parent: "")
        } catch {
            throw .illegalName("\(error)")
        }
    }

    /// Checks that a new entry's path stays within what a repository stores (the validator's depth and length
    /// bounds), so an upload cannot be refused for it later: ENAMETOOLONG here instead.
    func checkStorablePath(parent: InodeNumber, name: FileName) throws(FSError) {
        guard let path = pathInRepository(of: parent) else { return }
        let bytes = path.reduce(name.bytes.count) { $0 + $1.bytes.count + 1 }
        guard path.count + 1 <= TreeValidator.maxDepth, bytes <= TreeValidator.maxPathBytes else {
            throw .nameTooLong
        }
    }

    private func makeNode(
        parent: InodeNumber, name: FileName, kind: LocalKind, permissions: UInt32, target: [UInt8],
        _ overlay: Overlay
    ) throws(FSError) -> EntryAttributes? {
        guard let (directory, repository) = try readyDirectory(parent) else { return nil }
        let ignored = isIgnored(parent: parent, directory: directory, name: name, isDirectory: kind == .directory)
        if !ignored {
            try Self.checkStorable(name)
            try checkStorablePath(parent: parent, name: name)
        }
        let now = Timestamp.now
        let id = state.withLock { $0.local.allocate() }
        if kind == .file { try overlay.create(id) }
        do throws(FSError) {
            return try insertNode(
                id, parent: parent, directory: directory, repository: repository, name: name, kind: kind,
                permissions: permissions, target: target, time: now, ignored: ignored)
        } catch {
            if kind == .file { overlay.remove(id) }
            throw error
        }
    }

    /// Adds a new node to a local directory, under the lock; the name must be free (the kernel looked it up first:
    /// a name that appeared meanwhile, `create` without `O_EXCL` included, is ``FSError/exists``).
    private func insertNode(
        _ id: LocalID, parent: InodeNumber, directory: LocalID, repository: Int, name: FileName, kind: LocalKind,
        permissions: UInt32, target: [UInt8], time now: Timestamp, ignored: Bool
    ) throws(FSError) -> EntryAttributes {
        try state.withLock { (state) throws(FSError) -> EntryAttributes in
            guard state.local.nodes[directory] != nil else { throw .notFound }
            guard state.local.nodes[directory]?.entries[name] == nil else { throw .exists }
            var local = state.takeLocal()  // moved out: changed in place, never copied
            var committed = false
            defer { if !committed { swap(&state.local, &local) } }
            var node = LocalNode(
                id: id, parent: directory, kind: kind, permissions: permissions, time: now,
                generation: local.generation)
            node.target = target
            node.ignored = ignored
            local.nodes[directory]?.entries[name] = .local(id, kind)
            local.nodes[directory]?.modificationTime = now
            local.nodes[id] = node
            var changes: [JournalChange] = [.entry(directory: directory, name: name, item: .local(id, kind))]
            changes += local.touch(id)
            changes += [.node(local.nodes[id]!), .node(local.nodes[directory]!)]
            try self.commit(changes, &local)
            swap(&state.local, &local)
            committed = true
            let inode = state.inodes.loadNew(
                parent: parent, name: name, content: .local(id, kind), repository: repository,
                size: kind == .symlink ? Int64(target.count) : 0, time: now.seconds)
            state.inodeOfNode[id] = inode.number
            refreshRecord(&state, id)
            refreshRecord(&state, directory)
            state.inodes.addLookups(inode.number)
            let record = state.inodes[inode.number] ?? inode
            return EntryAttributes(attributes: attributes(of: record), timeout: timeout(of: record))
        }
    }

    /// Whether a new entry stays local: inside a local-only directory, or matched by the ignore rules.
    private func isIgnored(parent: InodeNumber, directory: LocalID, name: FileName, isDirectory: Bool) -> Bool {
        if state.withLock({ $0.local.nodes[directory]?.ignored }) == true { return true }
        guard let path = pathInRepository(of: parent) else { return false }
        return ignoreRules.isIgnored(path + [name], isDirectory: isDirectory)
    }

    // MARK: Content

    /// Changes a local node under the lock, stamps it (and its ancestors) with a new generation, and records in
    /// the journal what became dirty.
    func updateNode(_ id: LocalID, _ body: (inout LocalNode) -> Void) throws(FSError) {
        try state.withLock { (state) throws(FSError) in
            guard var node = state.local.node(id) else { return }
            body(&node)
            if state.local.nodes[id] == nil {
                state.local.orphans[id] = node  // a removed file still written through an open descriptor
                refreshRecord(&state, id)
                return
            }
            var local = state.takeLocal()  // moved out: changed in place, never copied
            var committed = false
            defer { if !committed { swap(&state.local, &local) } }
            local.nodes[id] = node
            let changes = local.touch(id)
            try self.commit(changes, &local)
            swap(&state.local, &local)
            committed = true
            refreshRecord(&state, id)
        }
    }

    private func setAttributes(
        _ inode: InodeNumber, _ changes: AttributeChanges, _ overlay: Overlay
    ) throws(FSError) -> EntryAttributes? {
        let current = try record(inode)
        let wantsChange = changes.mode != nil || changes.size != nil || changes.accessTime != nil
            || changes.modificationTime != nil
        guard wantsChange else { return try getattr(inode) }
        let id: LocalID
        if current.content.nodeKind == .directory {
            guard changes.size == nil else { throw .isADirectory }
            guard let directory = try readyDirectory(inode) else { return nil }
            id = directory.id
        } else if let size = changes.size {
            guard size >= 0 else { throw .invalidArgument("negative size") }
            guard let file = try readyFile(inode, copied: true) else { return nil }
            id = file
            try overlay.truncate(id, to: size)
        } else {
            guard let file = try readyFile(inode, copied: false) else { return nil }
            id = file
        }
        let now = Timestamp.now
        let persisted = try state.withLock { (state) throws(FSError) -> Bool in
            guard var node = state.local.nodes[id] else { return false }
            if let mode = changes.mode { node.permissions = mode & 0o7777 }
            if let size = changes.size { node.size = size }
            switch changes.modificationTime {
            case .now: node.modificationTime = now
            case .at(let time): node.modificationTime = time
            case nil: if changes.size != nil { node.modificationTime = now }
            }
            switch changes.accessTime {
            case .now: node.accessTime = now
            case .at(let time): node.accessTime = time
            case nil: break
            }
            var local = state.takeLocal()  // moved out: changed in place, never copied
            var committed = false
            defer { if !committed { swap(&state.local, &local) } }
            local.nodes[id] = node
            var journal = local.touch(id)
            journal.append(.node(local.nodes[id]!))
            try self.commit(journal, &local)
            swap(&state.local, &local)
            committed = true
            refreshRecord(&state, id)
            return true
        }
        if !persisted, let mode = changes.mode {
            // An orphan (removed, still open): only memory changes.
            state.withLock { state in
                state.local.orphans[id]?.permissions = mode & 0o7777
                refreshRecord(&state, id)
            }
        }
        return try getattr(inode)
    }

    // MARK: Removing and renaming

    private func remove(
        parent: InodeNumber, name: FileName, directory: Bool, _ overlay: Overlay
    ) throws(FSError) -> Bool {
        guard let (directoryID, _) = try readyDirectory(parent) else { return false }
        let files = try state.withLock { (state) throws(FSError) -> [LocalID] in
            guard let item = state.local.nodes[directoryID]?.entries[name] else { throw .notFound }
            switch item {
            case .clean(let kind, let tree):
                if directory {
                    guard kind.isDirectory else { throw .notADirectory }
                    // A stored tree is never empty (git keeps no empty trees) except the empty tree itself.
                    guard tree == TreeCodec.emptyTreeID || kind == .submodule else { throw .notEmpty }
                } else if kind.isDirectory {
                    throw .isADirectory
                }
            case .local(let id, let kind):
                if directory {
                    guard kind == .directory else { throw .notADirectory }
                    guard state.local.nodes[id]?.entries.isEmpty ?? true else { throw .notEmpty }
                } else if kind == .directory {
                    throw .isADirectory
                }
            }
            var local = state.takeLocal()  // moved out: changed in place, never copied
            var committed = false
            defer { if !committed { swap(&state.local, &local) } }
            local.nodes[directoryID]?.entries[name] = nil
            local.nodes[directoryID]?.modificationTime = .now
            var changes: [JournalChange] = [.entry(directory: directoryID, name: name, item: nil)]
            var removedFiles: [LocalID] = []
            if case .local(let id, _) = item {
                let (more, files) = local.remove(id, held: { state.isHeld($0) })
                changes += more
                removedFiles = files
            }
            changes += local.touch(directoryID)
            changes.append(.node(local.nodes[directoryID]!))
            try self.commit(changes, &local)
            swap(&state.local, &local)
            committed = true
            state.inodes.removeName(parent: parent, name: name)
            refreshRecord(&state, directoryID)
            return removedFiles
        }
        for file in files { overlay.remove(file) }
        return true
    }

    private func rename(
        parent: InodeNumber, name: FileName, to newParent: InodeNumber, newName: FileName, flags: RenameFlags
    ) throws(FSError) -> Bool {
        guard flags.subtracting(.noReplace).isEmpty else {
            throw .invalidArgument("rename supports RENAME_NOREPLACE only (not RENAME_EXCHANGE or RENAME_WHITEOUT)")
        }
        guard let (sourceID, _) = try readyDirectory(parent), let (targetID, _) = try readyDirectory(newParent) else {
            return false
        }
        let movedIsDirectory = state.withLock { state -> Bool in
            switch state.local.nodes[sourceID]?.entries[name] {
            case .clean(let kind, _)?: kind.isDirectory
            case .local(_, let kind)?: kind == .directory
            case nil: false
            }
        }
        let targetIgnored = isIgnored(parent: newParent, directory: targetID, name: newName, isDirectory: movedIsDirectory)
        if !targetIgnored {
            try Self.checkStorable(newName)
            try checkStorablePath(parent: newParent, name: newName)
        }
        let files = try state.withLock { (state) throws(FSError) -> [LocalID] in
            var local = state.takeLocal()  // moved out: changed in place, never copied
            var committed = false
            defer { if !committed { swap(&state.local, &local) } }
            guard let item = local.nodes[sourceID]?.entries[name] else { throw .notFound }
            // RENAME_NOREPLACE fails on any existing target, the source itself included, before the other checks
            // (Linux's do_renameat2 answers EEXIST first).
            if flags.contains(.noReplace), local.nodes[targetID]?.entries[newName] != nil { throw .exists }
            if sourceID == targetID, name == newName { return [] }
            let isDirectory: Bool =
                switch item {
                case .clean(let kind, _): kind.isDirectory
                case .local(_, let kind): kind == .directory
                }
            if case .local(let moved, .directory) = item, local.isAncestor(moved, of: targetID) {
                throw .invalidArgument("a directory cannot move into itself")
            }
            var changes: [JournalChange] = []
            var removedFiles: [LocalID] = []
            if let existing = local.nodes[targetID]?.entries[newName] {
                let existingIsDirectory: Bool
                var existingEmpty = true
                switch existing {
                case .clean(let kind, let tree):
                    existingIsDirectory = kind.isDirectory
                    existingEmpty = tree == TreeCodec.emptyTreeID || kind == .submodule
                case .local(let id, let kind):
                    existingIsDirectory = kind == .directory
                    existingEmpty = local.nodes[id]?.entries.isEmpty ?? true
                }
                if isDirectory, !existingIsDirectory { throw .notADirectory }
                if !isDirectory, existingIsDirectory { throw .isADirectory }
                if existingIsDirectory, !existingEmpty { throw .notEmpty }
                if case .local(let id, _) = existing {
                    let (more, files) = local.remove(id, held: { state.isHeld($0) })
                    changes += more
                    removedFiles = files
                }
            }
            let now = Timestamp.now
            local.nodes[sourceID]?.entries[name] = nil
            local.nodes[sourceID]?.modificationTime = now
            local.nodes[targetID]?.entries[newName] = item
            local.nodes[targetID]?.modificationTime = now
            changes.append(.entry(directory: sourceID, name: name, item: nil))
            changes.append(.entry(directory: targetID, name: newName, item: item))
            if case .local(let moved, _) = item {
                local.nodes[moved]?.parent = targetID
                // Across the `.mesaignore` boundary the subtree starts or stops being tracked.
                changes += local.setIgnored(moved, targetIgnored)
                changes += local.touch(moved)
                changes.append(.node(local.nodes[moved]!))
            }
            changes += local.touch(sourceID)
            changes += local.touch(targetID)
            changes += [.node(local.nodes[sourceID]!), .node(local.nodes[targetID]!)]
            try self.commit(changes, &local)
            swap(&state.local, &local)
            committed = true
            state.inodes.moveName(parent: parent, name: name, to: newParent, newName: newName)
            refreshRecord(&state, sourceID)
            refreshRecord(&state, targetID)
            return removedFiles
        }
        if let overlay { for file in files { overlay.remove(file) } }
        return true
    }

    // MARK: Durability

    /// `fsync` and `fsyncdir`: makes an inode's overlay bytes and the whole journal durable. For clean content
    /// there is nothing of ours to sync (its bytes are the remote's), which is success.
    package func fsync(_ inode: InodeNumber) throws(FSError) {
        let record = try record(inode)
        guard let overlay else { return }
        if case .local(let id, .file) = record.content,
            state.withLock({ $0.local.node(id)?.content }) == .overlay
        {
            try overlay.sync(id)
        }
        try overlay.journal.sync()
    }
}

extension Timestamp {
    /// The current time.
    static var now: Timestamp {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Timestamp(seconds: Int64(time.tv_sec), nanoseconds: UInt32(time.tv_nsec))
    }
}
