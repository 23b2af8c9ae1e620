import Foundation
package import MesaCore
package import MesaKit
package import MesaStore
package import MesaWire

// The remote side of a mount's object source: MesaSync's `RemoteFetcher` over MesaKit's sync client. Records arrive
// from MesaKit's event loop and are stored on the blocking pool in batches, never on the cooperative pool.
//
// Verification: chunks (SHA-256), trees and commits (git SHA-1) are verified before they enter the cache. A manifest
// is keyed by its file's git blob id, which only the whole content can prove, and a lazy mount fetches manifests
// (for sizes and chunk lists) long before their chunks; so a manifest whose chunks are not all cached is stored once
// it decodes, and is verified in full when its chunks are already there. Its chunks are each verified when fetched,
// so no unverified byte is ever served; what a manifest alone could misstate is which verified chunks make a file.

/// Fetches a repository's trees, manifests and chunks from a Mesa server through the sync protocol.
package struct SyncRemoteFetcher: RemoteFetcher {
    /// The repository's sync client.
    package let sync: Mesa.Sync
    private let pool: BlockingPool

    /// Creates a fetcher for one repository.
    package init(sync: Mesa.Sync, pool: BlockingPool = .shared) {
        self.sync = sync
        self.pool = pool
    }

    package func resolve(_ revision: Revision) async throws(SyncError) -> Resolution {
        let result: ResolveResult
        do {
            result = try await sync.resolve([revision.description], conditional: false)
        } catch {
            throw Self.map(error, operation: "resolve")
        }
        guard let resolution = result.resolutions.first else { throw .revisionNotFound(revision) }
        return try Self.resolution(resolution, revision: revision)
    }

    package func lookup(revision: Revision, path: [FileName], into cache: ContentStore) async throws(SyncError)
        -> MesaSync.LookupResult
    {
        let answer: MesaKit.LookupResult
        do {
            answer = try await sync.lookup(revision: revision.description, path: path.map(\.description).joined(separator: "/"))
        } catch {
            throw Self.map(error, operation: "lookup")
        }
        _ = try await store(answer.records, into: cache, operation: "lookup")
        let header = answer.header
        let resolution = try Self.resolution(header.resolution, revision: revision)
        var entry: SourceEntry?
        if let type = header.type, let idText = header.id, let id = ObjectID(hex: idText), let name = path.last {
            let kind: EntryKind
            switch (type, header.mode) {
            case ("dir", _): kind = .directory
            case ("symlink", _): kind = .symlink
            case (_, "100755"): kind = .executable
            default: kind = .regular
            }
            entry = SourceEntry(name: name, kind: kind, id: id)
        }
        return MesaSync.LookupResult(resolution: resolution, entry: entry, size: header.size)
    }

    package func fetchTrees(roots: [ObjectID], depth: Int?, into cache: ContentStore) async throws(SyncError)
        -> FetchSummary
    {
        let stream: SyncRecordStream
        do {
            stream = try await sync.trees(roots: roots, depth: depth)
        } catch {
            throw Self.map(error, operation: "trees")
        }
        return try await store(stream, into: cache, operation: "trees")
    }

    package func fetchRecords(keys: [RecordKey], into cache: ContentStore) async throws(SyncError) -> FetchSummary {
        guard !keys.isEmpty else { return FetchSummary() }
        let stream: SyncRecordStream
        do {
            stream = try await sync.objects(keys: keys)
        } catch {
            throw Self.map(error, operation: "objects")
        }
        return try await store(stream, into: cache, operation: "objects")
    }

    package func fetchSubtree(
        tree: ObjectID, maxBytes: Int64, maxFileBytes: Int64, into cache: ContentStore
    ) async throws(SyncError) -> FetchSummary {
        let stream: SyncRecordStream
        do {
            stream = try await sync.objects(
                keys: [], subtree: SubtreeContent(tree: tree.hex, maxBytes: maxBytes, maxFileBytes: maxFileBytes))
        } catch {
            throw Self.map(error, operation: "subtree")
        }
        return try await store(stream, into: cache, operation: "subtree")
    }

    /// Verifies and stores a record stream in batches on the blocking pool.
    private func store(_ stream: SyncRecordStream, into cache: ContentStore, operation: String) async throws(SyncError)
        -> FetchSummary
    {
        let receiver = ReceiverBox(store: cache)
        var batch: [SyncRecord] = []
        var batchBytes = 0
        var summary = FetchSummary()
        func flush() async throws(SyncError) {
            let records = batch
            batch.removeAll()
            batchBytes = 0
            summary.records += records.count
            summary.bytes += records.reduce(0) { $0 + Int64($1.rawLength) }
            let decoded = try await pool.run { () throws(SyncError) -> FetchSummary in
                do throws(StoreError) {
                    var converted: [StoredRecord] = []
                    converted.reserveCapacity(records.count)
                    for record in records { converted.append(try StoredRecord(record)) }
                    return try receiver.receive(converted)
                } catch {
                    throw .store(error)
                }
            }
            summary.manifests.merge(decoded.manifests) { first, _ in first }
            summary.trees.merge(decoded.trees) { first, _ in first }
            summary.chunks.merge(decoded.chunks) { first, _ in first }
        }
        do {
            for try await record in stream {
                // Batches of up to 1 MiB or 1,024 records: one pool job and one store lock round each.
                batch.append(record)
                batchBytes += record.stored.count
                if batch.count >= 1024 || batchBytes >= 1 << 20 { try await flush() }
            }
        } catch let error as SyncError {
            throw error
        } catch {
            throw Self.map(error, operation: operation)
        }
        try await flush()
        return summary
    }

    /// A resolution from the sync protocol's answer.
    package static func resolution(_ resolution: RevisionResolution, revision: Revision) throws(SyncError) -> Resolution {
        guard let change = ChangeID(parsing: resolution.changeID), let root = ObjectID(hex: resolution.rootTree) else {
            throw .remote(operation: "resolve", message: "the server answered a malformed resolution")
        }
        return Resolution(
            revision: revision, change: change, commit: ObjectID(hex: resolution.commit), rootTree: root,
            commitTime: resolution.commitTime)
    }

    static func map(_ error: any Error, operation: String) -> SyncError {
        if let error = error as? KitError {
            if case .cancelled = error { return .cancelled }
            if error.status == 404 { return .remote(operation: operation, message: "not found: \(error)") }
        }
        return .remote(operation: operation, message: "\(error)")
    }
}

/// A verifying receiver shared by the batches of one stream (one batch at a time touches it).
private final class ReceiverBox: @unchecked Sendable {
    // SAFETY: `store(_:into:operation:)` awaits each batch before starting the next, so the box is never used from
    // two threads at once.
    private let store: ContentStore

    init(store: ContentStore) {
        self.store = store
    }

    /// Stores one batch of a fetch: chunks, trees and commits verified by hash and stored together (one lock round
    /// for the batch), then each manifest, verified through its chunks when they are all stored by now, and otherwise
    /// stored as it decodes (a lazy mount needs sizes and chunk lists before content; every chunk is verified when it
    /// comes, so no unverified byte is ever served).
    /// - Returns: the manifests and trees of the batch, decoded.
    func receive(_ records: [StoredRecord]) throws(StoreError) -> FetchSummary {
        var decoded = FetchSummary()
        var hashed: [StoredRecord] = []
        var manifests: [(record: StoredRecord, chunks: [RecordKey])] = []
        for record in records {
            guard record.key.kind == .manifest else {
                hashed.append(record)
                continue
            }
            guard let manifest = Manifest(decoding: try record.decoded()), let blob = record.key.objectID else {
                throw .corruptRecord(record.key, reason: "not a valid manifest")
            }
            decoded.manifests[blob] = manifest
            manifests.append((record, manifest.chunks.map { RecordKey(chunk: $0.id) }))
        }
        try store.putVerified(hashed) { key, bytes in
            if let chunk = key.chunkID {
                decoded.chunks[chunk] = bytes
            } else if key.kind == .tree, let id = key.objectID,
                let tree = try? StoreObjectSource.decodeTree(bytes, id: id)
            {
                decoded.trees[id] = tree
            }
        }
        guard !manifests.isEmpty else { return decoded }
        let absent = Set(store.missing(manifests.flatMap(\.chunks)))
        var unverified: [StoredRecord] = []
        for (record, chunks) in manifests {
            if chunks.contains(where: absent.contains) {
                unverified.append(record)
            } else {
                try store.putVerified(record)
            }
        }
        try store.putStored(unverified)
        return decoded
    }
}
