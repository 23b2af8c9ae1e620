package import MesaCore
import Synchronization

// Manifest claims. A manifest is keyed by its git blob id, a SHA-1 over the whole content, so recomputing it reads
// every chunk: a server that checked a 1-byte edit of a 1 GiB file that way would read 1 GiB per edit. A receiver may
// instead store a pushed manifest as a *claim*: its chunks are verified records of the store (SHA-256) and the lengths
// it lists are theirs, so the bytes it names are exactly known; only the name, "these bytes hash to this blob id", is
// the pusher's word. Claims persist in the pin log.
//
// A claim never outranks a verified writer. Whoever stores a manifest under an id it computed itself (``put(_:key:)``:
// REST content, merges, imports) settles the claim: the same manifest confirms it; another one replaces it, so a false
// claim can never stand in for content someone later writes for real. Dedup paths that return early on a present
// manifest check ``isClaimed(_:)`` first. `mesa debug store fsck --deep` recomputes every manifest, claims included.

extension ContentStore {
    /// Stores a manifest record whose key was not recomputed from its content, marked as a claim.
    /// The caller has checked that its chunks are stored with the lengths it lists.
    /// - Returns: `true` when the record was new (a present record is left as it is, claimed or not).
    @discardableResult
    package func putClaimed(_ record: StoredRecord) throws(StoreError) -> Bool {
        guard record.key.kind == .manifest else { throw .invalidArgument("only manifests are claimed") }
        guard try putStored(record) else { return false }
        try state.withLock { (state) throws(StoreError) in
            guard !state.closed else { throw .closed }
            try state.pinLog.setClaimed([record.key], claimed: true)
        }
        return true
    }

    /// Whether the record stored under `key` is a claim (its id was not recomputed).
    package func isClaimed(_ key: RecordKey) -> Bool {
        state.withLock { $0.pinLog.claims.contains(key) && $0.entries[key] != nil }
    }

    /// Every claimed key.
    package func claimedKeys() -> [RecordKey] {
        state.withLock { state in state.pinLog.claims.filter { state.entries[$0] != nil } }
    }

    /// Marks a claim as verified (its blob id was recomputed and matched).
    package func confirmClaim(_ key: RecordKey) throws(StoreError) {
        try state.withLock { (state) throws(StoreError) in
            guard !state.closed else { throw .closed }
            try state.pinLog.setClaimed([key], claimed: false)
        }
    }

    /// Replaces a claimed record with a verified one under the same key (the claim was false, or named other chunks).
    package func replaceClaim(with record: StoredRecord) throws(StoreError) {
        try remove([record.key])
        try confirmClaim(record.key)
        try putStored(record)
    }

    /// Settles a claim on `key` for a writer that computed the key from the content `bytes` (a manifest) describe:
    /// the same manifest confirms the claim, another replaces the claimed record.
    /// - Returns: `true` when the claimed record was removed and the caller stores its own.
    func settleClaim(_ key: RecordKey, byVerified bytes: UnsafeRawBufferPointer) throws(StoreError) -> Bool {
        guard key.kind == .manifest, isClaimed(key) else { return false }
        if try get(key).elementsEqual(bytes) {
            try confirmClaim(key)
            return false
        }
        try remove([key])
        try confirmClaim(key)
        return true
    }
}
