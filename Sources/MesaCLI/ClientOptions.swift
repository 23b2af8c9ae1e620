import ArgumentParser
import Foundation
import MesaWire

/// The credential and server every client command takes, from flags or Mesa's environment variables.
struct ClientOptions: ParsableArguments {
    @Option(help: "An API key or token (default: MESA_API_KEY).")
    var apiKey: String?

    @Option(help: "The org (default: MESA_ORG, else the credential's org).")
    var org: String?

    @Option(help: "The server: a URL, or a bare domain for https://api.<domain> (default: MESA_SERVICE_DOMAIN, else http://127.0.0.1:7411).")
    var server: String?

    /// The credential, from `--api-key` or `MESA_API_KEY`.
    func credential() throws -> String {
        guard let credential = apiKey ?? ProcessInfo.processInfo.environment["MESA_API_KEY"], !credential.isEmpty else {
            throw ValidationError(
                "no credential: pass --api-key or set MESA_API_KEY (the admin key of `mesa serve` is in <data-dir>/admin.key).")
        }
        return credential
    }

    /// The org, from `--org` or `MESA_ORG`, if given.
    var explicitOrg: String? { org ?? ProcessInfo.processInfo.environment["MESA_ORG"].flatMap { $0.isEmpty ? nil : $0 } }

    /// The server domain or URL, from `--server` or `MESA_SERVICE_DOMAIN`, if given.
    var serviceDomain: String? {
        server ?? ProcessInfo.processInfo.environment["MESA_SERVICE_DOMAIN"].flatMap { $0.isEmpty ? nil : $0 }
    }
}
