public import MesaWire

extension Mesa {
    /// Diffs between two changes of one repository: `GET /{org}/{repo}/diff`.
    public struct Diffs: Sendable {
        let client: RESTClient
        /// The repository's name.
        public let repo: String

        /// Which conflicted paths a diff reports (`?conflicts=`; the server's default is ``include``).
        public enum Conflicts: String, Sendable {
            /// Ordinary entries and conflicted entries.
            case include
            /// Ordinary entries only.
            case exclude
            /// Conflicted entries only.
            case only
        }

        /// The diff as JSON: stats, entries with hunks, conflicted entries.
        /// - Parameters:
        ///   - base: the base change id (the server's default when `nil`).
        ///   - head: the head change id (the server's default when `nil`).
        public func get(base: String? = nil, head: String? = nil, conflicts: Conflicts? = nil) async throws(KitError)
            -> Diff
        {
            let org = try await client.org()
            let query = [
                ("base_change_id", base), ("head_change_id", head), ("conflicts", conflicts?.rawValue),
            ]
            return try await client.json(.get, [org, repo, "diff"], query: query)
        }

        /// The diff as a unified diff (`Accept: text/plain`).
        public func text(base: String? = nil, head: String? = nil) async throws(KitError) -> String {
            let org = try await client.org()
            let response = try await client.send(
                .get,
                [org, repo, "diff"],
                query: [("base_change_id", base), ("head_change_id", head)],
                accept: "text/plain"
            )
            return String(decoding: try await response.body.collect(upTo: RESTClient.maxJSONBytes), as: UTF8.self)
        }
    }
}
