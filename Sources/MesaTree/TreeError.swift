package import MesaCore
package import MesaStore
package import SystemPackage

/// Every failure of MesaTree, with the context needed to act on it.
package enum TreeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The content store failed (see ``TreeError/init(_:)``).
    case store(StoreError)
    /// A libgit2 call failed; `operation` names the C function.
    case git(operation: String, code: Int32, message: String)
    /// No entry exists at this path in the tree.
    case notFound(path: String)
    /// No git object with this id is in the store.
    case objectNotFound(ObjectID)
    /// The object exists but is of another kind (a blob where a tree was expected, ...).
    case wrongObjectKind(ObjectID, expected: String)
    /// A stored git object could not be parsed.
    case corruptObject(ObjectID, reason: String)
    /// A name, path, tree or commit breaks a rule of ``TreeValidator`` (names that are not UTF-8 included; the path
    /// is shown with invalid bytes escaped as `\xNN`).
    case invalid(ValidationFailure)
    /// No change with this id is known.
    case changeNotFound(ChangeID)
    /// The change is not at the commit the caller expected (someone else evolved it).
    case staleChange(ChangeID, expected: ObjectID?, current: ObjectID?)
    /// No bookmark with this name exists.
    case bookmarkNotFound(String)
    /// The bookmark does not point where the caller expected.
    case staleBookmark(String, expected: ChangeID?, current: ChangeID?)
    /// A system call failed.
    case io(operation: String, path: String, errno: Errno)
    /// The input is unusable.
    case invalidArgument(String)
    /// The change catalog's storage failed (a database error, busy or I/O): not the caller's fault, worth a retry.
    case catalog(String)

    /// A message that says what failed, with its context.
    package var description: String {
        switch self {
        case .store(let error): "store: \(error)"
        case .git(let operation, let code, let message): "\(operation) failed (\(code)): \(message)"
        case .notFound(let path): "no entry at path '\(path)'"
        case .objectNotFound(let id): "object \(id) is not in the store"
        case .wrongObjectKind(let id, let expected): "object \(id) is not a \(expected)"
        case .corruptObject(let id, let reason): "object \(id) is corrupt: \(reason)"
        case .invalid(let failure): "refused: \(failure)"
        case .changeNotFound(let id): "change \(id) does not exist"
        case .staleChange(let id, let expected, let current):
            "change \(id) is at \(current?.hex ?? "nothing"), not at \(expected?.hex ?? "nothing") as expected"
        case .bookmarkNotFound(let name): "bookmark '\(name)' does not exist"
        case .staleBookmark(let name, let expected, let current):
            "bookmark '\(name)' points at \(current?.description ?? "nothing"), "
                + "not at \(expected?.description ?? "nothing") as expected"
        case .io(let operation, let path, let errno): "\(operation) \(path): \(errno)"
        case .invalidArgument(let message): message
        case .catalog(let message): "the change catalog failed: \(message)"
        }
    }
}
