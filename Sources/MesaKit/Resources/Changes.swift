public import MesaWire

extension Mesa {
    /// The changes of one repository: `/{org}/{repo}/changes`.
    public struct Changes: Sendable {
        let client: RESTClient
        /// The repository's name.
        public let repo: String

        /// One page of changes, optionally those of one bookmark's history (`GET .../changes?bookmark=`).
        public func list(bookmark: String? = nil, limit: Int? = nil, cursor: String? = nil) async throws(KitError)
            -> Page<Change>
        {
            let org = try await client.org()
            let query = [("bookmark", bookmark)] + pageQuery(limit: limit, cursor: cursor)
            return try await client.json(.get, [org, repo, "changes"], query: query)
        }

        /// Every change (of `bookmark`), fetching pages as the sequence is read.
        public func all(bookmark: String? = nil, pageSize: Int? = nil) -> PageSequence<Change> {
            PageSequence { cursor throws(KitError) in
                try await list(bookmark: bookmark, limit: pageSize, cursor: cursor)
            }
        }

        /// Creates a change on top of `baseChangeID` with the given file operations, applied atomically
        /// (`POST .../changes`, 201).
        public func create(_ request: CreateChangeRequest) async throws(KitError) -> Change {
            let org = try await client.org()
            return try await client.json(.post, [org, repo, "changes"], body: request)
        }

        /// Creates a change on top of `base` (a change id) with the given files.
        public func create(
            base: String,
            message: String? = nil,
            files: [FileOperation] = [],
            author: Signature? = nil
        ) async throws(KitError) -> Change {
            try await create(CreateChangeRequest(baseChangeID: base, message: message, author: author, files: files))
        }

        /// One change, with its `files` and `conflicts` (`GET .../changes/{id}`).
        public func get(_ id: String) async throws(KitError) -> Change {
            let org = try await client.org()
            return try await client.json(.get, [org, repo, "changes", id])
        }

        /// Evolves a change: new commit, same id (`PATCH .../changes/{id}`).
        public func update(_ id: String, _ request: UpdateChangeRequest) async throws(KitError) -> Change {
            let org = try await client.org()
            return try await client.json(.patch, [org, repo, "changes", id], body: request)
        }
    }
}

extension FileOperation {
    /// Writes `bytes` at `path` (an upsert, base64-encoded for the wire).
    /// - Parameter executable: mode `100755` instead of `100644`.
    public static func upsert(_ path: String, bytes: some Collection<UInt8>, executable: Bool = false) -> FileOperation
    {
        FileOperation(
            path: path,
            content: Base64.encode(Array(bytes)),
            encoding: "base64",
            action: "upsert",
            mode: executable ? "100755" : "100644"
        )
    }

    /// Writes UTF-8 `text` at `path`.
    public static func upsert(_ path: String, text: String, executable: Bool = false) -> FileOperation {
        upsert(path, bytes: Array(text.utf8), executable: executable)
    }

    /// Deletes `path`.
    public static func delete(_ path: String) -> FileOperation {
        FileOperation(path: path, action: "delete")
    }
}
