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
    /// A dirty path of an upload breaks a rule the server enforces (a `.git` component, a NUL or `/` in a name, a
    /// path too long or too deep, a git metadata file as a symlink): the upload is refused before anything is built.
    case invalidPath(path: String, failure: ValidationFailure)
    /// The server refused a push (a 4xx other than a stale expectation, or a 5xx): sending it again as it is will
    /// not help. `code` is Mesa's error code (`INVALID_TREE`, `RECORDS_RECLAIMED`, ...).
    case pushRefused(status: Int?, code: String?, message: String)

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
        case .invalidPath(let path, let failure): "the path '\(path)' cannot be uploaded: \(failure)"
        case .pushRefused(let status, let code, let message):
            "the server refused the push (\(status.map(String.init) ?? "no status") \(code ?? "")): \(message)"
        }
    }
}
