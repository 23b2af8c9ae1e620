package import MesaCore
import MesaSync
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

// Filesystem semantics without the kernel (DESIGN.md section 2): MesaFuse translates FUSE requests into these
// calls, and tests drive them directly.
//
// Threading: every method is safe from any thread. Synchronous methods (getattr, forget, open, opendir, release,
// statfs, xattr calls) touch only the state behind one Mutex and never block, so MesaFuse may call them on a FUSE
// thread. Async methods (lookup, readdir, read, readlink, update) await the object source and never hold the lock
// across an await: they read what they need under the lock, await content, then re-check under the lock that the
// directory they read is still at the content they listed (a remote update may have moved it meanwhile) and retry
// if not. Lookup counts change only under the lock, before the method returns, so MesaFuse replies after the
// count is bumped (STYLE.md section 5.5).

/// The filesystem of one mount: the layout's repositories as directories, their trees and files read through
/// object sources.
package final class MesaFS: Sendable {
    /// What the mount shows.
    package let layout: MountLayout
    /// Ownership, timeouts and prefetch settings.
    package let configuration: FSConfiguration
    /// The prefetch scheduler.
    package let prefetcher: Prefetcher
    /// The state directory of a writable mount (journal and overlay files); `nil` for a read-only one, which
    /// refuses every modification with EROFS.
    package let overlay: Overlay?
    /// Which new paths stay local (`.mesaignore`; the built-in rules unless `MESA_MESAIGNORE_PATH` names a file).
    package let ignoreRules: IgnoreRules
    let state: Mutex<State>
    /// Whether modifications are accepted now: a writable mount whose credential cannot push (a read-scoped token)
    /// refuses them with EROFS at once rather than keep edits that could never be uploaded.
    private let acceptsWrites = Atomic<Bool>(true)

    /// Whether modifications are accepted (a writable filesystem whose writes are not refused).
    package var writesAccepted: Bool { overlay != nil && acceptsWrites.load(ordering: .acquiring) }

    /// Accepts or refuses (EROFS) every modification from now on; reads, and edits already made, are unaffected.
    package func acceptWrites(_ accepted: Bool) { acceptsWrites.store(accepted, ordering: .releasing) }

    struct State: Sendable {
        var inodes: InodeTable
        var handles = HandleTable()
        /// The resolution shown for each layout repository, once resolved.
        var resolutions: [Resolution?]
        /// File opens served (zero-message ones included: the kernel sends at most one of those).
        var opens = 0
        /// The local nodes of writable repositories.
        var local = LocalState()
        /// The inode loaded for each local node (kept while the inode's record is loaded).
        var inodeOfNode: [LocalID: InodeNumber] = [:]
        /// Each repository's sent pushes not yet behind its base (as the journal has them), by layout index.
        var sent: [Int: [SentPush]] = [:]

        /// Moves the local state out, leaving an empty one, so the caller changes its dictionaries in place (a
        /// copy would cost O(local nodes) per operation). The caller puts it back on every path.
        mutating func takeLocal() -> LocalState {
            var taken = LocalState()
            swap(&taken, &local)
            return taken
        }

        /// Whether the kernel or a handle holds a local node's inode (it becomes an orphan when removed).
        func isHeld(_ id: LocalID) -> Bool {
            guard let number = inodeOfNode[id], case .local(id, _)? = inodes[number]?.content else { return false }
            return true
        }
    }

    /// Creates the filesystem of a layout. Nothing is resolved or fetched until the kernel asks.
    package init(layout: MountLayout, configuration: FSConfiguration = .default) {
        self.layout = layout
        self.configuration = configuration
        prefetcher = Prefetcher(configuration: configuration.prefetch)
        overlay = nil
        ignoreRules = .default
        state = Mutex(
            State(
                inodes: InodeTable(mountTime: configuration.mountTime),
                resolutions: layout.repositories.map(\.resolution)))
    }

    /// Creates a writable filesystem whose local changes live in `overlay`: the journal's nodes are restored, so
    /// every edit pending from an earlier session shows again, each repository at the base it was edited on. New
    /// paths that `ignoreRules` match stay local (never journaled or uploaded).
    /// - Throws: ``FSError/journal(_:)`` when the journal cannot be read or names an overlay file that is gone.
    package init(
        layout: MountLayout, configuration: FSConfiguration = .default, overlay: Overlay,
        ignoreRules: IgnoreRules = .default
    ) throws(FSError) {
        self.layout = layout
        self.configuration = configuration
        prefetcher = Prefetcher(configuration: configuration.prefetch)
        self.overlay = overlay
        self.ignoreRules = ignoreRules
        let snapshot = try overlay.journal.load()
        var state = State(
            inodes: InodeTable(mountTime: configuration.mountTime), resolutions: layout.repositories.map(\.resolution))
        state.local = LocalState(snapshot: snapshot, layout: layout)
        for (path, entry) in snapshot.repositories {
            if let index = layout.index(of: path) { state.resolutions[index] = entry.base }
        }
        for (path, pushes) in snapshot.sent {
            if let index = layout.index(of: path) { state.sent[index] = pushes }
        }
        for (id, node) in state.local.nodes where node.kind == .file && node.content == .overlay {
            // The overlay file is the truth for sizes and times written after the journal last recorded them.
            // A missing one is damage (a killed process never causes it: overlay files exist before the journal names
            // them): serving the node would show zeros or nothing where the edit was, so the mount refuses instead.
            var info = stat()
            guard stat(overlay.path(of: id), &info) == 0 else {
                throw .journal("the overlay file of \(id) (\(overlay.path(of: id))) cannot be read: \(Errno(rawValue: Glibc.errno))")
            }
            state.local.nodes[id]?.size = Int64(info.st_size)
            let time = Timestamp(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: UInt32(info.st_mtim.tv_nsec))
            if node.modificationTime < time { state.local.nodes[id]?.modificationTime = time }
        }
        let live = Set(state.local.nodes.values.filter { $0.kind == .file && $0.content == .overlay }.map(\.id))
        overlay.removeFiles(notIn: live)
        self.state = Mutex(state)
    }

    // MARK: Attributes

    /// `getattr`: an inode's attributes, from memory.
    ///
    /// Valid replies: the attributes, or ``FSError/unknownInode(_:)``. No effect on lookup counts.
    package func getattr(_ inode: InodeNumber) throws(FSError) -> EntryAttributes {
        let record = try record(inode)
        return EntryAttributes(attributes: attributes(of: record), timeout: timeout(of: record))
    }

    func record(_ inode: InodeNumber) throws(FSError) -> Inode {
        guard let record = state.withLock({ $0.inodes[inode] }) else { throw .unknownInode(inode) }
        return record
    }

    func attributes(of inode: Inode) -> FileAttributes {
        let kind = inode.content.nodeKind
        var permissions: UInt32
        switch inode.content {
        case .mountRoot, .organization: permissions = 0o755
        case .clean(let entryKind, _):
            switch entryKind {
            case .directory, .submodule, .executable: permissions = 0o755
            case .regular: permissions = 0o644
            case .symlink: permissions = 0o777
            }
        case .local(_, let kind): permissions = kind == .symlink ? 0o777 : 0o644
        }
        if let local = inode.permissions { permissions = local }
        var attributes = FileAttributes(
            inode: inode.number, kind: kind, permissions: permissions,
            size: kind == .directory ? 4096 : inode.size,
            linkCount: kind == .directory || inode.attached ? 1 : 0, uid: configuration.uid, gid: configuration.gid,
            modificationTime: inode.modificationTime, blockSize: configuration.blockSize)
        attributes.modificationNanoseconds = inode.modificationNanoseconds
        attributes.accessTime = inode.accessTime
        return attributes
    }

    func timeout(of inode: Inode) -> Double {
        guard inode.cacheable else { return 0 }
        if case .local = inode.content { return configuration.localTimeout }
        return configuration.cleanTimeout
    }

    // MARK: Lookup and forget

    /// `lookup`: the entry `name` in the directory `parent`.
    ///
    /// Valid replies: the entry, ``FSError/notFound``, ``FSError/notADirectory``, ``FSError/nameTooLong``,
    /// ``FSError/unknownInode(_:)``, ``FSError/interrupted``, ``FSError/source(_:)`` (EIO). On success the entry's
    /// lookup count has been incremented by one before this returns.
    package func lookup(parent: InodeNumber, name: FileName) async throws(FSError) -> EntryAttributes {
        guard name.bytes.count <= 255 else { throw .nameTooLong }
        if name.isDotOrDotDot { return try lookupDot(parent: parent, name: name) }
        for _ in 0..<8 {
            let directory = try record(parent)
            guard directory.content.nodeKind == .directory else { throw .notADirectory }
            guard directory.attached else { throw .notFound }
            let child = try await describeChild(named: name, in: directory)
            let entry = state.withLock { state -> EntryAttributes? in
                guard let current = state.inodes[parent], current.content == directory.content else { return nil }
                var inode = state.inodes.load(
                    parent: parent, name: name, content: child.content, repository: child.repository,
                    size: child.size, time: child.time)
                if case .local(let id, _) = child.content {
                    state.inodeOfNode[id] = inode.number
                    refreshRecord(&state, id)
                    inode = state.inodes[inode.number] ?? inode
                }
                state.inodes.addLookups(inode.number)
                return EntryAttributes(attributes: attributes(of: inode), timeout: timeout(of: inode))
            }
            if let entry { return entry }
        }
        throw .source(.invalidArgument("directory \(parent) changed during every lookup attempt"))
    }

    /// ``lookup(parent:name:)`` answered at once when the parent is a local directory and the answer needs no
    /// fetch (a local child, a subtree, a file whose manifest is in memory, or no such name), else `nil` (the caller
    /// then awaits ``lookup(parent:name:)``). Never blocks: MesaFuse calls it on the FUSE thread.
    package func lookupIfLocal(parent: InodeNumber, name: FileName) throws(FSError) -> EntryAttributes? {
        guard name.bytes.count <= 255 else { throw .nameTooLong }
        guard !name.isDotOrDotDot else { return nil }
        let found = state.withLock { state -> (LocalItem, Int)?? in
            guard let directory = state.inodes[parent], directory.attached,
                case .local(let id, .directory) = directory.content, let repository = directory.repository,
                let node = state.local.node(id)
            else { return .none }
            return .some(node.entries[name].map { ($0, repository) })
        }
        guard let found else { return nil }
        guard let (item, repository) = found else { throw .notFound }
        var size: Int64 = 4096
        if case .clean(let kind, let blob) = item, kind.isBlob {
            guard let manifest = layout.repositories[repository].source.cachedManifest(blob) else { return nil }
            size = manifest.size
        }
        let time = commitTime(ofRepository: repository)
        return state.withLock { state -> EntryAttributes? in
            // Still the same entry? (A writer may have changed it since; the awaited lookup then answers.)
            guard case .local(let id, .directory)? = state.inodes[parent]?.content,
                state.local.node(id)?.entries[name] == item
            else { return nil }
            if case .local(let child, let kind) = item {
                guard let node = state.local.node(child) else { return nil }
                size = kind == .symlink ? Int64(node.target.count) : kind == .directory ? 4096 : node.size
            }
            let inode = loadLocalEntry(
                &state, parent: parent, name: name, item: item, repository: repository, size: size, time: time)
            state.inodes.addLookups(inode.number)
            return EntryAttributes(attributes: attributes(of: inode), timeout: timeout(of: inode))
        }
    }

    /// `.` and `..` (the kernel resolves them itself; only NFS export asks).
    private func lookupDot(parent: InodeNumber, name: FileName) throws(FSError) -> EntryAttributes {
        try state.withLock { (state) throws(FSError) -> EntryAttributes in
            guard let directory = state.inodes[parent] else { throw .unknownInode(parent) }
            let target = name.bytes.count == 1 ? directory.number : directory.parent
            guard let inode = state.inodes[target] else { throw .unknownInode(target) }
            state.inodes.addLookups(target)
            return EntryAttributes(attributes: attributes(of: inode), timeout: timeout(of: inode))
        }
    }

    /// What a directory's entry `name` is.
    struct Child {
        var content: InodeContent
        var repository: Int?
        var size: Int64
        var time: Int64
    }

    private func describeChild(named name: FileName, in directory: Inode) async throws(FSError) -> Child {
        switch directory.content {
        case .mountRoot:
            guard let organization = layout.organizations.first(where: { FileName($0) == name }) else {
                throw .notFound
            }
            return Child(
                content: .organization(organization), repository: nil, size: 4096, time: configuration.mountTime)
        case .organization(let organization):
            guard let index = layout.repositories.firstIndex(where: {
                $0.path.organization == organization && FileName($0.path.name) == name
            }) else { throw .notFound }
            let resolution = try await resolution(ofRepository: index)
            if let root = state.withLock({ $0.local.roots[index] }) {
                return Child(
                    content: .local(root, .directory), repository: index, size: 4096, time: resolution.commitTime)
            }
            return Child(
                content: .clean(.directory, resolution.rootTree), repository: index, size: 4096,
                time: resolution.commitTime)
        case .clean(let kind, let tree):
            guard kind == .directory, let repository = directory.repository else { throw .notFound }
            let source = layout.repositories[repository].source
            let listing: SourceTree
            do throws(SyncError) {
                listing = try await source.tree(tree)
            } catch {
                throw FSError(error)
            }
            guard let entry = listing.entry(named: name) else { throw .notFound }
            return try await describeClean(entry.kind, entry.id, named: name, in: directory, repository: repository)
        case .local(let id, let kind):
            guard kind == .directory, let repository = directory.repository else { throw .notADirectory }
            let found = state.withLock { state -> (LocalItem, LocalNode?)? in
                guard let item = state.local.node(id)?.entries[name] else { return nil }
                if case .local(let child, _) = item { return (item, state.local.node(child)) }
                return (item, nil)
            }
            guard let (item, node) = found else { throw .notFound }
            switch item {
            case .clean(let kind, let object):
                return try await describeClean(kind, object, named: name, in: directory, repository: repository)
            case .local(let child, let kind):
                guard let node else { throw .notFound }
                return Child(
                    content: .local(child, kind), repository: repository,
                    size: kind == .symlink ? Int64(node.target.count) : kind == .directory ? 4096 : node.size,
                    time: node.modificationTime.seconds)
            }
        }
    }

    /// What a tree entry is (a file's size comes from its manifest).
    private func describeClean(
        _ kind: EntryKind, _ id: ObjectID, named name: FileName, in directory: Inode, repository: Int
    ) async throws(FSError) -> Child {
        let source = layout.repositories[repository].source
        var size: Int64 = 4096
        if kind.isBlob {
            do throws(SyncError) {
                if let path = pathInRepository(of: directory.number) {
                    size = try await source.manifest(
                        ofBlob: id, at: path + [name], of: layout.repositories[repository].revision
                    ).size
                } else {
                    size = try await source.manifest(ofBlob: id).size
                }
            } catch {
                throw FSError(error)
            }
        }
        return Child(
            content: .clean(kind, id), repository: repository, size: size, time: commitTime(ofRepository: repository))
    }

    /// The names from a repository's root down to a loaded directory inode (empty for the root itself), or `nil`
    /// when the chain is not loaded or leaves the repository.
    func pathInRepository(of directory: InodeNumber) -> [FileName]? {
        state.withLock { state in
            var names: [FileName] = []
            var current = state.inodes[directory]
            while let record = current {
                guard let parent = state.inodes[record.parent], record.number != record.parent else { return nil }
                if case .organization = parent.content { return names.reversed() }
                guard record.repository != nil else { return nil }
                names.append(record.name)
                current = parent
            }
            return nil
        }
    }

    /// Resolves every repository's revision now and loads its root tree (with the levels below that a tree miss
    /// brings), concurrently: `mesa mount` does this before it reports ready, so listing a repository costs no
    /// round trip and a path walk into it starts three levels down. A failure is left for the first access to
    /// report.
    package func prepareRepositories() async {
        await withTaskGroup(of: Void.self) { group in
            for index in layout.repositories.indices {
                group.addTask {
                    guard let resolution = try? await self.resolution(ofRepository: index) else { return }
                    _ = try? await self.layout.repositories[index].source.tree(resolution.rootTree)
                }
            }
        }
    }

    /// The revision shown for a repository, resolved on first use.
    func resolution(ofRepository index: Int) async throws(FSError) -> Resolution {
        if let resolution = state.withLock({ $0.resolutions[index] }) { return resolution }
        let repository = layout.repositories[index]
        let resolved: Resolution
        do throws(SyncError) {
            resolved = try await repository.source.resolve(repository.revision)
        } catch {
            throw FSError(error)
        }
        return state.withLock { state in
            if let existing = state.resolutions[index] { return existing }
            state.resolutions[index] = resolved
            return resolved
        }
    }

    func commitTime(ofRepository index: Int) -> Int64 {
        state.withLock { $0.resolutions[index]?.commitTime } ?? configuration.mountTime
    }

    /// `forget`: the kernel drops `count` references; the inode's record goes when nothing refers to it (its
    /// number stays reserved for its path). Never fails; unknown inodes are ignored.
    package func forget(_ inode: InodeNumber, count: UInt64) {
        forget([(inode, count)])
    }

    /// `batch_forget`: several forgets under one lock. An evicted inode of a removed local file (an orphan) takes
    /// its overlay file with it.
    package func forget(_ items: [(inode: InodeNumber, count: UInt64)]) {
        let released = state.withLock { state -> [LocalID] in
            var released: [LocalID] = []
            for item in items {
                let content = state.inodes[item.inode]?.content
                guard state.inodes.forget(item.inode, count: item.count), case .local(let id, _)? = content else {
                    continue
                }
                if state.inodeOfNode[id] == item.inode { state.inodeOfNode[id] = nil }
                if let orphan = state.local.orphans.removeValue(forKey: id), orphan.kind == .file {
                    released.append(id)
                }
            }
            return released
        }
        for id in released { overlay?.remove(id) }
    }

    // MARK: Filesystem-wide calls

    /// `statfs`: for a writable mount, the space of the filesystem that holds the state directory (where new
    /// bytes go); for a read-only one, no free space and the number of paths the session has named.
    package func statfs() -> FilesystemStatistics {
        var statistics = FilesystemStatistics()
        statistics.files = UInt64(state.withLock { $0.inodes.slotCount } + 1)
        if let space = overlay?.space(), space.blockSize > 0 {
            statistics.blockSize = UInt32(clamping: space.blockSize)
            statistics.blocks = space.blocks
            statistics.freeBlocks = space.free
            statistics.availableBlocks = space.available
            statistics.files = space.files
            statistics.freeFiles = space.freeFiles
        }
        return statistics
    }

    /// `getxattr`: no extended attributes exist, and the answer is ENOSYS (``FSError/notImplemented(operation:)``):
    /// the kernel then stops asking for the rest of the mount and answers EOPNOTSUPP itself. Otherwise it asks for
    /// `security.capability` before every `write(2)`, one request per write (PLATFORM-NOTES.md). Valid replies:
    /// that, ``FSError/unknownInode(_:)``.
    package func getxattr(_ inode: InodeNumber, name: FileName) throws(FSError) -> [UInt8] {
        _ = try record(inode)
        throw .notImplemented(operation: "getxattr")
    }

    /// `listxattr`: the empty list.
    package func listxattr(_ inode: InodeNumber) throws(FSError) -> [FileName] {
        _ = try record(inode)
        return []
    }

    /// `setxattr`: refused with ``FSError/attributesNotSupported`` (ENOTSUP).
    package func setxattr(_ inode: InodeNumber, name: FileName, value: [UInt8]) throws(FSError) {
        _ = try record(inode)
        throw .attributesNotSupported
    }

    /// `removexattr`: there is nothing to remove (``FSError/noAttribute``).
    package func removexattr(_ inode: InodeNumber, name: FileName) throws(FSError) {
        _ = try record(inode)
        throw .noAttribute
    }

    // MARK: Statistics

    /// Counters of the inode and handle tables.
    package struct Statistics: Sendable, Hashable {
        /// Inodes loaded (held by the kernel or a handle).
        package var loadedInodes: Int
        /// Paths given a number this session.
        package var namedPaths: Int
        /// Open handles.
        package var openHandles: Int
        /// File `open` requests served this session.
        package var opens: Int
    }

    /// The current counters.
    package func statistics() -> Statistics {
        state.withLock { state in
            Statistics(
                loadedInodes: state.inodes.records.count, namedPaths: state.inodes.slotCount,
                openHandles: state.handles.handles.count, opens: state.opens)
        }
    }

    /// The lookup count of an inode (tests), or `nil` when it is not loaded.
    package func lookupCount(of inode: InodeNumber) -> UInt64? {
        state.withLock { $0.inodes[inode]?.lookupCount }
    }
}
