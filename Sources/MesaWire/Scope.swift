/// What a credential may do (MESA-API.md): `read` < `write` < `admin`; each includes the ones below it.
public enum Scope: String, Sendable, Codable, CaseIterable, Comparable {
    /// View repos, bookmarks, changes, diffs and content; fetch through the sync protocol.
    case read
    /// Also create, update and delete repos, bookmarks and changes; push.
    case write
    /// Also manage API keys and webhooks.
    case admin

    private var rank: Int {
        switch self {
        case .read: 0
        case .write: 1
        case .admin: 2
        }
    }

    public static func < (lhs: Scope, rhs: Scope) -> Bool { lhs.rank < rhs.rank }
}

extension Collection<Scope> {
    /// Whether these scopes allow an operation that needs `scope`.
    public func allow(_ scope: Scope) -> Bool { contains { $0 >= scope } }
}
