import Logging
import MesaCore
import MesaStore

// What the server verifies of a pushed manifest (docs/Protocol.md, "What a push is checked for"). Its chunks are
// verified records (SHA-256 on arrival, or present and visible in the repo before) and the lengths it lists must be
// theirs (an index lookup, no read), so the bytes it names are exactly known. Its key, the git blob id, is a SHA-1
// over the whole content: recomputing it reads every chunk. The server does that only while the chunks the manifest
// shares with what the repo had come to at most `manifestVerificationBudget` (a new file, a small edited one): past
// that (a 1-byte edit of a large file) the manifest is stored as a claim (ContentStore+Claims.swift), so an edit costs
// the server what is new, not the file. A claim cannot stand in for other content: a verified writer of the same id
// settles it, and a second, different manifest under a present id is accepted only verified (a false claim then gives
// way).

extension SyncOperations {
    /// Bytes of already-stored chunks the server reads at most to recompute a pushed manifest's blob id.
    static let manifestVerificationBudget: Int64 = 1 << 20

    /// Checks and stores one pushed manifest.
    /// - Returns: whether it was stored for the first time.
    /// - Throws: ``APIError/badRequest(_:)`` for a manifest that is malformed, lists a chunk with another length,
    ///   or is checked and does not spell its blob id.
    func admitManifest(_ record: StoredRecord, _ bytes: [UInt8], state: PushState) throws -> Bool {
        let store = services.store
        guard let manifest = Manifest(decoding: bytes) else {
            throw APIError.badRequest("record \(record.key) is refused: not a valid manifest")
        }
        for chunk in manifest.chunks {
            let length = store.rawLength(of: RecordKey(chunk: chunk.id))
            guard chunk.length > 0, length == Int(chunk.length) else {
                throw APIError.badRequest(
                    "record \(record.key) is refused: it lists chunk \(chunk.id) with length \(chunk.length), not its "
                        + "\(length.map(String.init) ?? "absent") bytes")
            }
        }
        if store.contains(record.key) {
            let current = try store.get(record.key)
            if current == bytes { return false }  // the same manifest: nothing is new
            // Other chunks under a present id: accepted only verified, and then a false claim gives way.
            try refuseUnlessVerified(record.key, bytes)
            if store.isClaimed(record.key) {
                if try store.idMismatch(record.key, current) == nil {
                    try store.confirmClaim(record.key)
                } else {
                    try store.replaceClaim(with: record)
                    services.logger.warning(
                        "a claimed manifest was false and is replaced by a verified one",
                        metadata: ["record": "\(record.key)", "repo": "\(repoID)"])
                }
            }
            return false
        }
        var seen = Set<ChunkID>()
        var shared: Int64 = 0
        for chunk in manifest.chunks where !state.pushed.contains(RecordKey(chunk: chunk.id)) {
            if seen.insert(chunk.id).inserted { shared += Int64(chunk.length) }
        }
        if shared <= Self.manifestVerificationBudget {
            try refuseUnlessVerified(record.key, bytes)
            return try store.putStored(record)
        }
        return try store.putClaimed(record)
    }

    private func refuseUnlessVerified(_ key: RecordKey, _ bytes: [UInt8]) throws {
        if let reason = try services.store.idMismatch(key, bytes) {
            throw APIError.badRequest("record \(key) is refused: \(reason)")
        }
    }
}
