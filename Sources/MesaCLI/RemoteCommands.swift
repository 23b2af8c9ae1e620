import ArgumentParser
import Foundation
import MesaKit

// `mesa repo`, `mesa bookmark`, `mesa log` and `mesa key`: thin commands over MesaKit. Each prints a short table, or
// JSON with `--json`; errors are MesaKit's typed errors with the server's code and message.

extension ClientOptions {
    /// A MesaKit client for these options.
    func client() throws -> Mesa {
        Mesa(apiKey: try credential(), org: explicitOrg, baseURL: Mesa.baseURL(serviceDomain: serviceDomain))
    }
}

/// Prints a value as pretty JSON.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct RepoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repo", abstract: "Create, list and delete repositories.", subcommands: [Create.self, List.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a repository.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The repository name (A-Z a-z 0-9 . _ -).")
        var name: String
        @Option(help: "The default bookmark.")
        var defaultBookmark = "main"
        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let repo = try await client.client().repos.create(name: name, defaultBookmark: defaultBookmark)
            if json { try printJSON(repo) } else { print("created \(repo.org)/\(repo.name)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the org's repositories.")
        @OptionGroup var client: ClientOptions
        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let repos = try await client.client().repos.all().collect()
            if json { return try printJSON(repos) }
            for repo in repos { print("\(repo.name)\t\(repo.defaultBookmark)\t\(repo.headChangeID)") }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a repository with its changes and bookmarks.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The repository name.")
        var name: String
        @Flag(name: .shortAndLong, help: "Do not ask for confirmation.")
        var yes = false

        func run() async throws {
            if !yes, isatty(STDIN_FILENO) != 0 {
                print("delete \(name) and all its history? [y/N] ", terminator: "")
                guard readLine()?.lowercased().hasPrefix("y") == true else { throw ExitCode(1) }
            }
            try await client.client().repos.delete(name)
            print("deleted \(name)")
        }
    }
}

struct BookmarkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bookmark", abstract: "List, create and move bookmarks.", subcommands: [List.self, Create.self, Move.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a repository's bookmarks.")
        @OptionGroup var client: ClientOptions
        @Option(help: "The repository.")
        var repo: String
        @Option(help: "Only names matching this glob.")
        var glob: String?
        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let bookmarks = try await client.client().bookmarks(repo).all(glob: glob).collect()
            if json { return try printJSON(bookmarks) }
            for bookmark in bookmarks { print("\(bookmark.name)\t\(bookmark.changeID)\(bookmark.isDefault ? "\t(default)" : "")") }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a bookmark at a change.")
        @OptionGroup var client: ClientOptions
        @Option(help: "The repository.")
        var repo: String
        @Argument(help: "The bookmark name.")
        var name: String
        @Argument(help: "The change id.")
        var change: String

        func run() async throws {
            let bookmark = try await client.client().bookmarks(repo).create(name: name, changeID: change)
            print("\(bookmark.name)\t\(bookmark.changeID)")
        }
    }

    struct Move: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move a bookmark to a change (forward only unless --allow-backwards).")
        @OptionGroup var client: ClientOptions
        @Option(help: "The repository.")
        var repo: String
        @Argument(help: "The bookmark name.")
        var name: String
        @Argument(help: "The change id.")
        var change: String
        @Flag(help: "Allow moving to a change that is not a descendant.")
        var allowBackwards = false

        func run() async throws {
            let moved = try await client.client().bookmarks(repo).move(name, to: change, allowBackwards: allowBackwards)
            print("\(moved.name)\t\(moved.fromChangeID ?? "-") -> \(moved.changeID)")
        }
    }
}

struct LogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "log", abstract: "List the changes of a bookmark, newest first.")
    @OptionGroup var client: ClientOptions
    @Option(help: "The repository.")
    var repo: String
    @Option(help: "The bookmark (default: the repository's default bookmark).")
    var bookmark: String?
    @Option(help: "At most this many changes.")
    var limit = 20
    @Flag(help: "Print JSON.")
    var json = false

    func run() async throws {
        let mesa = try client.client()
        let name: String
        if let bookmark { name = bookmark } else { name = try await mesa.repos.get(repo).defaultBookmark }
        let changes = try await mesa.changes(repo).list(bookmark: name, limit: max(1, min(limit, 100))).items
        if json { return try printJSON(changes) }
        for change in changes {
            let title = change.message.split(separator: "\n").first.map(String.init) ?? ""
            print("\(change.id)  \(change.currentCommitOID.prefix(12))  \(change.authoredAt)  \(change.author.name)  \(title)")
        }
    }
}

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Create, list and revoke API keys (admin scope).", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create an API key and print it (it is shown only once).")
        @OptionGroup var client: ClientOptions
        @Option(help: "A name for the key.")
        var name: String?
        @Option(help: "Comma-separated scopes: read, write, admin.")
        var scopes = "read,write"
        @Option(help: "Expire after this many seconds (100 to 31536000).")
        var expiresIn: Int?

        func run() async throws {
            let parsed = try scopes.split(separator: ",").map { name in
                guard let scope = Scope(rawValue: String(name)) else {
                    throw ValidationError("--scopes: '\(name)' is not read, write or admin.")
                }
                return scope
            }
            let key = try await client.client().apiKeys.create(name: name, scopes: parsed, expiresInSeconds: expiresIn)
            print(key.key)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the org's API keys (never their secrets).")
        @OptionGroup var client: ClientOptions
        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let keys = try await client.client().apiKeys.all().collect()
            if json { return try printJSON(keys) }
            for key in keys {
                let state = key.revokedAt != nil ? "revoked" : "active"
                print("\(key.id)\t\(key.name ?? "-")\t\(key.scopes.map(\.rawValue).joined(separator: ","))\t\(state)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an API key and every token signed from it.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The key id.")
        var id: String

        func run() async throws {
            try await client.client().apiKeys.revoke(id)
            print("revoked \(id)")
        }
    }
}
