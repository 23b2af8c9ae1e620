import CGit2

/// The one helper that checks libgit2 return codes (STYLE.md section 4).
///
/// libgit2 keeps its last error per thread, so `check` must run on the thread that made the call, right after it,
/// inside the same critical section of the repository handle.
enum GitError {
    /// Returns `code` when it is not negative; otherwise throws ``TreeError/git(operation:code:message:)`` with
    /// libgit2's message, read at once from `git_error_last`.
    /// - Parameters:
    ///   - code: the C function's return code.
    ///   - operation: the C function's name, e.g. `"git_tree_lookup"`.
    @discardableResult
    static func check(_ code: Int32, operation: String) throws(TreeError) -> Int32 {
        guard code < 0 else { return code }
        var message = "unknown error"
        if let last = git_error_last(), let text = last.pointee.message {
            message = String(cString: text)
        }
        throw .git(operation: operation, code: code, message: message)
    }

    /// Whether `code` is libgit2's "not found".
    static func isNotFound(_ code: Int32) -> Bool { code == GIT_ENOTFOUND.rawValue }
}

/// The process-wide libgit2 initialization: `git_libgit2_init` runs once, the first time a repository is made
/// (STYLE.md section 5.12: a `static let` token, never a C constructor). libgit2 is never shut down: handles may
/// live until the process exits.
enum GitRuntime {
    private static let token: Int32 = git_libgit2_init()

    /// Initializes libgit2 if it was not yet.
    /// - Throws: when `git_libgit2_init` failed.
    static func ensureInitialized() throws(TreeError) {
        try GitError.check(token, operation: "git_libgit2_init")
    }
}

extension MesaRepository {
    /// Lets this process write trees whose entries name objects the local store does not have (libgit2 checks every
    /// entry by default, process-wide). A mount needs it: its three-way merges write trees whose unchanged entries
    /// name content its lazy cache never fetched. The server keeps the check; it verifies what every push names.
    package static func allowTreesNamingAbsentObjects() throws(TreeError) {
        try GitRuntime.ensureInitialized()
        try GitError.check(mesa_git_set_strict_object_creation(0), operation: "git_libgit2_opts")
    }
}
