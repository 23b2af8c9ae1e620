public import MesaWire

extension Mesa {
    /// The files and directories of one repository at a change: `GET /{org}/{repo}/content`.
    public struct Content: Sendable {
        let client: RESTClient
        /// The repository's name.
        public let repo: String

        /// A file (with its base64 content), a symlink, or a directory with its entries.
        /// - Parameters:
        ///   - path: the path in the repository; `""` is the root directory.
        ///   - changeID: the change to read; the server's default (the default bookmark) when `nil`.
        ///   - depth: how many directory levels to list, 0 to 10.
        public func get(path: String = "", changeID: String? = nil, depth: Int? = nil) async throws(KitError)
            -> ContentEntry
        {
            if let depth, !(0...10).contains(depth) {
                throw .invalidArgument("depth \(depth) is outside 0...10")
            }
            let org = try await client.org()
            return try await client.json(.get, [org, repo, "content"], query: query(path, changeID, depth))
        }

        /// A file's raw bytes (`Accept: application/octet-stream`; a directory is a 406 error).
        public func bytes(path: String, changeID: String? = nil) async throws(KitError) -> [UInt8] {
            try await stream(path: path, changeID: changeID).collect()
        }

        /// A file's raw bytes as they arrive, for files too large to hold in memory.
        public func stream(path: String, changeID: String? = nil) async throws(KitError) -> ByteStream {
            let org = try await client.org()
            let response = try await client.send(
                .get,
                [org, repo, "content"],
                query: query(path, changeID, nil),
                accept: "application/octet-stream"
            )
            return response.body
        }

        private func query(_ path: String, _ changeID: String?, _ depth: Int?) -> [(name: String, value: String?)] {
            [("change_id", changeID), ("path", path.isEmpty ? nil : path), ("depth", depth.map(String.init))]
        }
    }
}

extension ContentEntry {
    /// The decoded bytes of a file's `content` (a symlink's target), or `nil` when the entry carries none.
    public var decodedContent: [UInt8]? {
        content.flatMap(Base64.decode)
    }
}
