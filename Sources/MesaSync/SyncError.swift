package import MesaCore
package import MesaStore
package import MesaTree

/// Every failure of MesaSync, with the context needed to act on it.
package enum SyncError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A record that a tree or manifest references is neither in the cache nor obtainable from the remote.
    case objectNotFound(RecordKey)
    /// A revision (bookmark or change) does not exist.
    case revisionNotFound(Revision)
    /// A record's bytes are not what its kind requires (an undecodable tree or manifest).
    case corruptObject(RecordKey, reason: String)
    /// The local content store failed.
    case store(StoreError)
    /// The tree model failed.
    case tree(TreeError)
    /// The remote could not be reached or answered with an error; `operation` names the call.
    case remote(operation: String, message: String)
    /// The waiting task was cancelled (a FUSE interrupt); the shared fetch it waited for goes on for others.
    case cancelled
    /// The blocking pool was shut down.
    case shutDown
    /// The input is unusable.
    case invalidArgument(String)

    /// A message that says what failed.
    package var description: String {
        switch self {
        case .objectNotFound(let key): "\(key) is neither cached nor available from the remote"
        case .revisionNotFound(let revision): "revision '\(revision)' does not exist"
        case .corruptObject(let key, let reason): "\(key) is corrupt: \(reason)"
        case .store(let error): "store: \(error)"
        case .tree(let error): "tree: \(error)"
        case .remote(let operation, let message): "remote \(operation) failed: \(message)"
        case .cancelled: "cancelled"
        case .shutDown: "the object source was shut down"
        case .invalidArgument(let message): message
        }
    }
}
