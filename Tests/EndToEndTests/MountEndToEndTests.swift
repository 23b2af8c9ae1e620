import Foundation
import MesaTesting
import Testing

/// Real `mesa serve` and `mesa mount --daemonize` processes, checked with ordinary tools. Every test unmounts in a
/// `defer`, even when it fails.
@Suite(.serialized, .enabled(if: FuseTestEnvironment.isAvailable))
struct MountEndToEndTests {
    /// A server with one imported repository and the environment a mount of it needs.
    private final class Fixture {
        let server: ServerProcess
        let source: GitSource
        let scratch: TemporaryDirectory
        var environment: [String: String]
        var mountPoint: String { environment["MESA_MOUNT_POINT"] ?? "" }

        init() throws {
            server = try ServerProcess()
            source = try GitSource()
            scratch = try TemporaryDirectory(prefix: "mesa-mount-e2e")
            environment = [
                "MESA_API_KEY": server.adminKey, "MESA_SERVICE_DOMAIN": server.url,
                "MESA_MOUNT_POINT": scratch.appending("mnt"), "MESA_CACHE_PATH": scratch.appending("cache"),
                "MESA_STATE_DIR": scratch.appending("state"), "MESA_RUNTIME_DIR": scratch.appending("run"),
                "MESA_POLL_INTERVAL_MS": "300",
            ]
            var random = SeededBytes(seed: 77)
            try source.write("README.md", "# demo\n")
            try source.write("src/main.c", "int main(void) { return 0; }\n")
            try source.write("src/deep/a/b/c/d/leaf.txt", "leaf\n")
            try source.write("bin/run.sh", "#!/bin/sh\necho hi\n", executable: true)
            try source.write("data/blob.bin", random.bytes(3 << 20))
            try source.write("unicodé/名前.txt", "unicode\n")
            try source.commit("first")
            try source.git("-c core.symlinks=true symbolic-ref HEAD refs/heads/main")
            _ = try Shell.run("ln -s ../README.md '\(source.path)/src/link'")
            try source.commit("symlink")
            let imported = try MesaBinary.run(["import", source.path, "--repo", "demo", "--branch", "main"], environment: environment)
            guard imported.status == 0 else { throw ShellFailure(command: "mesa import", output: imported.standardError) }
        }

        func mesa(_ arguments: [String], extra: [String: String] = [:]) throws -> MesaBinary.Result {
            try MesaBinary.run(arguments, environment: environment.merging(extra) { $1 })
        }

        /// Unmounts whatever is left, even after a failure.
        func cleanUp() {
            _ = try? mesa(["unmount"])
            _ = try? Shell.run("fusermount3 -uz '\(mountPoint)' 2>/dev/null")
        }
    }

    @Test func aMountedRepositoryEqualsItsSourceAndFollowsPushes() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let mounted = try fixture.mesa(["mount", "-d"])
        #expect(mounted.status == 0, "\(mounted.standardError)")
        #expect(mounted.standardOutput.contains("mounted 1 repositories of local"))
        let repo = fixture.mountPoint + "/local/demo"

        // The tree equals git archive of the tip: names, bytes, modes, symlinks.
        let expected = fixture.scratch.appending("expected")
        try FileManager.default.createDirectory(atPath: expected, withIntermediateDirectories: true)
        #expect(try Shell.run("git -C '\(fixture.source.path)' -c tar.umask=0022 archive main | tar -x -C '\(expected)'").status == 0)
        let diff = try Shell.run("diff -r --no-dereference '\(repo)' '\(expected)'")
        #expect(diff.status == 0, "\(diff.output)\(diff.error)")
        // Files by mode and size, directories by path, symlinks by target (a directory's own size is the
        // filesystem's business).
        let modes = "(find . -type f -printf 'f %m %s %p\\n'; find . -type d -printf 'd %p\\n'; find . -type l -printf 'l %p %l\\n') | sort"
        let mountedListing = try Shell.run("cd '\(repo)' && \(modes)").output
        let expectedListing = try Shell.run("cd '\(expected)' && \(modes)").output
        #expect(mountedListing == expectedListing, "mounted:\n\(mountedListing)\nexpected:\n\(expectedListing)")
        #expect(try Shell.run("cmp '\(repo)/data/blob.bin' '\(expected)/data/blob.bin'").status == 0)
        #expect(try Shell.run("readlink '\(repo)/src/link'").output == "../README.md\n")
        #expect(try Shell.run("grep -r -l leaf '\(repo)'").output == "\(repo)/src/deep/a/b/c/d/leaf.txt\n")
        #expect(try Shell.run("tar -cf - -C '\(repo)' . | tar -tf - | wc -l").output.trimmingCharacters(in: .whitespacesAndNewlines) != "0")
        #expect(try Shell.run("git diff --no-index --stat '\(repo)/src' '\(expected)/src'").status == 0)

        // A push by another client shows up within the poll interval, while an open handle keeps its bytes.
        let handle = try #require(FileHandle(forReadingAtPath: repo + "/README.md"))
        try fixture.source.write("README.md", "# demo, edited\n")
        try fixture.source.write("added.txt", "new file\n")
        try fixture.source.commit("second")
        #expect(try fixture.mesa(["import", fixture.source.path, "--repo", "demo", "--branch", "main"]).status == 0)
        var seen = false
        for _ in 0..<100 where !seen {
            usleep(100_000)
            seen = (try? String(contentsOfFile: repo + "/added.txt", encoding: .utf8)) == "new file\n"
        }
        #expect(seen, "the pushed file did not appear in the mount")
        #expect(try String(contentsOfFile: repo + "/README.md", encoding: .utf8) == "# demo, edited\n")
        #expect(String(decoding: handle.readDataToEndOfFile(), as: UTF8.self) == "# demo\n")
        try handle.close()

        let stats = try fixture.mesa(["stats"]).standardOutput
        #expect(stats.contains("remote_requests") && stats.contains("cache_hits"))
        #expect(try fixture.mesa(["status"]).standardOutput.contains("local/demo"))
        #expect(try fixture.mesa(["unmount"]).status == 0)
        var gone = false
        for _ in 0..<50 where !gone {
            usleep(100_000)
            gone = !(try Shell.run("grep -q ' \(fixture.mountPoint) ' /proc/mounts").status == 0)
        }
        #expect(gone)
    }

    /// Edits with ordinary tools persist: `mesa sync` returns once they are on the server, REST serves their bytes,
    /// and a fresh mount (new cache, new state directory) shows exactly the edited tree.
    @Test func shellEditsPersistThroughSyncToTheServerAndAFreshMount() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let mounted = try fixture.mesa(["mount", "-d"], extra: ["MESA_SYNC_QUIET_MS": "200"])
        #expect(mounted.status == 0, "\(mounted.standardError)")
        let repo = fixture.mountPoint + "/local/demo"
        let reference = fixture.scratch.appending("reference")
        #expect(try Shell.run("cp -a '\(repo)' '\(reference)'").status == 0)
        let edits = """
            set -e
            echo '# demo, edited in the mount' > README.md
            echo appended >> src/main.c
            dd if=/dev/zero of=data/blob.bin bs=1 count=3 seek=1000 conv=notrunc 2>/dev/null
            truncate -s 100 src/deep/a/b/c/d/leaf.txt
            mkdir -p new/dir && echo fresh > new/dir/file.txt
            mv unicodé moved
            rm -r src/deep/a/b
            chmod +x README.md
            ln -s ../README.md new/link
            head -c 2000000 /dev/urandom > new/big.bin
            (cd new && git init -q && git add -A && git -c user.name=t -c user.email=t@t.test commit -qm local)
            echo swap > .README.md.swp
            """
        for directory in [repo, reference] {
            let result = try Shell.run("cd '\(directory)' && sh -c '\(edits.replacingOccurrences(of: "'", with: "'\\''"))'")
            #expect(result.status == 0, "\(result.error)")
        }
        // The random file differs between the two runs: copy the mount's into the reference. Git records no empty
        // directories, so the reference drops the one `rm -r` left (the mount keeps it locally until restart).
        #expect(try Shell.run("cp '\(repo)/new/big.bin' '\(reference)/new/big.bin'").status == 0)
        #expect(try Shell.run("find '\(reference)' -depth -type d -empty -delete").status == 0)
        // `.mesaignore`'s built-in rules keep `.git` and editor swap files local: never uploaded.
        #expect(try Shell.run("rm -rf '\(reference)/new/.git' '\(reference)/.README.md.swp'").status == 0)
        #expect(try Shell.run("git -C '\(repo)/new' log --oneline | wc -l").output.trimmingCharacters(in: .whitespacesAndNewlines) == "1")
        let sync = try fixture.mesa(["sync", "--timeout", "60"])
        #expect(sync.status == 0, "\(sync.standardOutput)\(sync.standardError)")
        let status = try #require(
            try JSONSerialization.jsonObject(with: Data(fixture.mesa(["status", "--json"]).standardOutput.utf8))
                as? [String: String])
        #expect(status["local/demo.pending_files"] == "0", "\(status)")
        #expect(status["local/demo.last_error"] == "none", "\(status)")

        // REST serves the uploaded bytes.
        let readme = try Shell.run(
            "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' -H 'Accept: application/octet-stream' "
                + "'\(fixture.server.url)/v1/local/demo/content?path=README.md'")
        #expect(readme.output == "# demo, edited in the mount\n", "\(readme.error)")
        #expect(try fixture.mesa(["unmount"]).status == 0)

        // A fresh mount with a new cache and state directory equals the reference copy.
        var fresh = fixture.environment
        fresh["MESA_CACHE_PATH"] = fixture.scratch.appending("cache2")
        fresh["MESA_STATE_DIR"] = fixture.scratch.appending("state2")
        fresh["MESA_RUNTIME_DIR"] = fixture.scratch.appending("run2")
        let remounted = try MesaBinary.run(["mount", "-d"], environment: fresh)
        #expect(remounted.status == 0, "\(remounted.standardError)")
        defer { _ = try? MesaBinary.run(["unmount"], environment: fresh) }
        let diff = try Shell.run("diff -r --no-dereference '\(repo)' '\(reference)'")
        #expect(diff.status == 0, "\(diff.output)\(diff.error)")
        let modes = "(find . -type f -printf 'f %m %s %p\\n'; find . -type l -printf 'l %p %l\\n') | sort"
        let mountedListing = try Shell.run("cd '\(repo)' && \(modes)").output
        let expectedListing = try Shell.run("cd '\(reference)' && \(modes)").output
        #expect(mountedListing == expectedListing, "mounted:\n\(mountedListing)\nexpected:\n\(expectedListing)")
    }

    /// A daemon killed with edits pending uploads them when it starts again on the same state directory.
    @Test func aKilledDaemonUploadsItsPendingEditsWhenStartedAgain() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        // A long quiet period: nothing uploads before the kill.
        let slow = ["MESA_SYNC_QUIET_MS": "600000", "MESA_SYNC_MAX_DELAY_MS": "600000"]
        #expect(try fixture.mesa(["mount", "-d"], extra: slow).status == 0)
        let repo = fixture.mountPoint + "/local/demo"
        #expect(try Shell.run("echo 'written before the kill' > '\(repo)/pending.txt' && sync").status == 0)
        let pid = try #require(
            try fixture.mesa(["status"]).standardOutput.split(separator: "\n").first { $0.hasPrefix("pid\t") }
                .flatMap { Int32($0.dropFirst(4)) })
        kill(pid, SIGKILL)
        usleep(300_000)
        #expect(try fixture.mesa(["unmount"]).status == 0)
        let before = try Shell.run(
            "curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer \(fixture.server.adminKey)' "
                + "'\(fixture.server.url)/v1/local/demo/content?path=pending.txt'")
        #expect(before.output == "404")
        #expect(try fixture.mesa(["mount", "-d"]).status == 0)
        #expect(try String(contentsOfFile: repo + "/pending.txt", encoding: .utf8) == "written before the kill\n")
        let sync = try fixture.mesa(["sync", "--timeout", "60"])
        #expect(sync.status == 0, "\(sync.standardOutput)\(sync.standardError)")
        let after = try Shell.run(
            "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' -H 'Accept: application/octet-stream' "
                + "'\(fixture.server.url)/v1/local/demo/content?path=pending.txt'")
        #expect(after.output == "written before the kill\n")
    }

    /// `mesa new` uploads pending edits into the shown change, starts a change on top of it and moves the mount's
    /// bookmark there; `mesa describe` sets the shown change's message. Another mount of the same repository sees
    /// the edits after a sync plus one poll.
    @Test func newAndDescribeMoveTheMountAndASecondMountSeesTheEdits() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        #expect(try fixture.mesa(["mount", "-d"], extra: ["MESA_SYNC_QUIET_MS": "600000", "MESA_SYNC_MAX_DELAY_MS": "600000"]).status == 0)
        let repo = fixture.mountPoint + "/local/demo"
        func changeID() throws -> String {
            let status = try JSONSerialization.jsonObject(with: Data(fixture.mesa(["status", "--json"]).standardOutput.utf8))
            return (status as? [String: String])?["local/demo.change_id"] ?? ""
        }
        func bookmarkChange() throws -> String {
            let answer = try Shell.run(
                "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' '\(fixture.server.url)/v1/local/demo/bookmarks'")
            let object = try JSONSerialization.jsonObject(with: Data(answer.output.utf8)) as? [String: Any]
            let bookmarks = object?["bookmarks"] as? [[String: Any]] ?? []
            return bookmarks.first { $0["name"] as? String == "main" }?["change_id"] as? String ?? ""
        }
        let first = try changeID()
        #expect(try Shell.run("echo one > '\(repo)/one.txt'").status == 0)
        let made = try fixture.mesa(["new", "-m", "second change"])
        #expect(made.status == 0, "\(made.standardOutput)\(made.standardError)")
        let second = try changeID()
        #expect(second != first && !second.isEmpty)
        #expect(try bookmarkChange() == second)
        // The edit went into the first change, before the new one started.
        let firstFiles = try Shell.run(
            "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' -H 'Accept: application/octet-stream' "
                + "'\(fixture.server.url)/v1/local/demo/content?path=one.txt&change_id=\(first)'")
        #expect(firstFiles.output == "one\n", "\(firstFiles.error)")
        #expect(try Shell.run("echo two > '\(repo)/two.txt'").status == 0)
        let described = try fixture.mesa(["describe", "-m", "described in the mount"])
        #expect(described.status == 0, "\(described.standardOutput)\(described.standardError)")
        #expect(try changeID() == second)
        let notInFirst = try Shell.run(
            "curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer \(fixture.server.adminKey)' "
                + "'\(fixture.server.url)/v1/local/demo/content?path=two.txt&change_id=\(first)'")
        #expect(notInFirst.output == "404", "two.txt was written after `mesa new`: it belongs to the second change")
        let change = try Shell.run(
            "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' '\(fixture.server.url)/v1/local/demo/changes/\(second)'")
        #expect(change.output.contains("described in the mount"), "\(change.output)")

        // A second mount of the repository (its own cache and state) sees the edits, then later ones after a sync
        // of the first mount and one poll.
        var other = fixture.environment
        for (key, name) in [("MESA_MOUNT_POINT", "mnt2"), ("MESA_CACHE_PATH", "cache2"), ("MESA_STATE_DIR", "state2"), ("MESA_RUNTIME_DIR", "run2")] {
            other[key] = fixture.scratch.appending(name)
        }
        #expect(try MesaBinary.run(["mount", "-d"], environment: other).status == 0)
        defer { _ = try? MesaBinary.run(["unmount"], environment: other) }
        let otherRepo = fixture.scratch.appending("mnt2") + "/local/demo"
        #expect(try String(contentsOfFile: otherRepo + "/two.txt", encoding: .utf8) == "two\n")
        #expect(try Shell.run("echo three > '\(repo)/three.txt'").status == 0)
        #expect(try fixture.mesa(["sync"]).status == 0)
        var seen = false
        for _ in 0..<50 where !seen {
            usleep(100_000)
            seen = (try? String(contentsOfFile: otherRepo + "/three.txt", encoding: .utf8)) == "three\n"
        }
        #expect(seen, "the second mount did not see the synced edit within 5 s (poll interval 300 ms)")
    }

    /// Pushes whose answers are lost (the proxy closes the connection after the server applied them) are
    /// recognized by the next attempt, even by a daemon killed and started again: when nothing changed since, the
    /// landed commit is acknowledged as it is (no new evolution); when edits came after it, they go on top of it.
    /// Either way `mesa sync` succeeds and every edit is on the server once.
    @Test func pushesWhoseAnswersAreLostAreRecognizedAfterARestart() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let proxy = try ProxyProcess(
            upstreamPort: fixture.server.port,
            arguments: ["--delay-ms", "0", "--drop-answers-to", "/sync/push", "--drop-count", "100000"])
        defer { proxy.stop() }
        let repo = fixture.mountPoint + "/local/demo"
        let quick = ["MESA_SYNC_QUIET_MS": "100", "MESA_SYNC_MAX_DELAY_MS": "500"]
        let lossy = quick.merging(["MESA_SERVICE_DOMAIN": proxy.url]) { $1 }
        func content(_ path: String) throws -> String? {
            let answer = try Shell.run(
                "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' -H 'Accept: application/octet-stream' "
                    + "'\(fixture.server.url)/v1/local/demo/content?path=\(path)'")
            return answer.status == 0 ? answer.output : nil
        }
        func status() throws -> [String: String] {
            let object = try JSONSerialization.jsonObject(with: Data(fixture.mesa(["status", "--json"]).standardOutput.utf8))
            return object as? [String: String] ?? [:]
        }
        func serverCommit() throws -> String {
            let id = try status()["local/demo.change_id"] ?? ""
            let answer = try Shell.run(
                "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' '\(fixture.server.url)/v1/local/demo/changes/\(id)'")
            let object = try JSONSerialization.jsonObject(with: Data(answer.output.utf8)) as? [String: Any]
            return object?["current_commit_oid"] as? String ?? ""
        }
        func waitForServer(_ path: String, _ expected: String) throws -> Bool {
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                if try content(path) == expected { return true }
                usleep(100_000)
            }
            return false
        }
        func killDaemon(waitingASecond: Bool) throws {
            let pid = try #require(try status()["pid"].flatMap { Int32($0) })
            // A commit built again after this second differs from the lost one (commit times are in seconds).
            if waitingASecond { usleep(1_100_000) }
            kill(pid, SIGKILL)
            usleep(300_000)
            #expect(try fixture.mesa(["unmount"]).status == 0)
        }

        // 1. The push lands, its answer is lost, the daemon dies: started again, it finds the change at that commit.
        #expect(try fixture.mesa(["mount", "-d"], extra: lossy).status == 0)
        #expect(try Shell.run("echo first > '\(repo)/lost.txt'").status == 0)
        #expect(try waitForServer("lost.txt", "first\n"), "the push through the lossy proxy never landed")
        let landed = try serverCommit()
        #expect(try status()["local/demo.pending_files"] == "1", "the lost answer leaves the edit pending")
        try killDaemon(waitingASecond: true)
        #expect(try fixture.mesa(["mount", "-d"], extra: quick).status == 0)
        let sync = try fixture.mesa(["sync", "--timeout", "60"])
        #expect(sync.status == 0, "\(sync.standardOutput)\(sync.standardError)")
        #expect(try serverCommit() == landed, "the same tree was pushed again as a new evolution")
        #expect(try fixture.mesa(["unmount"]).status == 0)

        // 2. Edits after the lost push (made within the quiet period, so no attempt sends them before the kill):
        //    started again, the daemon puts them on top of the landed commit.
        let slowLossy = lossy.merging(["MESA_SYNC_QUIET_MS": "3000", "MESA_SYNC_MAX_DELAY_MS": "600000"]) { $1 }
        #expect(try fixture.mesa(["mount", "-d"], extra: slowLossy).status == 0)
        #expect(try Shell.run("echo second > '\(repo)/lost.txt'").status == 0)
        #expect(try waitForServer("lost.txt", "second\n"), "the push through the lossy proxy never landed")
        #expect(try Shell.run("echo after > '\(repo)/after.txt' && rm '\(repo)/README.md'").status == 0)
        try killDaemon(waitingASecond: false)
        #expect(try fixture.mesa(["mount", "-d"], extra: quick).status == 0)
        let again = try fixture.mesa(["sync", "--timeout", "60"])
        #expect(again.status == 0, "\(again.standardOutput)\(again.standardError)")
        #expect(try content("lost.txt") == "second\n")
        #expect(try content("after.txt") == "after\n")
        #expect(try content("README.md") == nil)
        #expect(try status()["local/demo.last_error"] == "none")
        #expect(try status()["local/demo.pending_files"] == "0")
    }

    /// An empty repository (no change, no bookmark) mounts as an empty directory and takes writes: the first upload
    /// creates its first change on the default bookmark, later ones evolve that change.
    @Test func anEmptyRepositoryMountsAndItsFirstWriteCreatesTheDefaultBookmark() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        #expect(try fixture.mesa(["repo", "create", "blank"]).status == 0)
        #expect(try fixture.mesa(["mount", "-d"], extra: ["MESA_SYNC_QUIET_MS": "600000", "MESA_SYNC_MAX_DELAY_MS": "600000"]).status == 0)
        let repo = fixture.mountPoint + "/local/blank"
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo).isEmpty)
        func bookmarks() throws -> [[String: Any]] {
            let answer = try Shell.run(
                "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' '\(fixture.server.url)/v1/local/blank/bookmarks'")
            let object = try JSONSerialization.jsonObject(with: Data(answer.output.utf8)) as? [String: Any]
            return object?["bookmarks"] as? [[String: Any]] ?? []
        }
        func content(_ path: String) throws -> String {
            try Shell.run(
                "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' -H 'Accept: application/octet-stream' "
                    + "'\(fixture.server.url)/v1/local/blank/content?path=\(path)'").output
        }
        #expect(try bookmarks().isEmpty)
        #expect(try Shell.run("mkdir -p '\(repo)/src' && echo first > '\(repo)/src/first.txt'").status == 0)
        let sync = try fixture.mesa(["sync", "--timeout", "60"])
        #expect(sync.status == 0, "\(sync.standardOutput)\(sync.standardError)")
        let created = try bookmarks()
        #expect(created.map { $0["name"] as? String } == ["main"])
        let change = try #require(created.first?["change_id"] as? String)
        #expect(try content("src/first.txt") == "first\n")

        #expect(try Shell.run("echo second > '\(repo)/second.txt'").status == 0)
        #expect(try fixture.mesa(["sync", "--timeout", "60"]).status == 0)
        #expect(try bookmarks().first?["change_id"] as? String == change, "a later upload evolves the same change")
        #expect(try content("second.txt") == "second\n")
        #expect(try content("src/first.txt") == "first\n")

        // Emptied again (rm -rf): the change's tree is the empty tree, which the upload carries.
        #expect(try Shell.run("rm -rf '\(repo)'/*").status == 0)
        let emptied = try fixture.mesa(["sync", "--timeout", "60"])
        #expect(emptied.status == 0, "\(emptied.standardOutput)\(emptied.standardError)")
        #expect(try bookmarks().first?["change_id"] as? String == change)
        #expect(try Shell.run(
            "curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer \(fixture.server.adminKey)' "
                + "'\(fixture.server.url)/v1/local/blank/content?path=second.txt'").output == "404")
    }

    /// A read-scoped token makes the mount refuse writes with EROFS at once (reads work); `mesa auth set-token` with
    /// a write token accepts them again. A token that expires mid-session keeps every edit, `mesa status` says what
    /// to do, and a fresh token uploads them.
    @Test func credentialsDecideWhatTheMountAcceptsAndARefusedOneLosesNothing() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let repo = fixture.mountPoint + "/local/demo"
        func token(_ scopes: String, ttl: Int) throws -> String {
            let made = try fixture.mesa(["token", "create", "--scopes", scopes, "--ttl", "\(ttl)"])
            #expect(made.status == 0, "\(made.standardError)")
            return made.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let readOnly = try token("read", ttl: 3600)
        let mounted = try fixture.mesa(["mount", "-d"], extra: ["MESA_API_KEY": readOnly])
        #expect(mounted.status == 0, "\(mounted.standardError)")
        #expect(mounted.standardOutput.contains("read-only"), "\(mounted.standardOutput)")
        #expect(try String(contentsOfFile: repo + "/README.md", encoding: .utf8) == "# demo\n")
        let refused = try Shell.run("echo no > '\(repo)/new.txt'")
        #expect(refused.status != 0 && refused.error.contains("Read-only file system"), "\(refused.error)")
        #expect(try Shell.run("mkdir '\(repo)/dir'").error.contains("Read-only file system"))
        #expect(try Shell.run("echo more >> '\(repo)/README.md'").error.contains("Read-only file system"))

        // A write token: writes are accepted and upload.
        let set = try fixture.mesa(["auth", "set-token", try token("write", ttl: 3600)])
        #expect(set.status == 0, "\(set.standardError)")
        #expect(try Shell.run("echo yes > '\(repo)/new.txt'").status == 0)
        #expect(try fixture.mesa(["sync", "--timeout", "60"]).status == 0)
        #expect(try fixture.mesa(["unmount"]).status == 0)

        // A token that expires while edits are pending: they stay, status says what to do, a new token uploads them.
        let shortLived = try token("write", ttl: 2)
        #expect(try fixture.mesa(["mount", "-d"], extra: ["MESA_API_KEY": shortLived, "MESA_SYNC_QUIET_MS": "600000", "MESA_SYNC_MAX_DELAY_MS": "600000"]).status == 0)
        sleep(3)
        #expect(try Shell.run("echo kept > '\(repo)/kept.txt'").status == 0)
        let failed = try fixture.mesa(["sync", "--timeout", "30"])
        #expect(failed.status != 0)
        #expect(failed.standardError.contains("set-token"), "\(failed.standardOutput)\(failed.standardError)")
        let status = try fixture.mesa(["status"]).standardOutput
        #expect(status.contains("set-token") && status.contains("pending_files\t1"), "\(status)")
        #expect(try fixture.mesa(["auth", "set-token", try token("write", ttl: 3600)]).status == 0)
        let synced = try fixture.mesa(["sync", "--timeout", "60"])
        #expect(synced.status == 0, "\(synced.standardOutput)\(synced.standardError)")
        let kept = try Shell.run(
            "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' -H 'Accept: application/octet-stream' "
                + "'\(fixture.server.url)/v1/local/demo/content?path=kept.txt'")
        #expect(kept.output == "kept\n")
    }

    /// A mount used before starts with the server unreachable: cached content reads, uncached content fails with EIO
    /// within a second, writes go to the journal, status says offline with what is pending and `mesa sync` fails with
    /// the reason; once the server answers again, `mesa sync` uploads every edit.
    @Test func aMountStartsOfflineFromItsStateAndUploadsWhenTheServerIsBack() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        var proxy = try ProxyProcess(upstreamPort: fixture.server.port, arguments: ["--delay-ms", "0"])
        defer { proxy.stop() }
        let port = proxy.port
        let through = ["MESA_SERVICE_DOMAIN": proxy.url, "MESA_SYNC_QUIET_MS": "100"]
        let repo = fixture.mountPoint + "/local/demo"
        #expect(try fixture.mesa(["mount", "-d"], extra: through).status == 0)
        #expect(try String(contentsOfFile: repo + "/README.md", encoding: .utf8) == "# demo\n")
        #expect(try Shell.run("ls '\(repo)/src' '\(repo)/data' >/dev/null").status == 0)
        #expect(try fixture.mesa(["unmount"]).status == 0)

        proxy.stop()
        let started = try fixture.mesa(["mount", "-d"], extra: through)
        #expect(started.status == 0, "\(started.standardError)")
        func status() throws -> [String: String] {
            let object = try JSONSerialization.jsonObject(with: Data(fixture.mesa(["status", "--json"]).standardOutput.utf8))
            return object as? [String: String] ?? [:]
        }
        #expect(try status()["server_state"]?.hasPrefix("offline") == true)
        #expect(try String(contentsOfFile: repo + "/README.md", encoding: .utf8) == "# demo\n")
        let begin = Date()
        let uncached = try Shell.run("cat '\(repo)/data/blob.bin' > /dev/null")
        let seconds = Date().timeIntervalSince(begin)
        #expect(uncached.status != 0 && uncached.error.contains("Input/output error"), "\(uncached.error)")
        #expect(seconds < 1, "an uncached read took \(seconds) s to fail offline")
        #expect(try Shell.run("echo offline > '\(repo)/offline.txt' && echo more >> '\(repo)/README.md'").status == 0)
        #expect(try status()["local/demo.pending_files"] == "2")
        let failed = try fixture.mesa(["sync", "--timeout", "10"])
        #expect(failed.status != 0 && !failed.standardError.isEmpty)

        // The server answers again (a proxy on the same port): the edits upload.
        proxy = try ProxyProcess(upstreamPort: fixture.server.port, port: port, arguments: ["--delay-ms", "0"])
        let synced = try fixture.mesa(["sync", "--timeout", "60"])
        #expect(synced.status == 0, "\(synced.standardOutput)\(synced.standardError)")
        func content(_ path: String) throws -> String {
            try Shell.run(
                "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' -H 'Accept: application/octet-stream' "
                    + "'\(fixture.server.url)/v1/local/demo/content?path=\(path)'").output
        }
        #expect(try content("offline.txt") == "offline\n")
        #expect(try content("README.md") == "# demo\nmore\n")
        let deadline = Date().addingTimeInterval(5)
        while try status()["server_state"] != "online", Date() < deadline { usleep(100_000) }
        #expect(try status()["server_state"] == "online")
    }

    /// An outage long enough for the upload back-off to grow to 16 s (22 s): once the server answers again, the edits made
    /// meanwhile arrive without a `mesa sync`, well before the back-off would have retried (the reconnect probe).
    @Test func editsMadeDuringALongOutageArriveSoonAfterTheServerIsBack() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        var proxy = try ProxyProcess(upstreamPort: fixture.server.port, arguments: ["--delay-ms", "0"])
        defer { proxy.stop() }
        let port = proxy.port
        let through = ["MESA_SERVICE_DOMAIN": proxy.url, "MESA_SYNC_QUIET_MS": "100", "MESA_RECONNECT_PROBE_MS": "200"]
        let repo = fixture.mountPoint + "/local/demo"
        #expect(try fixture.mesa(["mount", "-d"], extra: through).status == 0)
        #expect(try String(contentsOfFile: repo + "/README.md", encoding: .utf8) == "# demo\n")
        proxy.stop()
        #expect(try Shell.run("echo during the outage > '\(repo)/outage.txt'").status == 0)
        // Failed uploads (each about 0.5 s: three connection attempts) back off 0.5, 1, 2, 4, 8, then 16 s: the sixth
        // failure comes about 18 s into the outage, so at 22 s the next attempt is still some 12 s away.
        Thread.sleep(forTimeInterval: 22)
        proxy = try ProxyProcess(upstreamPort: fixture.server.port, port: port, arguments: ["--delay-ms", "0"])
        func content(_ path: String) throws -> String? {
            let reply = try Shell.run(
                "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' -H 'Accept: application/octet-stream' "
                    + "'\(fixture.server.url)/v1/local/demo/content?path=\(path)'")
            return reply.status == 0 ? reply.output : nil
        }
        let deadline = Date().addingTimeInterval(8)
        while try content("outage.txt") == nil, Date() < deadline { usleep(100_000) }
        #expect(try content("outage.txt") == "during the outage\n")
    }

    /// `mesa unmount` answers once the daemon's last upload is done and the mount is gone: right after it returns,
    /// the mount point is no longer mounted and the server has the edit that was still waiting for its quiet period.
    @Test func unmountReturnsOnceTheLastUploadIsDoneAndTheMountIsGone() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let quiet = ["MESA_SYNC_QUIET_MS": "600000", "MESA_SYNC_MAX_DELAY_MS": "600000"]
        #expect(try fixture.mesa(["mount", "-d"], extra: quiet).status == 0)
        let repo = fixture.mountPoint + "/local/demo"
        #expect(try Shell.run("echo before unmount > '\(repo)/late.txt'").status == 0)
        let unmounted = try fixture.mesa(["unmount"])
        #expect(unmounted.status == 0, "\(unmounted.standardError)")
        #expect(unmounted.standardOutput.contains("every edit is on the server"), "\(unmounted.standardOutput)")
        let mounts = try String(contentsOfFile: "/proc/mounts", encoding: .utf8)
        #expect(!mounts.contains(" \(fixture.mountPoint) "))
        let content = try Shell.run(
            "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' -H 'Accept: application/octet-stream' "
                + "'\(fixture.server.url)/v1/local/demo/content?path=late.txt'")
        #expect(content.output == "before unmount\n")
    }

    /// A file still being written while uploads read it (a short quiet period, a growing file): a `mesa sync` made
    /// meanwhile waits for the writes to settle instead of failing, and the server gets the final bytes.
    @Test func aSyncWhileAFileIsWrittenWaitsForItAndUploadsTheWholeFile() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let mounted = try fixture.mesa(["mount", "-d"], extra: ["MESA_SYNC_QUIET_MS": "20", "MESA_SYNC_MAX_DELAY_MS": "60"])
        #expect(mounted.status == 0, "\(mounted.standardError)")
        let repo = fixture.mountPoint + "/local/demo"
        let piece = fixture.scratch.appending("piece.bin")
        #expect(try Shell.run("head -c 1048576 /dev/urandom > '\(piece)'").status == 0)
        // 48 appends of 1 MiB, 30 ms apart, in the background; the sync starts while the file grows.
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/bin/sh")
        writer.arguments = ["-c", "for i in $(seq 48); do cat '\(piece)' >> '\(repo)/growing.bin'; sleep 0.03; done"]
        try writer.run()
        Thread.sleep(forTimeInterval: 0.3)
        let sync = try fixture.mesa(["sync", "--timeout", "120"])
        writer.waitUntilExit()
        #expect(writer.terminationStatus == 0)
        #expect(sync.status == 0, "\(sync.standardOutput)\(sync.standardError)")
        let final = try fixture.mesa(["sync", "--timeout", "120"])
        #expect(final.status == 0, "\(final.standardOutput)\(final.standardError)")
        let local = try Shell.run("sha256sum < '\(repo)/growing.bin'").output
        let remote = try Shell.run(
            "curl -sf -H 'Authorization: Bearer \(fixture.server.adminKey)' -H 'Accept: application/octet-stream' "
                + "'\(fixture.server.url)/v1/local/demo/content?path=growing.bin' | sha256sum").output
        #expect(try Shell.run("stat -c %s '\(repo)/growing.bin'").output.hasPrefix("50331648"))
        #expect(local == remote)
    }

    @Test func aKilledDaemonLeavesNoStuckMountAfterUnmount() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        #expect(try fixture.mesa(["mount", "-d"]).status == 0)
        let pid = try #require(
            try fixture.mesa(["status"]).standardOutput.split(separator: "\n").first { $0.hasPrefix("pid\t") }
                .flatMap { Int32($0.dropFirst(4)) })
        kill(pid, SIGKILL)
        usleep(300_000)
        let unmount = try fixture.mesa(["unmount"])
        #expect(unmount.status == 0, "\(unmount.standardError)")
        #expect(try Shell.run("grep -q ' \(fixture.mountPoint) ' /proc/mounts").status != 0)
        #expect(try Shell.run("ls '\(fixture.mountPoint)'").status == 0)
    }

    /// A state directory damaged while no mount ran (an overlay file gone, `mount.json` cut short) is refused by
    /// the next mount with a pointer to `mesa debug fsck`, which names the damage by path and repairs it; the mount
    /// then starts and serves what the repair kept.
    @Test func aDamagedStateDirectoryIsRefusedUntilFsckRepairsIt() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let slow = ["MESA_SYNC_QUIET_MS": "600000", "MESA_SYNC_MAX_DELAY_MS": "600000"]
        #expect(try fixture.mesa(["mount", "-d"], extra: slow).status == 0)
        let repo = fixture.mountPoint + "/local/demo"
        #expect(try Shell.run("echo pending > '\(repo)/pending.txt' && echo kept > '\(repo)/kept.txt'").status == 0)
        let pid = try #require(
            try fixture.mesa(["status"]).standardOutput.split(separator: "\n").first { $0.hasPrefix("pid\t") }
                .flatMap { Int32($0.dropFirst(4)) })
        kill(pid, SIGKILL)
        usleep(300_000)
        #expect(try fixture.mesa(["unmount"]).status == 0)

        // The damage: the overlay file of pending.txt is gone (a person, a disk), mount.json is cut short.
        let state = fixture.scratch.appending("state")
        let overlay = state + "/journal/local/overlay"
        let files = try FileManager.default.contentsOfDirectory(atPath: overlay)
        let pendingFile = try #require(
            files.first { (try? String(contentsOfFile: overlay + "/" + $0, encoding: .utf8)) == "pending\n" })
        #expect(unlink(overlay + "/" + pendingFile) == 0)
        #expect(try Shell.run("truncate -s 10 '\(state)/mount.json'").status == 0)

        let refused = try fixture.mesa(["mount", "-d"])
        #expect(refused.status != 0 && refused.standardError.contains("mesa debug fsck --state-dir"), "\(refused.standardError)")
        #expect(try Shell.run("grep -q ' \(fixture.mountPoint) ' /proc/mounts").status != 0)

        let check = try fixture.mesa(["debug", "fsck"])
        #expect(check.status == 1, "\(check.standardOutput)\(check.standardError)")
        #expect(check.standardOutput.contains("damage\tmissing-overlay\tlocal/demo/pending.txt\t"))
        #expect(check.standardOutput.contains("damage\tunreadable-record\t"))
        #expect(FileManager.default.fileExists(atPath: state + "/mount.json"))  // a check changes nothing

        let repair = try fixture.mesa(["debug", "fsck", "--repair"])
        #expect(repair.status == 0, "\(repair.standardOutput)\(repair.standardError)")
        #expect(repair.standardOutput.contains("repaired\tmissing-overlay local/demo/pending.txt"))
        #expect(try fixture.mesa(["debug", "fsck"]).status == 0)

        let mounted = try fixture.mesa(["mount", "-d"], extra: slow)
        #expect(mounted.status == 0, "\(mounted.standardError)")
        #expect(!FileManager.default.fileExists(atPath: repo + "/pending.txt"))
        #expect(try String(contentsOfFile: repo + "/kept.txt", encoding: .utf8) == "kept\n")
        #expect(try String(contentsOfFile: repo + "/README.md", encoding: .utf8) == "# demo\n")
        let busy = try fixture.mesa(["debug", "fsck", "--repair"])
        #expect(busy.status != 0 && busy.standardError.contains("unmount it first"))
    }

    @Test func everyErrorCaseSaysWhatToDo() throws {
        let fixture = try Fixture()
        defer { fixture.cleanUp() }
        let noCredential = try fixture.mesa(["mount"], extra: ["MESA_API_KEY": ""])
        #expect(noCredential.status != 0 && noCredential.standardError.contains("MESA_API_KEY"))
        let unreachable = try fixture.mesa(["mount"], extra: ["MESA_SERVICE_DOMAIN": "http://127.0.0.1:1"])
        #expect(unreachable.status != 0 && unreachable.standardError.contains("cannot reach the Mesa server"))
        let expired = try fixture.mesa(["mount"], extra: ["MESA_API_KEY": "mesa_nosuchkey_secret"])
        #expect(expired.status != 0 && expired.standardError.contains("credential was refused"))
        let readOnlyToken = try fixture.mesa(["token", "create", "--scopes", "read", "--repos", "local/none"])
            .standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        // A token limited to another repo sees no repositories: the mount comes up empty, never with them.
        let restricted = ["MESA_API_KEY": readOnlyToken, "MESA_MOUNT_POINT": fixture.scratch.appending("m2")]
        let forbidden = try fixture.mesa(["mount", "-d"], extra: restricted)
        #expect(forbidden.status == 0, "\(forbidden.standardError)")
        #expect(forbidden.standardOutput.contains("mounted 0 repositories"))
        #expect(try fixture.mesa(["unmount"], extra: restricted).status == 0)

        try FileManager.default.createDirectory(atPath: fixture.mountPoint, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: fixture.mountPoint + "/stray", contents: Data()))
        let notEmpty = try fixture.mesa(["mount"])
        #expect(notEmpty.status != 0 && notEmpty.standardError.contains("is not empty"))
        try FileManager.default.removeItem(atPath: fixture.mountPoint + "/stray")

        #expect(try fixture.mesa(["mount", "-d"]).status == 0)
        let busy = try fixture.mesa(["mount", "-d"])
        #expect(busy.status != 0 && busy.standardError.contains("already a mount point"))
        #expect(try fixture.mesa(["unmount"]).status == 0)

        // Unprivileged, without user_allow_other in /etc/fuse.conf.
        let fuseConf = (try? String(contentsOfFile: "/etc/fuse.conf", encoding: .utf8)) ?? ""
        if !fuseConf.split(separator: "\n").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "user_allow_other" }) {
            let environment = fixture.environment.merging(["MESA_MOUNT_POINT": "/tmp/mesa-nobody-\(getpid())", "HOME": "/tmp"]) { $1 }
            let assignments = environment.map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
            let unprivileged = try Shell.run(
                "chmod o+rx '\(MesaBinary.path)'; env \(assignments) setpriv --reuid=65534 --regid=65534 --clear-groups '\(MesaBinary.path)' mount 2>&1")
            #expect(unprivileged.status != 0)
            #expect(unprivileged.output.contains("user_allow_other") || unprivileged.output.contains("/dev/fuse"), "\(unprivileged.output)")
        }
    }
}
