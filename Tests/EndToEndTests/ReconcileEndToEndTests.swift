import Foundation
import MesaTesting
import Testing

/// Two real mounts of one change against a real `mesa serve`: when one uploads after the other, its push is refused
/// (the change moved) and it merges three ways, pushes the merge and shows it. Every test unmounts in a `defer`.
@Suite(.serialized, .enabled(if: FuseTestEnvironment.isAvailable))
struct ReconcileEndToEndTests {
    /// A server with repo `demo` and two mounts of it (own caches and state directories), uploading only on
    /// `mesa sync`.
    private final class Fixture {
        let server: ServerProcess
        let scratch: TemporaryDirectory
        let environments: [[String: String]]

        init(pollMilliseconds: Int = 300) throws {
            server = try ServerProcess()
            scratch = try TemporaryDirectory(prefix: "mesa-reconcile-e2e")
            let source = try GitSource()
            try source.write("README.md", "# demo\n\nfirst line\nsecond line\n")
            try source.write("src/main.c", "int main(void) {\n    return 0;\n}\n")
            try source.write("src/deep/leaf.txt", "leaf\n")
            try source.write("bin/run.sh", "#!/bin/sh\necho hi\n", executable: true)
            try source.commit("first")
            var environments: [[String: String]] = []
            for name in ["a", "b"] {
                environments.append([
                    "MESA_API_KEY": server.adminKey, "MESA_SERVICE_DOMAIN": server.url,
                    "MESA_MOUNT_POINT": scratch.appending("mnt-\(name)"), "MESA_CACHE_PATH": scratch.appending("cache-\(name)"),
                    "MESA_STATE_DIR": scratch.appending("state-\(name)"), "MESA_RUNTIME_DIR": scratch.appending("run-\(name)"),
                    "MESA_POLL_INTERVAL_MS": "\(pollMilliseconds)", "MESA_SYNC_QUIET_MS": "600000", "MESA_SYNC_MAX_DELAY_MS": "600000",
                ])
            }
            self.environments = environments
            let imported = try MesaBinary.run(["import", source.path, "--repo", "demo"], environment: environments[0])
            guard imported.status == 0 else { throw ShellFailure(command: "mesa import", output: imported.standardError) }
        }

        /// The repository's directory in mount `index`.
        func repo(_ index: Int) -> String { (environments[index]["MESA_MOUNT_POINT"] ?? "") + "/local/demo" }

        func mesa(_ index: Int, _ arguments: [String]) throws -> MesaBinary.Result {
            try MesaBinary.run(arguments, environment: environments[index])
        }

        func status(_ index: Int) throws -> [String: String] {
            let object = try JSONSerialization.jsonObject(with: Data(mesa(index, ["status", "--json"]).standardOutput.utf8))
            return object as? [String: String] ?? [:]
        }

        func serverContent(_ path: String) throws -> String? {
            let answer = try Shell.run(
                "curl -sf -H 'Authorization: Bearer \(server.adminKey)' -H 'Accept: application/octet-stream' "
                    + "'\(server.url)/v1/local/demo/content?path=\(path)'")
            return answer.status == 0 ? answer.output : nil
        }

        /// The change's REST representation.
        func change(_ id: String) throws -> [String: Any] {
            let answer = try Shell.run(
                "curl -sf -H 'Authorization: Bearer \(server.adminKey)' '\(server.url)/v1/local/demo/changes/\(id)'")
            return try JSONSerialization.jsonObject(with: Data(answer.output.utf8)) as? [String: Any] ?? [:]
        }

        func write(_ index: Int, _ path: String, _ text: String) throws {
            #expect(try Shell.run("printf '%s' '\(text)' > '\(repo(index))/\(path)'").status == 0)
        }

        func read(_ index: Int, _ path: String) -> String? {
            try? String(contentsOfFile: repo(index) + "/" + path, encoding: .utf8)
        }

        func cleanUp() {
            for index in environments.indices {
                _ = try? mesa(index, ["unmount"])
                _ = try? Shell.run("fusermount3 -uz '\(environments[index]["MESA_MOUNT_POINT"] ?? "")' 2>/dev/null")
            }
        }
    }

    /// Realtime: with polling every minute, an upload of one mount shows in the other within 1.5 s through the
    /// long poll (docs/Protocol.md), whether the other has never written (a remote update) or has uploaded edits of
    /// its own (a move of its local nodes).
    @Test func anUploadShowsInTheOtherMountWithinASecondAndAHalf() throws {
        let fixture = try Fixture(pollMilliseconds: 60_000)
        defer { fixture.cleanUp() }
        for index in 0..<2 { #expect(try fixture.mesa(index, ["mount", "-d"]).status == 0) }
        #expect(fixture.read(1, "README.md") == "# demo\n\nfirst line\nsecond line\n")
        var latencies: [Double] = []
        for round in 0..<6 {
            if round == 3 {
                // B writes and uploads too: from now on it follows moves over its local nodes.
                try fixture.write(1, "b.txt", "b\n")
                #expect(try fixture.mesa(1, ["sync", "--timeout", "60"]).status == 0)
            }
            let text = "round \(round)\n"
            try fixture.write(0, "README.md", text)
            #expect(try fixture.mesa(0, ["sync", "--timeout", "60"]).status == 0)
            let synced = Date()
            while fixture.read(1, "README.md") != text, Date().timeIntervalSince(synced) < 10 { usleep(20_000) }
            latencies.append(Date().timeIntervalSince(synced))
        }
        #expect(latencies.allSatisfy { $0 < 1.5 }, "seconds from upload to the other mount: \(latencies)")
        #expect(try fixture.serverContent("b.txt") == "b\n")
    }

    @Test func aMovedChangeIsMergedCleanlyOrWithConflictMarkersThatAnEditResolves() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        for index in 0..<2 {
            let mounted = try fixture.mesa(index, ["mount", "-d"])
            #expect(mounted.status == 0, "\(mounted.standardError)")
        }
        let change = try #require(fixture.status(0)["local/demo.change_id"])

        // Different files: a clean merge. A uploads first; B's push is refused, merged and pushed.
        try fixture.write(0, "src/main.c", "int main(void) {\n    return 1;\n}\n")
        try fixture.write(1, "notes.txt", "from b\n")
        #expect(try fixture.mesa(0, ["sync", "--timeout", "60"]).status == 0)
        let merged = try fixture.mesa(1, ["sync", "--timeout", "60"])
        #expect(merged.status == 0, "\(merged.standardOutput)\(merged.standardError)")
        #expect(try fixture.serverContent("src/main.c") == "int main(void) {\n    return 1;\n}\n")
        #expect(try fixture.serverContent("notes.txt") == "from b\n")
        #expect(fixture.read(1, "src/main.c") == "int main(void) {\n    return 1;\n}\n", "B shows A's edit after the merge")
        #expect(try fixture.status(1)["local/demo.conflicts"] == "none")
        #expect(try fixture.change(change)["is_conflicted"] as? Bool == false)
        // A, whose edits are all uploaded, follows the merge through its poll (every 300 ms).
        var seen = false
        for _ in 0..<50 where !seen {
            usleep(100_000)
            seen = fixture.read(0, "notes.txt") == "from b\n"
        }
        #expect(seen, "mount A did not show B's merged edit within 5 s")

        // The same lines of one file: a conflict, both sides kept between markers in B's working copy, listed by
        // status and by REST. (Each side writes before the other syncs: a mount with nothing pending would follow
        // the other's upload through its poll instead.)
        try fixture.write(1, "README.md", "# demo\n\nfirst line from b\nsecond line\n")
        try fixture.write(0, "README.md", "# demo\n\nfirst line from a\nsecond line\n")
        #expect(try fixture.mesa(0, ["sync", "--timeout", "60"]).status == 0)
        let conflicted = try fixture.mesa(1, ["sync", "--timeout", "60"])
        #expect(conflicted.status == 0, "\(conflicted.standardOutput)\(conflicted.standardError)")
        let working = fixture.read(1, "README.md") ?? ""
        #expect(working.contains("<<<<<<< ") && working.contains("first line from a") && working.contains("first line from b")
            && working.contains(">>>>>>> "), "\(working)")
        #expect(try fixture.serverContent("README.md") == working)
        #expect(try fixture.status(1)["local/demo.conflicts"] == "README.md")
        let rest = try fixture.change(change)
        #expect(rest["is_conflicted"] as? Bool == true)
        #expect(rest["conflicts"] as? [String] == ["README.md"], "\(rest)")
        #expect(fixture.read(1, "notes.txt") == "from b\n")

        // Editing the markers away and syncing resolves it.
        try fixture.write(1, "README.md", "# demo\n\nfirst line from both\nsecond line\n")
        #expect(try fixture.mesa(1, ["sync", "--timeout", "60"]).status == 0)
        #expect(try fixture.change(change)["is_conflicted"] as? Bool == false)
        #expect(try fixture.status(1)["local/demo.conflicts"] == "none")

        // A delete against an edit, a mode change and a new symbolic link: B uploads first now, A merges. The file
        // A deleted and B changed keeps B's version and is a conflict.
        #expect(try Shell.run("rm '\(fixture.repo(0))/src/deep/leaf.txt'").status == 0)
        try fixture.write(0, "a-only.txt", "a\n")
        try fixture.write(1, "src/deep/leaf.txt", "leaf changed by b\n")
        #expect(try Shell.run("chmod -x '\(fixture.repo(1))/bin/run.sh' && ln -s src/main.c '\(fixture.repo(1))/main-link'").status == 0)
        #expect(try fixture.mesa(1, ["sync", "--timeout", "60"]).status == 0)
        let second = try fixture.mesa(0, ["sync", "--timeout", "60"])
        #expect(second.status == 0, "\(second.standardOutput)\(second.standardError)")
        #expect(fixture.read(0, "src/deep/leaf.txt") == "leaf changed by b\n")
        #expect(try fixture.status(0)["local/demo.conflicts"] == "src/deep/leaf.txt")
        #expect(fixture.read(0, "README.md") == "# demo\n\nfirst line from both\nsecond line\n", "A shows B's resolution")
        #expect(fixture.read(0, "notes.txt") == "from b\n")
        #expect(try Shell.run("test ! -x '\(fixture.repo(0))/bin/run.sh' && test -L '\(fixture.repo(0))/main-link'").status == 0)
        #expect(try fixture.serverContent("a-only.txt") == "a\n")
        #expect(try fixture.serverContent("src/main.c") == "int main(void) {\n    return 1;\n}\n")
        #expect(try fixture.change(change)["conflicts"] as? [String] == ["src/deep/leaf.txt"])

        // A binary file both mounts added: B's version stays at the path, A's (the server's) beside it as
        // `img.bin~server`, listed until that copy is deleted. The earlier conflict, which B's merge left as it was,
        // stays listed.
        #expect(try Shell.run(
            "printf 'A\\000a' > '\(fixture.repo(0))/img.bin' && printf 'B\\000b' > '\(fixture.repo(1))/img.bin'").status == 0)
        #expect(try fixture.mesa(0, ["sync", "--timeout", "60"]).status == 0)
        let binary = try fixture.mesa(1, ["sync", "--timeout", "60"])
        #expect(binary.status == 0, "\(binary.standardOutput)\(binary.standardError)")
        #expect(try Shell.run(
            "printf 'B\\000b' | cmp - '\(fixture.repo(1))/img.bin' && printf 'A\\000a' | cmp - '\(fixture.repo(1))/img.bin~server'"
        ).status == 0)
        #expect(try fixture.status(1)["local/demo.conflicts"] == "img.bin")
        #expect(try fixture.change(change)["conflicts"] as? [String] == ["img.bin", "src/deep/leaf.txt"])
        #expect(try Shell.run("rm '\(fixture.repo(1))/img.bin~server'").status == 0)
        #expect(try fixture.mesa(1, ["sync", "--timeout", "60"]).status == 0)
        #expect(try fixture.status(1)["local/demo.conflicts"] == "none")
        #expect(try fixture.change(change)["conflicts"] as? [String] == ["src/deep/leaf.txt"])
    }
}
