import Synchronization
import MesaCore
import MesaSync

extension MesaFS {
    /// `opendir`: opens a directory for reading.
    ///
    /// With ``FSConfiguration/zeroMessageOpens`` no handle is made (``FileHandleID/inodeReads``): MesaFuse tells the
    /// kernel to stop sending `opendir` and `releasedir`, the kernel caches listings, and `readdir` names the inode
    /// (``readdir(inode:offset:plus:fill:)``). Valid replies: the handle, ``FSError/notADirectory``,
    /// ``FSError/unknownInode(_:)``. No effect on lookup counts.
    package func opendir(_ inode: InodeNumber) throws(FSError) -> OpenedHandle {
        let zeroMessage = configuration.zeroMessageOpens
        return try state.withLock { (state) throws(FSError) -> OpenedHandle in
            guard let record = state.inodes[inode] else { throw .unknownInode(inode) }
            guard record.content.nodeKind == .directory else { throw .notADirectory }
            if zeroMessage { return OpenedHandle(handle: .inodeReads, keepCache: true) }
            state.inodes.retainHandle(inode)
            let handle = state.handles.open(.directory(OpenDirectory(inode: inode)))
            return OpenedHandle(handle: handle, keepCache: record.cacheable && record.attached)
        }
    }

    /// `releasedir`: closes a directory handle. Never fails.
    package func releasedir(_ handle: FileHandleID) { release(handle) }

    /// `readdir` and `readdirplus`: the entries of an open directory from `offset`, handed to `fill` in order
    /// until it returns false (the reply buffer is full).
    ///
    /// Offsets: `.` is 0, `..` is 1, then the entries in git order; each entry carries the offset of the next. The
    /// listing is taken at offset 0 and kept by the handle, so offsets stay stable between calls. `fill` runs
    /// under the filesystem's lock: it must only copy the entry (`fuse_add_direntry`).
    ///
    /// With `plus`, each entry other than `.` and `..` that `fill` accepts has its lookup count incremented
    /// before this returns (the kernel counts readdirplus entries as lookups); entries it refuses are not
    /// counted. Valid replies: success, ``FSError/unknownHandle(_:)``, ``FSError/interrupted``,
    /// ``FSError/source(_:)``.
    package func readdir(
        _ handle: FileHandleID,
        offset: Int64,
        plus: Bool,
        fill: (DirectoryEntry) -> Bool
    ) async throws(FSError) {
        guard offset >= 0 else { throw .invalidArgument("negative directory offset") }
        let (inode, kept) = try state.withLock { (state) throws(FSError) -> (InodeNumber, Listing?) in
            guard case .directory(let directory) = state.handles[handle] else { throw .unknownHandle(handle) }
            return (directory.inode, directory.listing)
        }
        try await readdir(inode, handle: handle, kept: kept, offset: offset, plus: plus, fill: fill)
    }

    /// `readdir` and `readdirplus` of a directory opened without a handle (``FileHandleID/inodeReads``): as
    /// ``readdir(_:offset:plus:fill:)``, with the listing taken from the directory's current tree at every call.
    /// A tree is immutable, so offsets stay stable until a remote update changes the directory, which invalidates
    /// the kernel's cached listing. Valid replies: as the handle form, with ``FSError/unknownInode(_:)`` and
    /// ``FSError/notADirectory`` for an unknown handle.
    package func readdir(
        inode: InodeNumber,
        offset: Int64,
        plus: Bool,
        fill: (DirectoryEntry) -> Bool
    ) async throws(FSError) {
        guard offset >= 0 else { throw .invalidArgument("negative directory offset") }
        guard try record(inode).content.nodeKind == .directory else { throw .notADirectory }
        try await readdir(inode, handle: nil, kept: nil, offset: offset, plus: plus, fill: fill)
    }

    private func readdir(
        _ inode: InodeNumber,
        handle: FileHandleID?,
        kept: Listing?,
        offset: Int64,
        plus: Bool,
        fill: (DirectoryEntry) -> Bool
    ) async throws(FSError) {
        var listing: Listing
        if offset == 0 || kept == nil {
            listing = try await takeListing(of: inode)
            let taken = listing
            if let handle {
                state.withLock { state in
                    if case .directory(var directory) = state.handles[handle] {
                        directory.listing = taken
                        state.handles[handle] = .directory(directory)
                    }
                }
            }
            if offset == 0 { reportVisit(inode, listing: listing) }
        } else if let kept {
            listing = kept
        } else {
            return
        }
        let first = Int(min(offset, Int64(listing.items.count + 2)))
        let window = first..<min(listing.items.count + 2, first + 512)
        var sizes: [ObjectID: Int64] = [:]
        if plus {
            sizes = try await blobSizes(of: listing, positions: window)
        }
        let sizesFound = sizes
        state.withLock { state in
            fillEntries(
                state: &state, directory: inode, listing: listing, from: first, to: window.upperBound, plus: plus,
                sizes: sizesFound, fill: fill)
        }
    }

    /// `readdir`/`readdirplus` of a directory opened without a handle, answered at once when its tree and (for
    /// `plus`) the sizes of the entries in the window are in memory; `false` when something must be awaited (the
    /// caller then awaits ``readdir(inode:offset:plus:fill:)``, which gives the same answer). Never blocks:
    /// MesaFuse calls it on the FUSE thread.
    package func readdirIfInMemory(
        inode: InodeNumber, offset: Int64, plus: Bool, fill: (DirectoryEntry) -> Bool
    ) -> Bool {
        guard offset >= 0, let record = try? record(inode), record.attached,
            case .clean(.directory, let tree) = record.content, let repository = record.repository
        else { return false }
        let source = layout.repositories[repository].source
        guard let sourceTree = source.cachedTree(tree) else { return false }
        let listing = listing(of: sourceTree, content: record.content, repository: repository)
        let first = Int(min(offset, Int64(listing.items.count + 2)))
        let window = first..<min(listing.items.count + 2, first + 512)
        var sizes: [ObjectID: Int64] = [:]
        if plus {
            for position in window where position >= 2 {
                guard case .clean(let kind, let id) = listing.items[position - 2].content, kind.isBlob else { continue }
                guard let manifest = source.cachedManifest(id) else { return false }
                sizes[id] = manifest.size
            }
        }
        if offset == 0 { reportVisit(inode, listing: listing) }
        state.withLock { state in
            fillEntries(
                state: &state, directory: inode, listing: listing, from: first, to: window.upperBound, plus: plus,
                sizes: sizes, fill: fill)
        }
        return true
    }

    /// A directory's listing from its tree.
    private func listing(of tree: SourceTree, content: InodeContent, repository: Int) -> Listing {
        let time = commitTime(ofRepository: repository)
        let items = tree.entries.map {
            Listing.Item(name: $0.name, content: .clean($0.kind, $0.id), repository: repository, modificationTime: time)
        }
        return Listing(content: content, items: items)
    }

    /// The sizes of the files and links among `positions` of a listing (one batch from the source).
    private func blobSizes(of listing: Listing, positions: Range<Int>) async throws(FSError) -> [ObjectID: Int64] {
        var blobs: [Int: [ObjectID]] = [:]
        for position in positions where position >= 2 {
            let item = listing.items[position - 2]
            if case .clean(let kind, let id) = item.content, kind.isBlob, let repository = item.repository {
                blobs[repository, default: []].append(id)
            }
        }
        var sizes: [ObjectID: Int64] = [:]
        for (repository, ids) in blobs {
            do throws(SyncError) {
                for (id, manifest) in try await layout.repositories[repository].source.manifests(ofBlobs: ids) {
                    sizes[id] = manifest.size
                }
            } catch {
                throw FSError(error)
            }
        }
        return sizes
    }

    private func fillEntries(
        state: inout State,
        directory: InodeNumber,
        listing: Listing,
        from first: Int,
        to last: Int,
        plus: Bool,
        sizes: [ObjectID: Int64],
        fill: (DirectoryEntry) -> Bool
    ) {
        guard let record = state.inodes[directory] else { return }
        let current = record.content == listing.content && record.attached
        for position in first..<(listing.items.count + 2) {
            let next = Int64(position + 1)
            if position < 2 {
                let target = position == 0 ? record : state.inodes[record.parent] ?? record
                let name = FileName(bytes: position == 0 ? [0x2e] : [0x2e, 0x2e])
                let entry = DirectoryEntry(
                    name: name, attributes: attributes(of: target), timeout: timeout(of: target), nextOffset: next)
                guard fill(entry) else { return }
                continue
            }
            let item = listing.items[position - 2]
            guard plus else {
                // Plain readdir needs only the number and the type: no record, no size.
                let number =
                    current
                    ? state.inodes.slot(
                        parent: directory, name: item.name, content: item.content, time: item.modificationTime
                    ).number
                    : state.inodes.reserveNumber()
                let attributes = attributes(
                    of: Inode(
                        number: number, parent: directory, name: item.name, content: item.content,
                        repository: item.repository, size: 0, modificationTime: item.modificationTime))
                guard fill(DirectoryEntry(name: item.name, attributes: attributes, timeout: 0, nextOffset: next))
                else { return }
                continue
            }
            guard position < last else { return }
            var size: Int64 = 4096
            if case .clean(let kind, let id) = item.content, kind.isBlob {
                size = sizes[id] ?? 0
            } else if case .local(let id, let kind) = item.content, kind != .directory {
                let node = state.local.node(id)
                size = kind == .symlink ? Int64(node?.target.count ?? 0) : node?.size ?? 0
            }
            var inode =
                current
                ? state.inodes.load(
                    parent: directory, name: item.name, content: item.content, repository: item.repository,
                    size: size, time: item.modificationTime)
                : state.inodes.loadDetached(
                    parent: directory, name: item.name, content: item.content, repository: item.repository,
                    size: size, time: item.modificationTime)
            if current, case .local(let id, _) = item.content {
                state.inodeOfNode[id] = inode.number
                refreshRecord(&state, id)
                inode = state.inodes[inode.number] ?? inode
            }
            let entry = DirectoryEntry(
                name: item.name, attributes: attributes(of: inode), timeout: timeout(of: inode), nextOffset: next)
            guard fill(entry) else {
                // A record made only for an entry that did not fit goes at once (unless something holds it).
                state.inodes.forget(inode.number, count: 0)
                return
            }
            state.inodes.addLookups(inode.number)
        }
    }

    /// A directory's entries now.
    private func takeListing(of inode: InodeNumber) async throws(FSError) -> Listing {
        let record = try record(inode)
        guard record.attached else { return Listing(content: record.content, items: []) }
        switch record.content {
        case .mountRoot:
            let items = layout.organizations.map {
                Listing.Item(
                    name: FileName($0), content: .organization($0), repository: nil,
                    modificationTime: configuration.mountTime)
            }
            return Listing(content: record.content, items: items)
        case .organization(let organization):
            let indices = layout.repositories.indices.filter {
                layout.repositories[$0].path.organization == organization
            }
            let resolutions = try await resolutions(ofRepositories: indices)
            let roots = state.withLock { $0.local.roots }
            let items = indices.compactMap { index -> Listing.Item? in
                guard let resolution = resolutions[index] else { return nil }
                return Listing.Item(
                    name: FileName(layout.repositories[index].path.name),
                    content: roots[index].map { .local($0, .directory) } ?? .clean(.directory, resolution.rootTree),
                    repository: index, modificationTime: resolution.commitTime)
            }
            return Listing(content: record.content, items: items)
        case .clean(let kind, let tree):
            guard kind == .directory, let repository = record.repository else {
                return Listing(content: record.content, items: [])
            }
            let source = layout.repositories[repository].source
            let listing: SourceTree
            do throws(SyncError) {
                listing = try await source.tree(tree)
            } catch {
                throw FSError(error)
            }
            return self.listing(of: listing, content: record.content, repository: repository)
        case .local(let id, let kind):
            guard kind == .directory, let repository = record.repository else {
                return Listing(content: record.content, items: [])
            }
            let time = commitTime(ofRepository: repository)
            let items = state.withLock { state -> [Listing.Item] in
                guard let node = state.local.node(id) else { return [] }
                return node.entries.sorted { $0.key < $1.key }.map { name, item in
                    switch item {
                    case .clean(let kind, let object):
                        return Listing.Item(
                            name: name, content: .clean(kind, object), repository: repository, modificationTime: time)
                    case .local(let child, let kind):
                        return Listing.Item(
                            name: name, content: .local(child, kind), repository: repository,
                            modificationTime: state.local.node(child)?.modificationTime.seconds ?? time)
                    }
                }
            }
            return Listing(content: record.content, items: items)
        }
    }

    /// The resolutions of several repositories, the missing ones resolved concurrently (an organization listing).
    private func resolutions(ofRepositories indices: [Int]) async throws(FSError) -> [Int: Resolution] {
        let outcomes = await withTaskGroup(of: (Int, Result<Resolution, FSError>).self) { group in
            for index in indices {
                group.addTask {
                    do throws(FSError) {
                        return (index, .success(try await self.resolution(ofRepository: index)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var outcomes: [Int: Result<Resolution, FSError>] = [:]
            for await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes
        }
        var resolutions: [Int: Resolution] = [:]
        for (index, outcome) in outcomes { resolutions[index] = try outcome.get() }
        return resolutions
    }

    /// Tells the prefetcher about a directory read, without waiting for it.
    private func reportVisit(_ inode: InodeNumber, listing: Listing) {
        guard configuration.prefetch.enabled, case .clean(.directory, let tree) = listing.content else { return }
        let found = state.withLock { state -> (Int, [DirectoryVisit.Link])? in
            guard let repository = state.inodes[inode]?.repository else { return nil }
            var chain: [DirectoryVisit.Link] = []
            var current = state.inodes[inode]
            while let record = current, record.repository == repository,
                case .clean(.directory, let id) = record.content
            {
                chain.insert(DirectoryVisit.Link(inode: record.number, tree: id), at: 0)
                current = record.number == record.parent ? nil : state.inodes[record.parent]
            }
            return (repository, chain)
        }
        guard let (repository, chain) = found, chain.last?.tree == tree else { return }
        let source = layout.repositories[repository].source
        guard let sourceTree = source.cachedTree(tree) else { return }
        let visit = DirectoryVisit(source: source, chain: chain, listing: sourceTree)
        prefetcher.report(visit)
    }
}
