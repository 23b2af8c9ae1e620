public import MesaCore
public import SystemPackage

/// Every failure of MesaStore, with the context needed to act on it.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No record with this key is in the store (never stored, removed or evicted).
    case notFound(RecordKey)
    /// A record failed its checksum or its id check; it is never served.
    case corruptRecord(RecordKey, reason: String)
    /// A file of the store is not in a format this version understands.
    case badFormat(path: String, reason: String)
    /// Another process (or another open handle in this process) holds the store directory.
    case locked(path: String)
    /// A system call failed.
    case io(operation: String, path: String, errno: Errno)
    /// zstd reported an error.
    case compression(operation: String, message: String)
    /// The input is unusable (too large, wrong length, bad range).
    case invalidArgument(String)
    /// The store was closed.
    case closed

    public var description: String {
        switch self {
        case .notFound(let key): "record \(key) is not in the store"
        case .corruptRecord(let key, let reason): "record \(key) is corrupt: \(reason)"
        case .badFormat(let path, let reason): "\(path): \(reason)"
        case .locked(let path):
            "the store at \(path) is in use by another process; stop it or use another --store directory"
        case .io(let operation, let path, let errno): "\(operation) \(path): \(errno)"
        case .compression(let operation, let message): "\(operation): \(message)"
        case .invalidArgument(let message): message
        case .closed: "the store is closed"
        }
    }
}
