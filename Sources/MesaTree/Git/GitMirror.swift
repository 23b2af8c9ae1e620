import CGit2
package import MesaCore
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

// A scratch bare git repository on disk that stands between a repo and its upstream remote (the server's upstream
// syncs, docs/Protocol.md "Upstream remotes"). A pull fetches the remote's branches into it and imports from it with
// the importer `mesa import` uses; a push exports commits into it and pushes them from it. Network and local
// transports are libgit2's (`https://`, `http://`, `git://`, `file://`). Credentials reach libgit2 only through the
// credential callback, never through the URL or the repository's configuration, so nothing on disk holds them.
//
// A mirror is used by one thread at a time (libgit2 handles are not thread-safe; STYLE.md section 5.12): the server
// runs at most one sync per repo, and each sync opens its own mirror.

/// HTTP basic credentials for a remote.
package struct RemoteCredential: Sendable, Hashable {
    package var username: String
    package var password: String

    /// Creates a credential.
    package init(username: String, password: String) {
        self.username = username
        self.password = password
    }
}

/// What pushing one branch did.
package enum RemotePushStatus: Sendable, Hashable {
    /// The remote took it.
    case accepted
    /// The remote refused it, saying why (for example a non-fast-forward or a protected branch).
    case refused(String)
}

/// A bare git repository used to fetch from and push to one remote; freed in `deinit`.
package final class GitMirror {
    /// Where the repository is.
    package let path: String
    private let repository: OpaquePointer

    /// Opens the bare repository at `path`, creating it (and its parents) when it does not exist.
    /// - Throws: ``TreeError/git(operation:code:message:)`` when libgit2 cannot open or create it.
    package init(path: String) throws(TreeError) {
        try GitRuntime.ensureInitialized()
        self.path = path
        var repository: OpaquePointer?
        if git_repository_open_bare(&repository, path) < 0 {
            try FileSystem.makeDirectories(path)
            try GitError.check(git_repository_init(&repository, path, 1), operation: "git_repository_init")
        }
        guard let repository else { throw .invalidArgument("git_repository_init returned no repository") }
        self.repository = repository
    }

    deinit {
        git_repository_free(repository)
    }

    /// The ref a fetched branch is kept under.
    package static func trackingRef(ofBranch name: String) -> String { "refs/remotes/upstream/" + name }

    /// Fetches every branch of the remote at `url` into ``trackingRef(ofBranch:)`` refs.
    /// - Returns: each branch's name (without `refs/heads/`) and tip, as the remote advertised them.
    /// - Throws: ``TreeError/git(operation:code:message:)`` naming the libgit2 call that failed (an unreachable
    ///   remote, refused credentials).
    package func fetchBranches(url: String, credential: RemoteCredential?) throws(TreeError) -> [String: ObjectID] {
        let remote = try anonymousRemote(url)
        defer { git_remote_free(remote) }
        let context = CallbackContext(credential: credential)
        var options = git_fetch_options()
        try GitError.check(
            git_fetch_options_init(&options, UInt32(GIT_FETCH_OPTIONS_VERSION)),
            operation: "git_fetch_options_init"
        )
        options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE
        options.update_fetchhead = 0
        let code = withExtendedLifetime(context) {
            Self.install(context, into: &options.callbacks)
            return StringArray(["+refs/heads/*:" + Self.trackingRef(ofBranch: "*")]).withArray { refspecs in
                git_remote_fetch(remote, &refspecs, &options, nil)
            }
        }
        try GitError.check(code, operation: "git_remote_fetch")
        var heads: UnsafeMutablePointer<UnsafePointer<git_remote_head>?>?
        var count = 0
        try GitError.check(git_remote_ls(&heads, &count, remote), operation: "git_remote_ls")
        var branches: [String: ObjectID] = [:]
        for index in 0..<count {
            // SAFETY: libgit2 keeps the advertised heads alive with the remote, freed after this loop (defer above).
            guard let head = heads?[index]?.pointee, let cName = head.name else { continue }
            let name = String(cString: cName)
            guard name.hasPrefix("refs/heads/") else { continue }
            branches[String(name.dropFirst(11))] = ObjectID(head.oid)
        }
        return branches
    }

    /// Whether the mirror has the object.
    package func contains(_ id: ObjectID) -> Bool {
        var odb: OpaquePointer?
        guard git_repository_odb(&odb, repository) == 0, let odb else { return false }
        defer { git_odb_free(odb) }
        var oid = id.gitOID
        return git_odb_exists(odb, &oid) == 1
    }

    /// Whether `commit` has `ancestor` in its history (`git_graph_descendant_of`); `false` when the mirror lacks
    /// either.
    package func isDescendant(_ commit: ObjectID, of ancestor: ObjectID) -> Bool {
        guard contains(commit), contains(ancestor) else { return false }
        var descendant = commit.gitOID
        var base = ancestor.gitOID
        return git_graph_descendant_of(repository, &descendant, &base) == 1
    }

    /// Writes an object into the mirror's database (`git_odb_write`), checking that it hashes to `id`.
    func write(_ body: [UInt8], type: git_object_t, expecting id: ObjectID) throws(TreeError) {
        var odb: OpaquePointer?
        try GitError.check(git_repository_odb(&odb, repository), operation: "git_repository_odb")
        defer { git_odb_free(odb) }
        var oid = git_oid()
        let code = body.withUnsafeBytes { raw in git_odb_write(&oid, odb, raw.baseAddress, raw.count, type) }
        try GitError.check(code, operation: "git_odb_write")
        guard ObjectID(oid) == id else {
            throw .invalidArgument("object \(id.hex) hashed to \(ObjectID(oid).hex) when written to the mirror")
        }
    }

    /// Pushes commits the mirror has to branches of the remote at `url`, without force: the remote refuses what is
    /// not a fast-forward of its branch.
    /// - Parameter branches: branch names (without `refs/heads/`) and the commits they are to point at.
    /// - Returns: per branch, whether the remote took it.
    /// - Throws: ``TreeError/git(operation:code:message:)`` for a failed connection or transfer.
    package func push(
        url: String,
        credential: RemoteCredential?,
        branches: [(name: String, commit: ObjectID)]
    ) throws(TreeError) -> [String: RemotePushStatus] {
        guard !branches.isEmpty else { return [:] }
        for (name, commit) in branches {
            var reference: OpaquePointer?
            var oid = commit.gitOID
            try GitError.check(
                git_reference_create(&reference, repository, "refs/heads/" + name, &oid, 1, "mesa upstream push"),
                operation: "git_reference_create"
            )
            git_reference_free(reference)
        }
        let remote = try anonymousRemote(url)
        defer { git_remote_free(remote) }
        let context = CallbackContext(credential: credential)
        var options = git_push_options()
        try GitError.check(
            git_push_options_init(&options, UInt32(GIT_PUSH_OPTIONS_VERSION)),
            operation: "git_push_options_init"
        )
        let refspecs = branches.map { "refs/heads/\($0.name):refs/heads/\($0.name)" }
        let code = withExtendedLifetime(context) {
            Self.install(context, into: &options.callbacks)
            options.callbacks.push_update_reference = { name, status, payload in
                guard let name, let payload else { return 0 }
                // SAFETY: the payload is the CallbackContext kept alive by `withExtendedLifetime` around the push.
                let context = Unmanaged<CallbackContext>.fromOpaque(payload).takeUnretainedValue()
                let outcome = status.map { RemotePushStatus.refused(String(cString: $0)) } ?? RemotePushStatus.accepted
                context.statuses[String(cString: name)] = outcome
                return 0
            }
            return StringArray(refspecs).withArray { array in git_remote_push(remote, &array, &options) }
        }
        try GitError.check(code, operation: "git_remote_push")
        var result: [String: RemotePushStatus] = [:]
        for (name, _) in branches {
            // A ref libgit2 reported nothing for was not updated.
            result[name] = context.statuses["refs/heads/" + name] ?? .refused("the remote did not report the ref")
        }
        return result
    }

    private func anonymousRemote(_ url: String) throws(TreeError) -> OpaquePointer {
        var remote: OpaquePointer?
        try GitError.check(
            git_remote_create_anonymous(&remote, repository, url),
            operation: "git_remote_create_anonymous"
        )
        guard let remote else { throw .invalidArgument("git_remote_create_anonymous returned no remote") }
        return remote
    }

    /// Points the callbacks' payload at `context` and installs the credential callback when there is a credential.
    private static func install(_ context: CallbackContext, into callbacks: inout git_remote_callbacks) {
        // SAFETY: callers keep `context` alive (`withExtendedLifetime`) for as long as libgit2 may call back.
        callbacks.payload = Unmanaged.passUnretained(context).toOpaque()
        guard context.credential != nil else { return }
        callbacks.credentials = { out, _, _, allowed, payload in
            guard let out, let payload else { return GIT_PASSTHROUGH.rawValue }
            // SAFETY: as above, the payload is the live CallbackContext.
            let context = Unmanaged<CallbackContext>.fromOpaque(payload).takeUnretainedValue()
            context.credentialRequests += 1
            // libgit2 asks again after a refusal; a second request means the credential was refused.
            guard let credential = context.credential, context.credentialRequests == 1,
                allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT.rawValue != 0
            else {
                // Without a message of its own, libgit2 would report whatever error it last recorded.
                _ = git_error_set_str(Int32(GIT_ERROR_NET.rawValue), "the remote refused the credentials")
                return GIT_EAUTH.rawValue
            }
            return git_credential_userpass_plaintext_new(out, credential.username, credential.password)
        }
    }
}

/// What libgit2's callbacks read and record during one fetch or push (used by that call's thread only).
private final class CallbackContext {
    let credential: RemoteCredential?
    var credentialRequests = 0
    var statuses: [String: RemotePushStatus] = [:]

    init(credential: RemoteCredential?) { self.credential = credential }
}

/// A `git_strarray` over copies of Swift strings, freed after use.
private struct StringArray {
    let strings: [String]

    init(_ strings: [String]) { self.strings = strings }

    func withArray<T>(_ body: (inout git_strarray) -> T) -> T {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeMutableBufferPointer { buffer in
            var array = git_strarray(strings: buffer.baseAddress, count: buffer.count)
            return body(&array)
        }
    }
}

extension FileSystem {
    /// Creates `path` and its parents (mode 0755), accepting those that exist.
    static func makeDirectories(_ path: String) throws(TreeError) {
        var current = ""
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            current += (path.hasPrefix("/") || !current.isEmpty ? "/" : "") + part
            if mkdir(current, 0o755) == 0 { continue }
            let code = errno
            guard code == EEXIST else { throw .io(operation: "mkdir", path: current, errno: Errno(rawValue: code)) }
        }
    }
}

extension MesaRepository {
    /// Writes `commits` and everything they reach that the mirror lacks into it: commits and trees byte for byte,
    /// blobs from their chunks (the git counterpart of ``export(_:to:)``). Objects are written children first
    /// (blobs and subtrees before their tree, the tree and parents before their commit), so an object the mirror has
    /// implies everything below it, and the walk does not enter it: an export cut short resumes without holes.
    /// - Returns: how many objects were written.
    /// - Throws: ``TreeError/objectNotFound(_:)`` for a record the store lacks, libgit2 errors.
    @discardableResult
    package func exportGit(_ commits: [ObjectID], to mirror: GitMirror) throws(TreeError) -> Int {
        var written = 0
        var seen = Set<ObjectID>()
        func exportTree(_ id: ObjectID) throws(TreeError) {
            guard seen.insert(id).inserted, !mirror.contains(id) else { return }
            for entry in try tree(id) {
                switch entry.mode {
                case .directory:
                    try exportTree(entry.id)
                case .regular, .executable, .symlink:
                    guard seen.insert(entry.id).inserted, !mirror.contains(entry.id) else { continue }
                    try mirror.write(try readBlob(entry.id), type: GIT_OBJECT_BLOB, expecting: entry.id)
                    written += 1
                case .submodule:
                    continue
                }
            }
            try mirror.write(try treeBody(id), type: GIT_OBJECT_TREE, expecting: id)
            written += 1
        }
        // Commits parents first: an iterative post-order over the parent graph (histories can be long).
        var stack: [(ObjectID, Bool)] = commits.reversed().map { ($0, false) }
        while let (id, expanded) = stack.popLast() {
            if expanded {
                try exportTree(try commit(id).tree)
                try mirror.write(try commitBytes(id), type: GIT_OBJECT_COMMIT, expecting: id)
                written += 1
                continue
            }
            guard seen.insert(id).inserted, !mirror.contains(id) else { continue }
            stack.append((id, true))
            for parent in try commit(id).parents.reversed() where !seen.contains(parent) {
                stack.append((parent, false))
            }
        }
        return written
    }
}
