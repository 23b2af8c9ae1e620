public import MesaWire

extension Mesa {
    /// The bookmarks of one repository: `/{org}/{repo}/bookmarks`. Names may contain `/` (`feat/x`); they are sent
    /// as one percent-encoded path segment.
    public struct Bookmarks: Sendable {
        let client: RESTClient
        /// The repository's name.
        public let repo: String

        /// One page of bookmarks, optionally those whose names match `glob` (`GET .../bookmarks?glob=`).
        public func list(glob: String? = nil, limit: Int? = nil, cursor: String? = nil) async throws(KitError)
            -> Page<Bookmark>
        {
            let org = try await client.org()
            let query = [("glob", glob)] + pageQuery(limit: limit, cursor: cursor)
            return try await client.json(.get, [org, repo, "bookmarks"], query: query)
        }

        /// Every bookmark (matching `glob`), fetching pages as the sequence is read.
        public func all(glob: String? = nil, pageSize: Int? = nil) -> PageSequence<Bookmark> {
            PageSequence { cursor throws(KitError) in try await list(glob: glob, limit: pageSize, cursor: cursor) }
        }

        /// Creates a bookmark at a change (`POST .../bookmarks`, 201).
        public func create(name: String, changeID: String) async throws(KitError) -> Bookmark {
            let org = try await client.org()
            return try await client.json(
                .post,
                [org, repo, "bookmarks"],
                body: CreateBookmarkRequest(name: name, changeID: changeID)
            )
        }

        /// One bookmark (`GET .../bookmarks/{name}`).
        public func get(_ name: String) async throws(KitError) -> Bookmark {
            let org = try await client.org()
            return try await client.json(.get, [org, repo, "bookmarks", name])
        }

        /// Moves a bookmark (`PATCH .../bookmarks/{name}`). The move must advance history unless `allowBackwards`.
        /// - Returns: the bookmark with the change it moved from.
        @discardableResult
        public func move(_ name: String, to changeID: String, allowBackwards: Bool = false) async throws(KitError)
            -> MovedBookmark
        {
            let org = try await client.org()
            let body = MoveBookmarkRequest(changeID: changeID, allowBackwards: allowBackwards)
            return try await client.json(.patch, [org, repo, "bookmarks", name], body: body)
        }

        /// Deletes a bookmark (`DELETE .../bookmarks/{name}`).
        public func delete(_ name: String) async throws(KitError) {
            let org = try await client.org()
            let _: SuccessResponse = try await client.json(.delete, [org, repo, "bookmarks", name])
        }

        /// Merges bookmark `source` into bookmark `target` (`POST .../bookmarks/merge`).
        ///
        /// A conflicting merge without `allowConflicted` fails with ``KitError/api(status:code:message:details:)``,
        /// status 409, code `MERGE_CONFLICT` and `details["conflict_paths"]`, and changes nothing.
        public func merge(
            _ source: String,
            into target: String,
            deleteSource: Bool? = nil,
            allowConflicted: Bool? = nil,
            message: String? = nil,
            resolutions: [Resolution]? = nil
        ) async throws(KitError) -> MergeResult {
            let org = try await client.org()
            let body = MergeRequest(
                target: target,
                source: source,
                deleteSource: deleteSource,
                allowConflicted: allowConflicted,
                message: message,
                resolutions: resolutions
            )
            return try await client.json(.post, [org, repo, "bookmarks", "merge"], body: body)
        }
    }
}
