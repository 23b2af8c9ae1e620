import Foundation

/// The rules for an upstream remote's URL (docs/Protocol.md, "Upstream remotes").
enum UpstreamURL {
    /// Why a `file://` URL is refused unless the operator allows them.
    static let fileRefusal =
        "file:// upstreams are off on this server: they reach the server's own disk (start mesa serve with "
        + "--allow-file-upstreams to allow them)"

    /// The schemes libgit2 reaches a remote with.
    static let schemes: Set<String> = ["https", "http", "git", "file"]

    /// Refuses a URL libgit2 cannot use, or one that carries a password (credentials go in `auth`, sealed at rest;
    /// a URL is stored and answered as it is).
    static func validate(_ text: String, allowFile: Bool) throws(APIError) {
        guard !text.isEmpty, text.utf8.count <= 2048,
            !text.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7f })
        else {
            throw .badRequest("upstream url must be 1-2048 characters without spaces or control characters")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw .badRequest("upstream url '\(text)' is not a URL")
        }
        guard schemes.contains(scheme) else {
            throw .badRequest("upstream url scheme '\(scheme)' is not supported: use https, http, git or file")
        }
        if scheme == "file" {
            guard allowFile else { throw .badRequest(fileRefusal) }
            guard components.path.hasPrefix("/") else {
                throw .badRequest("a file upstream url needs an absolute path, such as file:///srv/git/repo.git")
            }
        } else if (components.host ?? "").isEmpty {
            throw .badRequest("upstream url '\(text)' has no host")
        }
        if components.password != nil {
            throw .badRequest("upstream url must not carry a password: send credentials in upstream.auth")
        }
    }
}
