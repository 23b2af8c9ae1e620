import Foundation
import MesaTesting
import Testing

/// The `mesa` client commands against a real `mesa serve` process, configured through Mesa's environment variables.
@Suite struct CLIEndToEndTests {
    /// A second org started on a data directory that already has `admin.key` gets its own key file, and the server
    /// says where it saved it: the file it names holds the key it printed.
    @Test func serveNamesTheKeyFileItWrote() throws {
        let first = try ServerProcess()
        #expect(first.startupOutput.contains("saved to \(first.directory.path)/admin.key;"), "\(first.startupOutput)")
        first.stop()
        let second = try ServerProcess(org: "other", directory: first.directory)
        defer { second.stop() }
        let path = first.directory.path + "/admin-other.key"
        #expect(second.startupOutput.contains("saved to \(path);"), "\(second.startupOutput)")
        let saved = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!second.adminKey.isEmpty && saved == second.adminKey)
        let original = try String(contentsOfFile: first.directory.path + "/admin.key", encoding: .utf8)
        #expect(original.trimmingCharacters(in: .whitespacesAndNewlines) == first.adminKey)
    }

    @Test func repoBookmarkLogTokenAndKeyCommandsWork() throws {
        let server = try ServerProcess()
        let environment = ["MESA_API_KEY": server.adminKey, "MESA_SERVICE_DOMAIN": server.url]
        func mesa(_ arguments: [String], credential: String? = nil) throws -> MesaBinary.Result {
            var environment = environment
            if let credential { environment["MESA_API_KEY"] = credential }
            return try MesaBinary.run(arguments, environment: environment)
        }

        #expect(try mesa(["repo", "create", "demo"]).standardOutput == "created local/demo\n")
        #expect(try mesa(["repo", "list"]).standardOutput.hasPrefix("demo\tmain\t"))
        #expect(try mesa(["log", "--repo", "demo"]).standardOutput.isEmpty)

        // A change through REST, then the CLI sees it in the log and can bookmark it.
        let body = #"{"base_change_id":"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz","message":"first change","files":[{"path":"a","content":"YQo="}]}"#
        let created = try Shell.run(
            "curl -sf -X POST -H 'Authorization: Bearer \(server.adminKey)' '\(server.url)/v1/local/demo/changes' -d '\(body)'")
        let change = try #require(
            (try JSONSerialization.jsonObject(with: Data(created.output.utf8)) as? [String: Any])?["id"] as? String)
        let log = try mesa(["log", "--repo", "demo"]).standardOutput
        #expect(log.hasPrefix(change) && log.contains("first change"))
        #expect(try mesa(["bookmark", "create", "--repo", "demo", "feature", change]).status == 0)
        #expect(try mesa(["bookmark", "list", "--repo", "demo"]).standardOutput.contains("feature\t\(change)"))

        // A read-only token, minted locally, can list but not create.
        let token = try mesa(["token", "create", "--scopes", "read", "--ttl", "600"]).standardOutput
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(token.split(separator: ".").count == 3)
        #expect(try mesa(["repo", "list"], credential: token).status == 0)
        let refused = try mesa(["repo", "create", "other"], credential: token)
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("INSUFFICIENT_SCOPE"))

        // Keys: create, list (without secrets), revoke; a revoked key stops working.
        let key = try mesa(["key", "create", "--name", "ci", "--scopes", "read"]).standardOutput
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.hasPrefix("mesa_"))
        let listed = try mesa(["key", "list"]).standardOutput
        #expect(listed.contains("\tci\tread\tactive") && !listed.contains(key))
        let id = try #require(key.split(separator: "_").dropFirst().first.map(String.init))
        #expect(try mesa(["key", "revoke", id]).status == 0)
        #expect(try mesa(["repo", "list"], credential: key).standardError.contains("KEY_REVOKED"))

        #expect(try mesa(["repo", "delete", "-y", "demo"]).status == 0)
        #expect(try mesa(["repo", "list"]).standardOutput.isEmpty)
    }

    @Test func missingCredentialsAndUnreachableServersSayWhatToDo() throws {
        let missing = try MesaBinary.run(["repo", "list"], environment: ["MESA_API_KEY": ""])
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("MESA_API_KEY"))
        let unreachable = try MesaBinary.run(
            ["repo", "list"], environment: ["MESA_API_KEY": "mesa_k_s", "MESA_SERVICE_DOMAIN": "http://127.0.0.1:1"])
        #expect(unreachable.status != 0)
        #expect(unreachable.standardError.contains("connect"))
    }
}
