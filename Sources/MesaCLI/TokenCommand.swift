import ArgumentParser
import Foundation
import MesaWire

/// `mesa token create`: signs a short-lived token locally from an API key, with no network call.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Mint short-lived access tokens.",
        subcommands: [Create.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a token signed locally from the API key (for MESA_API_KEY=$(mesa token create ...)).")

        @OptionGroup var client: ClientOptions

        @Option(help: "Comma-separated scopes: read, write, admin.")
        var scopes = "read,write"

        @Option(help: "Comma-separated org/repo names the token is limited to (default: every repo).")
        var repos: String?

        @Option(help: "Lifetime in seconds, at most 86400.")
        var ttl = AccessToken.defaultLifetime

        func validate() throws {
            guard (1...AccessToken.maximumLifetime).contains(ttl) else {
                throw ValidationError("--ttl must be between 1 and \(AccessToken.maximumLifetime) seconds.")
            }
            _ = try parsedScopes()
            if let repos, repos.split(separator: ",").contains(where: { !$0.contains("/") }) {
                throw ValidationError("--repos takes org/repo names, such as local/demo.")
            }
        }

        func parsedScopes() throws -> [Scope] {
            try scopes.split(separator: ",").map { name in
                guard let scope = Scope(rawValue: String(name).trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--scopes: '\(name)' is not read, write or admin.")
                }
                return scope
            }
        }

        func run() throws {
            let credential = try client.credential()
            guard !AccessToken.looksLikeToken(credential) else {
                throw ValidationError("a token cannot mint tokens: set MESA_API_KEY to an API key.")
            }
            guard let key = APIKey(credential), key.embeddedKeyID != nil else {
                throw ValidationError("MESA_API_KEY is not an API key of the form mesa_<keyid>_<secret>.")
            }
            let token = try AccessToken.mint(
                apiKey: key, scopes: try parsedScopes(), repos: repos.map { $0.split(separator: ",").map(String.init) },
                lifetime: ttl)
            print(token)
        }
    }
}
