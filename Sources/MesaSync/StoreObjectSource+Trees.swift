package import MesaCore
import MesaStore
import MesaTree
import Synchronization

// Trees: memory, then the store, then one bulk remote fetch; decoded once and shared by concurrent readers.

extension StoreObjectSource {
    /// The tree if the memory cache holds it (marking it recently used).
    package func cachedTree(_ id: ObjectID) -> SourceTree? {
        memory.withLock { $0.trees.value(for: id) }
    }

    /// A tree from memory, the store, or the remote (with the trees below it to ``SourceConfiguration/treeFetchDepth``
    /// levels, in the same request); concurrent callers share one load.
    package func tree(_ id: ObjectID) async throws(SyncError) -> SourceTree {
        if id == TreeCodec.emptyTreeID { return SourceTree(id: id, entries: []) }
        if let tree = cachedTree(id) {
            counters.withLock { $0.treeMemoryHits += 1 }
            return tree
        }
        let claim = treeFlights.claim(id)
        if claim.isOwner {
            Task { await self.loadTree(id) }
        }
        return try await claim.flight.value()
    }

    func loadTree(_ id: ObjectID) async {
        let result: Result<SourceTree, SyncError>
        do throws(SyncError) {
            result = .success(try await fetchedTree(id))
        } catch {
            result = .failure(error)
        }
        if case .success(let tree) = result {
            memory.withLock { $0.trees.insert(tree, for: id, cost: tree.cost) }
        }
        treeFlights.finish(id, with: result)
    }

    func fetchedTree(_ id: ObjectID) async throws(SyncError) -> SourceTree {
        if let tree = try await storedTree(id) {
            counters.withLock { $0.treeStoreHits += 1 }
            return tree
        }
        guard let fetcher else { throw .objectNotFound(RecordKey(.tree, object: id)) }
        let summary = try await fetcher.fetchTrees(roots: [id], depth: configuration.treeFetchDepth, into: store)
        countRemote(summary)
        if let tree = summary.trees[id] { return tree }
        guard let tree = try await storedTree(id) else { throw .objectNotFound(RecordKey(.tree, object: id)) }
        return tree
    }

    /// Reads and decodes a tree from the store; `nil` when the store does not hold it.
    func storedTree(_ id: ObjectID) async throws(SyncError) -> SourceTree? {
        let store = self.store
        let isCache = fetcher != nil
        return try await pool.run { () throws(SyncError) -> SourceTree? in
            let key = RecordKey(.tree, object: id)
            guard let body = try Self.readStored(key, in: store, isCache: isCache, { () throws(StoreError) in try store.get(key) })
            else { return nil }
            return try Self.decodeTree(body, id: id)
        }
    }

    /// Decodes a verified tree for the mount. Names go through the validator too: a server that sent a name the
    /// kernel must never see (`..`, `/`, `.git`, a control character) gets its tree refused as corrupt (EIO for that
    /// directory), whatever the server checked.
    static func decodeTree(_ body: [UInt8], id: ObjectID) throws(SyncError) -> SourceTree {
        let entries: [TreeEntry]
        do throws(TreeError) {
            entries = try TreeCodec.decode(body, id: id)
            for entry in entries { try TreeValidator.check(name: entry.name, at: entry.name) }
        } catch .invalid(let failure) {
            throw .corruptObject(RecordKey(.tree, object: id), reason: failure.description)
        } catch {
            throw SyncError(error)
        }
        return SourceTree(
            id: id,
            entries: entries.map { SourceEntry(name: FileName($0.name), kind: EntryKind($0.mode), id: $0.id) })
    }
}
