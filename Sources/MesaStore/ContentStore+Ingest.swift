import Dispatch
package import MesaCore
import Synchronization
import SystemPackage

// Ingest: stream a file through the chunker and store every chunk, with `threads` workers (ParallelChunking).

extension ContentStore {
    /// Chunks `source`, stores every chunk, and returns the content's manifest.
    ///
    /// - Parameters:
    ///   - source: the content.
    ///   - threads: workers hashing and compressing in parallel (at least 1).
    ///   - pinned: pin every chunk (the upload pipeline keeps unsent content this way).
    ///   - observe: called with each chunk's bytes in stream order, one at a time (for a streaming hash of the whole
    ///     content, such as a git blob id).
    /// - Returns: the manifest; storing it under a key is the caller's business.
    package func ingest<Source: ByteSource & Sendable>(
        _ source: Source,
        threads: Int = 1,
        pinned: Bool = false,
        observe: (@Sendable (UnsafeRawBufferPointer) -> Void)? = nil
    ) throws(StoreError) -> Manifest {
        let chunks = try ParallelChunking.map(source, threads: threads, observe: observe) {
            (_, bytes) throws(StoreError) in
            ChunkRef(id: try self.putChunk(bytes), length: UInt32(bytes.count))
        }
        if pinned { try pin(chunks.map { RecordKey(chunk: $0.id) }) }
        return Manifest(chunks: chunks)
    }

    /// Ingests the file at `path`. See ``ingest(_:threads:pinned:observe:)``.
    package func ingest(
        fileAt path: String,
        threads: Int = 1,
        pinned: Bool = false,
        observe: (@Sendable (UnsafeRawBufferPointer) -> Void)? = nil
    ) throws(StoreError) -> Manifest {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(path, .readOnly)
        } catch {
            throw .io(operation: "open", path: path, errno: error as? Errno ?? .ioError)
        }
        defer { try? descriptor.close() }
        return try ingest(
            FileByteSource(descriptor: descriptor, path: path), threads: threads, pinned: pinned, observe: observe)
    }

    /// Ingests in-memory bytes on the calling thread.
    package func ingest(bytes: [UInt8], pinned: Bool = false) throws(StoreError) -> Manifest {
        try ingest(MemoryByteSource(bytes), threads: 1, pinned: pinned)
    }

    /// Reads `range` of the content a manifest describes, fetching only the chunks that overlap it.
    /// - Throws: ``StoreError/invalidArgument(_:)`` for a range outside the content; a missing or corrupt chunk.
    package func read(_ manifest: Manifest, range: Range<Int64>) throws(StoreError) -> [UInt8] {
        guard range.lowerBound >= 0, range.upperBound <= manifest.size else {
            throw .invalidArgument("range \(range) is outside the content's \(manifest.size) bytes")
        }
        var output = [UInt8]()
        output.reserveCapacity(Int(range.count))
        for index in manifest.chunkIndices(covering: range) {
            let reference = manifest.chunks[index]
            let bytes = try chunk(reference.id)
            guard bytes.count == Int(reference.length) else {
                throw .corruptRecord(RecordKey(chunk: reference.id), reason: "length differs from the manifest")
            }
            let start = manifest.offset(ofChunk: index)
            let lower = Int(max(range.lowerBound, start) - start)
            let upper = Int(min(range.upperBound, start + Int64(reference.length)) - start)
            output.append(contentsOf: bytes[lower..<upper])
        }
        return output
    }

    /// Reads all the content a manifest describes.
    package func read(_ manifest: Manifest) throws(StoreError) -> [UInt8] {
        try read(manifest, range: 0..<manifest.size)
    }
}

extension ContentStore {
    /// Ingests a file as a git blob: stores its chunks and its manifest, the manifest keyed by the git blob id
    /// (SHA-1 of `blob <size>\0` and the content, computed while streaming; DESIGN.md section 3).
    /// - Returns: the blob id and the manifest.
    package func ingestBlob(
        fileAt path: String,
        threads: Int = 1,
        pinned: Bool = false
    ) throws(StoreError) -> (blobID: ObjectID, manifest: Manifest) {
        let size = try StoreFile(path: path, readOnly: true).size()
        let hasher = Mutex(GitBlobHasher(size: size))
        let manifest = try ingest(fileAt: path, threads: threads, pinned: pinned) { bytes in
            hasher.withLock { $0.update(bytes) }
        }
        guard manifest.size == size else {
            throw .invalidArgument("\(path) changed size while it was being read")
        }
        let blobID = hasher.withLock { $0.finalize() }
        let key = RecordKey(.manifest, object: blobID)
        try put(manifest.encoded(), key: key)
        if pinned { try pin([key]) }
        return (blobID, manifest)
    }

    /// Reads the manifest stored under a git blob id.
    package func manifest(forBlob blobID: ObjectID) throws(StoreError) -> Manifest {
        let key = RecordKey(.manifest, object: blobID)
        guard let manifest = Manifest(decoding: try get(key)) else {
            throw .corruptRecord(key, reason: "not a valid manifest")
        }
        return manifest
    }
}
