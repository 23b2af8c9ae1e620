import HTTPTypes
package import MesaWire

/// Who is calling: the org, the API key (directly or through a token signed from it) and the effective rights.
package struct Principal: Sendable {
    /// The credential's org.
    package var org: OrgRow
    /// The API key behind the credential.
    package var key: APIKeyRow
    /// The effective scopes: a token's scopes clamped to its key's current ones.
    package var scopes: [Scope]
    /// Repo ids the credential is limited to (key restriction and token `repo_ids` intersected); `nil`: none.
    package var repoIDs: Set<String>?
    /// `org/repo` names a token is limited to; `nil`: none.
    package var repoNames: Set<String>?
    /// Whether the credential is a token (tokens cannot mint keys or tokens).
    package var viaToken: Bool

    /// Whether the credential may read or write `repo` (ignoring scopes).
    package func canAccess(_ repo: RepoRow) -> Bool {
        (repoIDs?.contains(repo.id) ?? true) && (repoNames?.contains("\(org.slug)/\(repo.name)") ?? true)
    }

    /// Whether the credential has no repo restriction (org-wide operations such as creating repos need that).
    package var isUnrestricted: Bool { repoIDs == nil && repoNames == nil }

    /// Throws 403 unless the scopes allow `scope`.
    package func require(_ scope: Scope) throws(APIError) {
        guard scopes.allow(scope) else {
            throw APIError(
                .forbidden, "INSUFFICIENT_SCOPE",
                "this operation needs the '\(scope.rawValue)' scope; the credential has \(scopes.map(\.rawValue))")
        }
    }

    /// Throws 403 unless the credential may act on `repo` with `scope`.
    package func require(_ scope: Scope, on repo: RepoRow) throws(APIError) {
        try require(scope)
        guard canAccess(repo) else {
            throw APIError(.forbidden, "REPO_NOT_ALLOWED", "the credential is not allowed to access repo '\(repo.name)'")
        }
    }
}
