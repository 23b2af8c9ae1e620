package import MesaSync

/// What the mount shows: `<mount>/<organization>/<repository>/...`, each repository at a revision through its
/// object source. The CLI fills it from the server (the repositories the credential can read, `MESA_REPO_REVS`).
package struct MountLayout: Sendable {
    /// One repository of the mount.
    package struct Repository: Sendable {
        /// Where it appears.
        package var path: RepositoryPath
        /// The revision shown.
        package var revision: Revision
        /// Its content.
        package var source: any ObjectSource
        /// The revision's resolution when the caller knows it already; otherwise it is resolved on first access.
        package var resolution: Resolution?

        /// Creates a repository entry.
        package init(
            path: RepositoryPath, revision: Revision, source: any ObjectSource, resolution: Resolution? = nil
        ) {
            self.path = path
            self.revision = revision
            self.source = source
            self.resolution = resolution
        }
    }

    /// The repositories, sorted by organization then name.
    package let repositories: [Repository]
    /// The organizations, sorted, without duplicates.
    package let organizations: [String]

    /// Creates a layout.
    /// - Throws: ``FSError/invalidArgument(_:)`` for a name that cannot be a directory name (empty, `.`, `..`,
    ///   containing `/` or NUL, over 255 bytes) or a repository listed twice.
    package init(_ repositories: [Repository]) throws(FSError) {
        var seen = Set<RepositoryPath>()
        for repository in repositories {
            for name in [repository.path.organization, repository.path.name] {
                guard Self.isValidName(name) else { throw .invalidArgument("'\(name)' cannot be a directory name") }
            }
            guard seen.insert(repository.path).inserted else {
                throw .invalidArgument("repository \(repository.path) is listed twice")
            }
        }
        self.repositories = repositories.sorted {
            ($0.path.organization.utf8.lexicographicallyPrecedes($1.path.organization.utf8))
                || ($0.path.organization == $1.path.organization
                    && $0.path.name.utf8.lexicographicallyPrecedes($1.path.name.utf8))
        }
        var organizations: [String] = []
        for repository in self.repositories where organizations.last != repository.path.organization {
            organizations.append(repository.path.organization)
        }
        self.organizations = organizations
    }

    /// The index of a repository in ``repositories``.
    package func index(of path: RepositoryPath) -> Int? {
        repositories.firstIndex { $0.path == path }
    }

    private static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && name.utf8.count <= 255 && !name.utf8.contains(0x2f)
            && !name.utf8.contains(0)
    }
}
