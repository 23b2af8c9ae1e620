import HTTPTypes
import MesaCore
import MesaTree
import MesaWire

extension APIError {
    /// The one mapping from tree-model errors to HTTP statuses and codes.
    init(_ error: TreeError) {
        switch error {
        case .notFound(let path): self = .notFound("no file or directory at '\(path)'")
        case .objectNotFound(let id): self = .notFound("object \(id) does not exist")
        case .changeNotFound(let id): self = .notFound("change \(id) does not exist")
        case .bookmarkNotFound(let name): self = .notFound("bookmark '\(name)' does not exist")
        case .staleChange(let id, _, let current):
            self = .conflict(
                "change \(id) moved to commit \(current?.hex ?? "none")", code: "STALE_CHANGE",
                details: ["current_commit_oid": current.map { .string($0.hex) } ?? .null])
        case .staleBookmark(let name, _, let current):
            self = .conflict(
                "bookmark '\(name)' moved to \(current?.description ?? "nothing")", code: "STALE_BOOKMARK",
                details: ["current_change_id": current.map { .string($0.description) } ?? .null])
        case .invalid(let failure):
            self = APIError(
                .badRequest, Self.code(of: failure.rule), failure.description,
                details: ["rule": .string(failure.rule.rawValue), "path": .string(failure.location)])
        case .invalidArgument(let message): self = .badRequest(message)
        case .wrongObjectKind(let id, let expected): self = .badRequest("object \(id) is not a \(expected)")
        case .store, .git, .corruptObject, .io, .catalog: self = .internalError("\(error)")
        }
    }

    /// The error code of a validation rule: what kind of input broke it.
    static func code(of rule: ValidationRule) -> String {
        switch rule {
        case .emptyName, .dotName, .slashInName, .nulInName, .controlCharacter, .backslash, .dotGit, .nameTooLong,
            .notUTF8, .emptyPath, .absolutePath, .pathTooLong, .pathTooDeep:
            "INVALID_PATH"
        case .badMode, .unsortedEntries, .duplicateEntry, .malformedTree, .entryKindMismatch, .gitMetadataSymlink:
            "INVALID_TREE"
        case .malformedCommit, .badSignature, .missingParent:
            "INVALID_COMMIT"
        case .unsupportedRecord:
            "INVALID_RECORD"
        }
    }
}
