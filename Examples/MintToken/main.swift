// A trusted backend's side of the sandbox flow (README, "Run it in a sandbox"): mint a short-lived token for one
// repository with MesaKit, locally (no network call for the token itself), and hand it to the sandbox as
// MESA_API_KEY. The backend's own API key never enters the sandbox.
//
//   MESA_API_KEY=<backend key> MESA_SERVICE_DOMAIN=http://mesa.internal:7411 \
//       swift run MintToken --repo demo [--scopes read|write] [--ttl 3600]
//
// It prints only the token, so a script can write `TOKEN=$(swift run -q MintToken --repo demo)`.
import Foundation
import MesaKit

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("MintToken: \(message)\n".utf8))
    exit(2)
}

var repo: String?
var write = true
var ttl = 3600
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--repo": repo = arguments.popFirst()
    case "--scopes":
        switch arguments.popFirst() {
        case "read": write = false
        case "write": write = true
        default: fail("--scopes takes read or write")
        }
    case "--ttl":
        guard let text = arguments.popFirst(), let seconds = Int(text) else { fail("--ttl takes seconds") }
        ttl = seconds
    default: fail("unknown argument \(argument); usage: MintToken --repo NAME [--scopes read|write] [--ttl SECONDS]")
    }
}
guard let repo else { fail("--repo NAME is required") }
guard let apiKey = ProcessInfo.processInfo.environment["MESA_API_KEY"], !apiKey.isEmpty else {
    fail("set MESA_API_KEY to the backend's API key")
}

// The org comes from the key (or MESA_ORG); the server from MESA_SERVICE_DOMAIN.
let mesa = Mesa(apiKey: apiKey, org: ProcessInfo.processInfo.environment["MESA_ORG"])
do {
    // The repository must exist: a token for a name that does not would mount nothing.
    let found = try await mesa.repos.get(repo)
    let token = try await mesa.tokens.create(
        scopes: write ? [.read, .write] : [.read], repos: ["\(found.org)/\(found.name)"], ttlSeconds: ttl)
    print(token)
} catch {
    fail("\(error)")
}
