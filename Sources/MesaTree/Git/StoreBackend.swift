import CGit2
import MesaCore
import MesaStore

// A libgit2 object database backend over MesaStore (DESIGN.md section 3, issue 3 point 1).
//
// libgit2 sees an ordinary object database; underneath, trees, commits and tags are store records of their kind
// keyed by their git id, stored verbatim in git's byte format, and a blob is never stored whole: its id keys a
// manifest (the ordered chunks of the content). So:
// - `write` of a blob chunks the content into the store (FastCDC, chunk records deduplicated by SHA-256) and stores
//   the manifest under the blob id libgit2 computed; other kinds are stored as one record.
// - `read` of a blob reassembles the content chunk by chunk straight into a buffer from `git_odb_backend_data_alloc`
//   (libgit2 frees it); other kinds are one record read.
// - `read_header` answers type and size without reading content: the record's raw length for trees, commits and
//   tags, the manifest's size for blobs.
// - `exists` probes the index only. Prefix lookups (`read_prefix`, `exists_prefix`) are not offered: the store has no
//   ordered index to search, and MesaTree always uses full ids. libgit2 then reports short ids as not found.
//
// The C struct libgit2 calls through is allocated here with room for one extra pointer after it (PLATFORM-NOTES.md:
// the `git_odb_backend` comes first, the context after). The context, a retained `StoreBackendContext`, is
// released by the `free` callback, which libgit2 calls when the last odb reference goes away.
//
// Threading: libgit2 runs these callbacks on whichever thread makes the git call; the repository handle's lock
// (see `GitRepository`) serializes calls per handle, and `ContentStore` is thread-safe, so a backend may also be
// shared. Each callback reports failures with `git_error_set_str` before returning, on the calling thread, so the
// caller's `GitError.check` reads the message.

/// What the backend's callbacks reach through the extra pointer after the C struct.
final class StoreBackendContext {
    let store: ContentStore

    init(store: ContentStore) {
        self.store = store
    }
}

/// Creates and serves the store-backed `git_odb_backend`.
enum StoreBackend {
    /// The byte offset of the context pointer after the C struct.
    private static let contextOffset: Int = {
        let stride = MemoryLayout<git_odb_backend>.stride
        let alignment = MemoryLayout<UnsafeMutableRawPointer>.alignment
        return (stride + alignment - 1) / alignment * alignment
    }()

    /// Allocates a backend over `store`. Ownership passes to libgit2 with `git_odb_add_backend`; until then the
    /// caller frees it with ``destroy(_:)``.
    static func make(store: ContentStore) throws(TreeError) -> UnsafeMutablePointer<git_odb_backend> {
        let alignment = max(MemoryLayout<git_odb_backend>.alignment, MemoryLayout<UnsafeMutableRawPointer>.alignment)
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: contextOffset + MemoryLayout<UnsafeMutableRawPointer>.size, alignment: alignment)
        // SAFETY: `raw` is freshly allocated with the size and alignment of the struct plus the context slot;
        // binding its first bytes to `git_odb_backend` is the only typed view of them.
        let backend = raw.bindMemory(to: git_odb_backend.self, capacity: 1)
        backend.initialize(to: git_odb_backend())
        let code = git_odb_init_backend(backend, UInt32(GIT_ODB_BACKEND_VERSION))
        do {
            try GitError.check(code, operation: "git_odb_init_backend")
        } catch {
            raw.deallocate()
            throw error
        }
        // SAFETY: the retain is balanced by `destroy`, which the `free` callback (or a failed setup) calls once.
        let context = Unmanaged.passRetained(StoreBackendContext(store: store)).toOpaque()
        (raw + contextOffset).storeBytes(of: context, as: UnsafeMutableRawPointer.self)

        // SAFETY: libgit2 passes out-pointers and an oid valid for the duration of each callback, and a `write`
        // buffer of `length` bytes; the callbacks copy what they keep and write results only through the out-pointers.
        backend.pointee.read = { data, length, type, backend, oid in
            guard let data, let length, let type, let backend, let oid else { return GIT_EINVALID.rawValue }
            return StoreBackend.read(data, length, type, StoreBackend.context(backend), ObjectID(oid), backend)
        }
        backend.pointee.read_header = { length, type, backend, oid in
            guard let length, let type, let backend, let oid else { return GIT_EINVALID.rawValue }
            return StoreBackend.readHeader(length, type, StoreBackend.context(backend), ObjectID(oid))
        }
        backend.pointee.write = { backend, oid, data, length, type in
            guard let backend, let oid else { return GIT_EINVALID.rawValue }
            let bytes = UnsafeRawBufferPointer(start: data, count: length)
            return StoreBackend.write(StoreBackend.context(backend), ObjectID(oid), bytes, type)
        }
        backend.pointee.exists = { backend, oid in
            guard let backend, let oid else { return 0 }
            return StoreBackend.kind(of: ObjectID(oid), in: StoreBackend.context(backend).store) == nil ? 0 : 1
        }
        backend.pointee.free = { backend in
            guard let backend else { return }
            StoreBackend.destroy(backend)
        }
        return backend
    }

    /// Releases the context and frees the struct.
    static func destroy(_ backend: UnsafeMutablePointer<git_odb_backend>) {
        let raw = UnsafeMutableRawPointer(backend)
        let context = (raw + contextOffset).load(as: UnsafeMutableRawPointer.self)
        // SAFETY: balances the `passRetained` in `make`; libgit2 calls `free` exactly once per backend.
        Unmanaged<StoreBackendContext>.fromOpaque(context).release()
        backend.deinitialize(count: 1)
        raw.deallocate()
    }

    private static func context(_ backend: UnsafeMutablePointer<git_odb_backend>) -> StoreBackendContext {
        let raw = UnsafeMutableRawPointer(backend)
        let context = (raw + contextOffset).load(as: UnsafeMutableRawPointer.self)
        // SAFETY: the context stays retained until `free`, and libgit2 makes no callback after `free`.
        return Unmanaged<StoreBackendContext>.fromOpaque(context).takeUnretainedValue()
    }

    /// The store record kind that holds object `id`, if any. A blob is held as its manifest.
    static func kind(of id: ObjectID, in store: ContentStore) -> RecordKind? {
        for kind in [RecordKind.tree, .manifest, .commit, .tag] where store.contains(RecordKey(kind, object: id)) {
            return kind
        }
        return nil
    }

    private static func objectType(_ kind: RecordKind) -> git_object_t {
        switch kind {
        case .tree: GIT_OBJECT_TREE
        case .commit: GIT_OBJECT_COMMIT
        case .tag: GIT_OBJECT_TAG
        case .manifest, .chunk: GIT_OBJECT_BLOB
        }
    }

    /// Sets libgit2's thread-local error message and returns the generic error code.
    private static func fail(_ message: String) -> Int32 {
        _ = git_error_set_str(Int32(GIT_ERROR_ODB.rawValue), message)
        return GIT_ERROR.rawValue
    }

    private static func notFound(_ id: ObjectID) -> Int32 {
        _ = git_error_set_str(Int32(GIT_ERROR_ODB.rawValue), "object \(id) is not in the mesa store")
        return GIT_ENOTFOUND.rawValue
    }

    private static func read(
        _ data: UnsafeMutablePointer<UnsafeMutableRawPointer?>,
        _ length: UnsafeMutablePointer<Int>,
        _ type: UnsafeMutablePointer<git_object_t>,
        _ context: StoreBackendContext,
        _ id: ObjectID,
        _ backend: UnsafeMutablePointer<git_odb_backend>
    ) -> Int32 {
        let store = context.store
        guard let kind = kind(of: id, in: store) else { return notFound(id) }
        do throws(StoreError) {
            if kind == .manifest {
                let manifest = try store.manifest(forBlob: id)
                let size = Int(manifest.size)
                // libgit2 wants a buffer even for empty content.
                guard let buffer = git_odb_backend_data_alloc(backend, max(size, 1)) else {
                    return fail("out of memory reading blob \(id)")
                }
                var offset = 0
                for reference in manifest.chunks {
                    let chunk = try store.chunk(reference.id)
                    guard chunk.count == Int(reference.length), offset + chunk.count <= size else {
                        git_odb_backend_data_free(backend, buffer)
                        return fail("blob \(id): chunk \(reference.id) differs from its manifest")
                    }
                    chunk.withUnsafeBytes { bytes in
                        // SAFETY: `buffer` holds `size` bytes and `offset + chunk.count <= size` was checked.
                        (buffer + offset).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                    }
                    offset += chunk.count
                }
                data.pointee = buffer
                length.pointee = size
            } else {
                let bytes = try store.get(RecordKey(kind, object: id))
                guard let buffer = git_odb_backend_data_alloc(backend, max(bytes.count, 1)) else {
                    return fail("out of memory reading \(kind) \(id)")
                }
                bytes.withUnsafeBytes { raw in
                    // SAFETY: `buffer` holds at least `raw.count` bytes; an empty record copies nothing.
                    if let base = raw.baseAddress { buffer.copyMemory(from: base, byteCount: raw.count) }
                }
                data.pointee = buffer
                length.pointee = bytes.count
            }
            type.pointee = objectType(kind)
            return 0
        } catch {
            if case .notFound = error { return notFound(id) }
            return fail("reading \(id): \(error)")
        }
    }

    private static func readHeader(
        _ length: UnsafeMutablePointer<Int>,
        _ type: UnsafeMutablePointer<git_object_t>,
        _ context: StoreBackendContext,
        _ id: ObjectID
    ) -> Int32 {
        let store = context.store
        guard let kind = kind(of: id, in: store) else { return notFound(id) }
        if kind == .manifest {
            do throws(StoreError) {
                length.pointee = Int(try store.manifest(forBlob: id).size)
            } catch {
                return fail("reading the manifest of \(id): \(error)")
            }
        } else {
            guard let raw = store.rawLength(of: RecordKey(kind, object: id)) else { return notFound(id) }
            length.pointee = raw
        }
        type.pointee = objectType(kind)
        return 0
    }

    private static func write(
        _ context: StoreBackendContext,
        _ id: ObjectID,
        _ bytes: UnsafeRawBufferPointer,
        _ type: git_object_t
    ) -> Int32 {
        let store = context.store
        do throws(StoreError) {
            switch type {
            case GIT_OBJECT_BLOB:
                let key = RecordKey(.manifest, object: id)
                if store.contains(key), !store.isClaimed(key) { return 0 }
                let manifest = try store.ingest(MemoryByteSource(Array(bytes)))
                try store.put(manifest.encoded(), key: key)
            case GIT_OBJECT_TREE:
                try store.put(bytes, key: RecordKey(.tree, object: id))
            case GIT_OBJECT_COMMIT:
                try store.put(bytes, key: RecordKey(.commit, object: id))
            case GIT_OBJECT_TAG:
                try store.put(bytes, key: RecordKey(.tag, object: id))
            default:
                return fail("object \(id) has an unsupported type \(type.rawValue)")
            }
            return 0
        } catch {
            return fail("writing \(id): \(error)")
        }
    }
}
