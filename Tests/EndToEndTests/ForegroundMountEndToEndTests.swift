import Foundation
import MesaTesting
import Testing

/// `mesa mount -y` in the foreground, as a sandbox runs it: one ready line on standard output, logs on standard
/// error, and on SIGTERM the pending edits are uploaded (within MESA_SHUTDOWN_SYNC_TIMEOUT) before it unmounts and
/// exits 0; what could not be uploaded stays in the state directory for the next mount. Every test unmounts in a
/// `defer`, even when it fails.
@Suite(.serialized, .tags(.e2e), .enabled(if: FuseTestEnvironment.isAvailable))
struct ForegroundMountEndToEndTests {
    /// A real foreground `mesa mount -y` process; its standard output and error go to files.
    private final class ForegroundMount {
        let process = Process()
        let output: String
        let errors: String
        let mountPoint: String

        init(environment: [String: String], scratch: TemporaryDirectory, name: String) throws {
            output = scratch.appending("\(name).out")
            errors = scratch.appending("\(name).err")
            mountPoint = environment["MESA_MOUNT_POINT"] ?? ""
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            _ = FileManager.default.createFile(atPath: errors, contents: nil)
            process.executableURL = URL(fileURLWithPath: MesaBinary.path)
            process.arguments = ["mount", "-y"]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
            try process.run()
        }

        var standardOutput: String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
        var standardError: String { (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "" }

        /// Waits for the ready line; `false` when the process exited or `timeout` passed first.
        func waitUntilReady(timeout: Double = 60) -> Bool {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline, process.isRunning {
                if standardOutput.contains("\n") { return true }
                usleep(50_000)
            }
            return standardOutput.contains("\n")
        }

        /// Sends `signal` and waits up to `timeout` seconds for the exit.
        /// - Returns: the exit status, or `nil` when it is still running.
        func stop(signal: Int32 = SIGTERM, timeout: Double = 60) -> Int32? {
            kill(process.processIdentifier, signal)
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            guard !process.isRunning else { return nil }
            return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
        }

        /// Kills what is left and unmounts, even after a failure.
        func cleanUp() {
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            _ = try? Shell.run("fusermount3 -uz '\(mountPoint)' 2>/dev/null")
        }

        var isMounted: Bool { (try? Shell.run("grep -q ' \(mountPoint) ' /proc/mounts").status) == 0 }
    }

    /// A server with one repository `demo` of two files, and a mount environment for it.
    private static func serverWithRepository(_ scratch: TemporaryDirectory) throws -> (ServerProcess, [String: String]) {
        let server = try ServerProcess()
        let source = try GitSource()
        try source.write("README.md", "# demo\n")
        try source.write("old.txt", "to be deleted\n")
        try source.commit("first")
        let environment = [
            "MESA_API_KEY": server.adminKey, "MESA_SERVICE_DOMAIN": server.url, "MESA_ORG": "local",
            "MESA_MOUNT_POINT": scratch.appending("mnt"), "MESA_CACHE_PATH": scratch.appending("cache"),
            "MESA_STATE_DIR": scratch.appending("state"), "MESA_RUNTIME_DIR": scratch.appending("run"),
            // Nothing uploads on its own: only the shutdown flush can have put the edits on the server.
            "MESA_SYNC_QUIET_MS": "600000", "MESA_SYNC_MAX_DELAY_MS": "600000",
        ]
        let imported = try MesaBinary.run(["import", source.path, "--repo", "demo"], environment: environment)
        guard imported.status == 0 else { throw ShellFailure(command: "mesa import", output: imported.standardError) }
        return (server, environment)
    }

    /// The bytes of `path` in `demo` over REST, or `nil` when the server has no such file.
    private static func restContent(_ server: ServerProcess, _ path: String) throws -> String? {
        let result = try Shell.run(
            "curl -sf -H 'Authorization: Bearer \(server.adminKey)' -H 'Accept: application/octet-stream' "
                + "'\(server.url)/v1/local/demo/content?path=\(path)'")
        return result.status == 0 ? result.output : nil
    }

    private static let edits = """
        set -e
        echo 'edited in a sandbox' > README.md
        mkdir -p src/lib && printf 'int f(void) { return 1; }\\n' > src/lib/f.c
        rm old.txt
        """

    @Test func sigtermUploadsPendingEditsUnmountsAndExitsZero() throws {
        let scratch = try TemporaryDirectory(prefix: "mesa-foreground")
        let (server, environment) = try Self.serverWithRepository(scratch)
        defer { server.stop() }
        let mount = try ForegroundMount(environment: environment, scratch: scratch, name: "mount")
        defer { mount.cleanUp() }
        try #require(mount.waitUntilReady(), "no ready line; stderr:\n\(mount.standardError)")
        let repo = mount.mountPoint + "/local/demo"
        let edited = try Shell.run("cd '\(repo)' && sh -c \"$EDITS\"", environment: ["EDITS": Self.edits])
        #expect(edited.status == 0, "\(edited.error)")
        #expect(try Self.restContent(server, "README.md") == "# demo\n", "uploaded before the signal")

        let status = mount.stop(signal: SIGTERM)
        #expect(status == 0, "stderr:\n\(mount.standardError)")
        #expect(!mount.isMounted)
        // Standard output carries the ready line only; the logs went to standard error.
        let lines = mount.standardOutput.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("mounted 1 repositories of local at "), "\(lines)")
        #expect(mount.standardError.contains("every edit is on the server"), "\(mount.standardError)")
        #expect(try Self.restContent(server, "README.md") == "edited in a sandbox\n")
        #expect(try Self.restContent(server, "src/lib/f.c") == "int f(void) { return 1; }\n")
        #expect(try Self.restContent(server, "old.txt") == nil)
    }

    @Test func sigintDoesTheSame() throws {
        let scratch = try TemporaryDirectory(prefix: "mesa-foreground")
        let (server, environment) = try Self.serverWithRepository(scratch)
        defer { server.stop() }
        let mount = try ForegroundMount(environment: environment, scratch: scratch, name: "mount")
        defer { mount.cleanUp() }
        try #require(mount.waitUntilReady(), "no ready line; stderr:\n\(mount.standardError)")
        #expect(try Shell.run("echo interrupted > '\(mount.mountPoint)/local/demo/int.txt'").status == 0)
        #expect(mount.stop(signal: SIGINT) == 0, "stderr:\n\(mount.standardError)")
        #expect(!mount.isMounted)
        #expect(try Self.restContent(server, "int.txt") == "interrupted\n")
    }

    /// With the server down, SIGTERM gives up after MESA_SHUTDOWN_SYNC_TIMEOUT, says what stays pending, unmounts and
    /// exits 0; the next mount of the state directory uploads the edits.
    @Test func editsTheServerCouldNotTakeAreUploadedByTheNextMount() throws {
        let scratch = try TemporaryDirectory(prefix: "mesa-foreground")
        var (server, environment) = try Self.serverWithRepository(scratch)
        defer { server.stop() }
        environment["MESA_SHUTDOWN_SYNC_TIMEOUT"] = "2"
        let first = try ForegroundMount(environment: environment, scratch: scratch, name: "first")
        defer { first.cleanUp() }
        try #require(first.waitUntilReady(), "no ready line; stderr:\n\(first.standardError)")
        let edited = try Shell.run(
            "cd '\(first.mountPoint)/local/demo' && sh -c \"$EDITS\"", environment: ["EDITS": Self.edits])
        #expect(edited.status == 0, "\(edited.error)")
        server.stop()

        let started = Date()
        #expect(first.stop(signal: SIGTERM) == 0, "stderr:\n\(first.standardError)")
        let stopping = Date().timeIntervalSince(started)
        #expect(stopping >= 2 && stopping < 30, "stopped after \(stopping) s")
        #expect(!first.isMounted)
        #expect(first.standardError.contains("edits stay pending in the state directory"), "\(first.standardError)")
        #expect(!first.standardError.contains("every edit is on the server"))

        server = try ServerProcess(restarting: server, samePort: true)
        #expect(try Self.restContent(server, "README.md") == "# demo\n", "nothing arrived while the server was down")
        environment["MESA_SYNC_QUIET_MS"] = "200"
        environment["MESA_SYNC_MAX_DELAY_MS"] = "1000"
        let second = try ForegroundMount(environment: environment, scratch: scratch, name: "second")
        defer { second.cleanUp() }
        try #require(second.waitUntilReady(), "no ready line; stderr:\n\(second.standardError)")
        #expect(try String(contentsOfFile: second.mountPoint + "/local/demo/README.md", encoding: .utf8) == "edited in a sandbox\n")
        var arrived = false
        for _ in 0..<300 where !arrived {
            usleep(100_000)
            arrived = try Self.restContent(server, "README.md") == "edited in a sandbox\n"
        }
        #expect(arrived, "the next mount did not upload the pending edits; stderr:\n\(second.standardError)")
        #expect(try Self.restContent(server, "src/lib/f.c") == "int f(void) { return 1; }\n")
        #expect(try Self.restContent(server, "old.txt") == nil)
        #expect(second.stop(signal: SIGTERM) == 0, "stderr:\n\(second.standardError)")
    }
}
