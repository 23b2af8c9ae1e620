package import MesaCore
package import MesaStore

// The versioned tree model of one repository: git objects over a ContentStore, plus changes and bookmarks.
//
// Threading: every method is synchronous and safe to call from any thread. Blob, tree and commit reads and tree
// writes go straight to the thread-safe store (tree objects are encoded and hashed here, in Swift). Work that needs
// libgit2 (creating commits, diff, merge) runs on one in-memory libgit2 repository whose handle is locked for the
// whole sequence of calls (see `GitRepository`). Methods block on disk: async callers run them on a blocking pool,
// never on Swift's cooperative pool (STYLE.md section 5.7).

/// A repository: git trees and commits stored in a ``ContentStore``, with Mesa's changes and bookmarks on top.
package final class MesaRepository: Sendable {
    /// The content store holding chunks, manifests, trees and commits.
    package let store: ContentStore
    /// The change and bookmark tables.
    package let catalog: any ChangeCatalog
    let git: GitRepository

    /// Opens the model over a store.
    /// - Parameters:
    ///   - store: the content store (shared with other users of it).
    ///   - catalog: where changes and bookmarks live; in memory unless the server passes a persistent one.
    /// - Throws: when libgit2 cannot be initialized.
    package init(store: ContentStore, catalog: any ChangeCatalog = InMemoryChangeCatalog()) throws(TreeError) {
        self.store = store
        self.catalog = catalog
        git = try GitRepository(store: store)
    }

    // MARK: Blobs

    /// Stores in-memory content as a git blob: chunks plus a manifest keyed by the blob id. Content already
    /// present is not stored again.
    /// - Returns: the git blob id (SHA-1 of `blob <size>\0` and the content).
    @discardableResult
    package func writeBlob(_ bytes: [UInt8], pinned: Bool = false) throws(TreeError) -> ObjectID {
        var hasher = GitBlobHasher(size: Int64(bytes.count))
        bytes.withUnsafeBytes { hasher.update($0) }
        let id = hasher.finalize()
        let key = RecordKey(.manifest, object: id)
        do throws(StoreError) {
            // Present content is touched, manifest and chunks, so a garbage collector keeps what the caller is about
            // to reference (ContentStore's use clock); content with a chunk missing is stored again, and so is
            // content whose manifest is a claim (the put below settles it: ContentStore+Claims.swift).
            if !store.touch([key]).isEmpty, !store.isClaimed(key), let manifest = try? store.manifest(forBlob: id) {
                let chunks = Set(manifest.chunks.map { RecordKey(chunk: $0.id) })
                if store.touch(chunks).count == chunks.count {
                    if pinned { try pinBlob(id) }
                    return id
                }
            }
            let manifest = try store.ingest(bytes: bytes, pinned: pinned)
            try store.put(manifest.encoded(), key: key)
            if pinned { try store.pin([key]) }
        } catch {
            throw TreeError(error)
        }
        return id
    }

    /// Streams a file into the store as a git blob, computing its id while reading.
    /// - Returns: the git blob id.
    @discardableResult
    package func writeBlob(fileAt path: String, threads: Int = 1, pinned: Bool = false) throws(TreeError) -> ObjectID {
        do throws(StoreError) {
            return try store.ingestBlob(fileAt: path, threads: threads, pinned: pinned).blobID
        } catch {
            throw TreeError(error)
        }
    }

    private func pinBlob(_ id: ObjectID) throws(StoreError) {
        let manifest = try store.manifest(forBlob: id)
        try store.pin([RecordKey(.manifest, object: id)] + manifest.chunks.map { RecordKey(chunk: $0.id) })
    }

    /// The manifest of a blob.
    /// - Throws: ``TreeError/objectNotFound(_:)`` when the store has no such blob.
    package func manifest(ofBlob id: ObjectID) throws(TreeError) -> Manifest {
        do throws(StoreError) {
            return try store.manifest(forBlob: id)
        } catch {
            throw TreeError(error)
        }
    }

    /// Reads a blob's content, or a byte range of it, fetching only the chunks that overlap the range.
    package func readBlob(_ id: ObjectID, range: Range<Int64>? = nil) throws(TreeError) -> [UInt8] {
        let manifest = try manifest(ofBlob: id)
        do throws(StoreError) {
            return try store.read(manifest, range: range ?? 0..<manifest.size)
        } catch {
            throw TreeError(error)
        }
    }

    // MARK: Trees

    /// Reads a tree's entries, in git order.
    /// - Parameter path: the tree's path, used only to name non-UTF-8 entries in errors.
    /// - Throws: ``TreeError/objectNotFound(_:)``, ``TreeError/corruptObject(_:reason:)``.
    package func tree(_ id: ObjectID, path: String = "") throws(TreeError) -> [TreeEntry] {
        if id == TreeCodec.emptyTreeID { return [] }
        let body: [UInt8]
        do throws(StoreError) {
            body = try store.get(RecordKey(.tree, object: id))
        } catch {
            throw TreeError(error)
        }
        return try TreeCodec.decode(body, id: id, path: path)
    }

    /// A stored tree's raw body.
    func treeBody(_ id: ObjectID) throws(TreeError) -> [UInt8] {
        do throws(StoreError) {
            return try store.get(RecordKey(.tree, object: id))
        } catch {
            throw TreeError(error)
        }
    }

    /// Encodes, hashes and stores a tree made of `entries` (any order; names must be unique as bytes, so
    /// canonically equivalent spellings of a name are two entries).
    /// - Returns: the tree id.
    @discardableResult
    package func writeTree(_ entries: [TreeEntry]) throws(TreeError) -> ObjectID {
        var seen = Set<FileName>()
        for entry in entries {
            try TreeValidator.check(name: entry.name, at: entry.name)
            guard seen.insert(FileName(entry.name)).inserted else {
                throw .invalidArgument("tree entry '\(entry.name)' appears twice")
            }
        }
        return try storeTree(body: TreeCodec.encode(entries))
    }

    /// Stores an encoded tree body under its id.
    func storeTree(body: [UInt8]) throws(TreeError) -> ObjectID {
        let id = TreeCodec.objectID(kind: "tree", body: body)
        do throws(StoreError) {
            try store.put(body, key: RecordKey(.tree, object: id))
        } catch {
            throw TreeError(error)
        }
        return id
    }

    /// Finds the entry at a slash-separated path below a root tree. The empty path names the root itself; each
    /// component matches the entry whose name has exactly its bytes.
    /// - Throws: ``TreeError/notFound(path:)`` when a component is missing or a parent is not a directory.
    package func entry(at path: String, in root: ObjectID) throws(TreeError) -> TreeEntry {
        if path.isEmpty { return TreeEntry(name: "", mode: .directory, id: root) }
        let components = try TreeValidator.components(of: path)
        var current = TreeEntry(name: "", mode: .directory, id: root)
        var walked = ""
        for component in components {
            guard current.mode == .directory else { throw .notFound(path: path) }
            let entries = try tree(current.id, path: walked)
            guard let next = entries.first(where: { $0.name.utf8.elementsEqual(component.bytes) }) else {
                throw .notFound(path: path)
            }
            current = next
            walked = PathName.join(walked, next.name)
        }
        return current
    }

    /// Walks a tree depth first in git order, calling `visit` for every entry (directories before their content).
    /// - Parameters:
    ///   - root: the tree to walk.
    ///   - visit: returns whether to descend into a directory entry (ignored for other entries).
    package func walk(
        _ root: ObjectID,
        visit: (TreeWalkEntry) throws(TreeError) -> Bool
    ) throws(TreeError) {
        try walk(root, prefix: "", visit: visit)
    }

    private func walk(
        _ tree: ObjectID,
        prefix: String,
        visit: (TreeWalkEntry) throws(TreeError) -> Bool
    ) throws(TreeError) {
        for entry in try self.tree(tree, path: prefix) {
            let path = PathName.join(prefix, entry.name)
            let descend = try visit(TreeWalkEntry(path: path, entry: entry))
            if entry.mode == .directory, descend {
                try walk(entry.id, prefix: path, visit: visit)
            }
        }
    }

    /// Every non-directory entry below a tree, with full paths, in git order.
    package func files(in root: ObjectID) throws(TreeError) -> [TreeWalkEntry] {
        var files: [TreeWalkEntry] = []
        try walk(root) { (item) throws(TreeError) -> Bool in
            if item.entry.mode != .directory { files.append(item) }
            return true
        }
        return files
    }
}
