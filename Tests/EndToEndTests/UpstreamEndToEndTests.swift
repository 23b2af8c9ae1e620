import Foundation
import MesaKit
import MesaTesting
import MesaWire
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real `git daemon` on 127.0.0.1 serving (and accepting pushes into) the bare repositories under a directory;
/// terminated in `deinit`.
final class GitDaemon {
    let base: TemporaryDirectory
    let port: Int
    private var process: Process?

    /// Picks a free port; the daemon starts with ``start()``.
    init() throws {
        base = try TemporaryDirectory(prefix: "mesa-e2e-daemon")
        port = try Self.freePort()
    }

    /// `git://127.0.0.1:PORT/<name>`.
    func url(_ name: String) -> String { "git://127.0.0.1:\(port)/\(name)" }

    /// The path of a repository under the base.
    func path(_ name: String) -> String { base.appending(name) }

    /// Starts `git daemon` and waits until it answers `git ls-remote`.
    func start(waitingFor repository: String) throws {
        let process = Process()
        // git-daemon itself, not the `git daemon` wrapper: the process to kill is then the one listening.
        process.executableURL = URL(fileURLWithPath: "/usr/lib/git-core/git-daemon")
        process.arguments = [
            "--export-all", "--enable=receive-pack", "--reuseaddr", "--base-path=\(base.path)",
            "--port=\(port)", "--listen=127.0.0.1", base.path,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if try Shell.run("git ls-remote '\(url(repository))' >/dev/null 2>&1").status == 0 { return }
            usleep(100_000)
        }
        throw ShellFailure(command: "git daemon", output: "did not answer on port \(port)")
    }

    deinit {
        // SIGKILL: the daemon inherits the test process's blocked signals, so SIGTERM would stay pending.
        if let process, process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// A port nothing listens on right now (bound to 0 and released).
    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw ShellFailure(command: "socket", output: "errno \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
        }
        guard bound == 0 else { throw ShellFailure(command: "bind", output: "errno \(errno)") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        guard named == 0 else { throw ShellFailure(command: "getsockname", output: "errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Upstream remotes end to end: a real `mesa serve` syncing with a real `git daemon` over `git://`, edits through
/// REST in between, and the remote read back with `git`.
@Suite(.serialized, .tags(.e2e)) struct UpstreamEndToEndTests {
    static let fastRetries = ["--upstream-retry-base", "0.2", "--upstream-retry-max", "0.5"]

    /// Runs `git` on a bare repository and returns its trimmed output.
    private func git(_ repository: String, _ arguments: String) throws -> String {
        let result = try Shell.run("git --git-dir='\(repository)' \(arguments)")
        guard result.status == 0 else { throw ShellFailure(command: "git \(arguments)", output: result.error) }
        return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A source repository with history on `main` and a `feature` branch, cloned bare as `remote.git` under the
    /// daemon's base.
    private func makeRemote(_ daemon: GitDaemon) throws -> GitSource {
        let source = try GitSource()
        try source.write("README.md", "# upstream\n")
        try source.write("src/main.c", "int main(void) { return 0; }\n")
        try source.commit("first")
        try source.write("src/main.c", "int main(void) { return 1; }\n")
        try source.write("tool.sh", "#!/bin/sh\necho hi\n", executable: true)
        try source.commit("second")
        try source.git("checkout -q -b feature")
        try source.write("feature.txt", "feature work\n")
        try source.commit("feature")
        try source.git("checkout -q main")
        let cloned = try Shell.run("git clone -q --bare '\(source.path)' '\(daemon.path("remote.git"))'")
        guard cloned.status == 0 else { throw ShellFailure(command: "git clone --bare", output: cloned.error) }
        return source
    }

    /// Polls a sync until it is completed or failed (or `seconds` pass) and returns it.
    private func finished(_ mesa: Mesa, _ repo: String, _ id: String, seconds: Double = 90) async throws
        -> UpstreamSync
    {
        let deadline = Date().addingTimeInterval(seconds)
        var sync = try await mesa.upstreamSyncs(repo).get(id)
        while !["completed", "failed"].contains(sync.status), Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            sync = try await mesa.upstreamSyncs(repo).get(id)
        }
        return sync
    }

    /// Starts a sync and waits for it to finish; expects it completed and returns its outcomes by ref name.
    private func sync(
        _ mesa: Mesa,
        _ repo: String,
        _ direction: String,
        globs: UpstreamRefGlobs? = nil
    ) async throws -> [String: UpstreamSyncRef] {
        let started = try await mesa.upstreamSyncs(repo).start(direction: direction, refGlobs: globs)
        #expect(started.direction == direction)
        #expect(["queued", "in_progress", "completed"].contains(started.status))
        let done = try await finished(mesa, repo, started.id)
        #expect(done.status == "completed", "\(done.error ?? "")")
        #expect(done.attempt == 1)
        #expect(done.startedAt != nil && done.finishedAt != nil)
        let refs = try #require(done.stats).refs
        return Dictionary(refs.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    private func commit(of mesa: Mesa, _ repo: String, bookmark: String) async throws -> String {
        let change = try await mesa.bookmarks(repo).get(bookmark).changeID
        return try await mesa.changes(repo).get(change).currentCommitOID
    }

    @Test func pullEditPushRoundTripsThroughARealGitDaemon() async throws {
        let daemon = try GitDaemon()
        let source = try makeRemote(daemon)
        try daemon.start(waitingFor: "remote.git")
        let remote = daemon.path("remote.git")
        let server = try ServerProcess(extraArguments: Self.fastRetries)
        let mesa = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
        _ = try await mesa.repos.create(name: "mirror")
        let secret = "tok-\(UUID().uuidString)"
        let upstream = UpstreamRequest(url: daemon.url("remote.git"), auth: .set(.token(token: secret, username: nil)))
        let attached = try await mesa.repos.update("mirror", UpdateRepoRequest(upstream: .set(upstream)))
        #expect(attached.upstream?.url == daemon.url("remote.git"))
        #expect(attached.upstream?.authKind == "token")
        #expect(attached.upstream?.latestSync == nil)

        // Pull: both branches become bookmarks at the remote's commits, content readable through REST.
        let pulled = try await sync(mesa, "mirror", "pull")
        #expect(pulled["refs/heads/main"]?.outcome == "updated")
        #expect(pulled["refs/heads/main"]?.before == nil)
        #expect(pulled["refs/heads/feature"]?.outcome == "updated")
        #expect(try await commit(of: mesa, "mirror", bookmark: "main") == source.revParse("main"))
        #expect(try await commit(of: mesa, "mirror", bookmark: "feature") == source.revParse("feature"))
        let mainChange = try await mesa.bookmarks("mirror").get("main").changeID
        let readme = try await mesa.content("mirror").bytes(path: "README.md", changeID: mainChange)
        #expect(String(decoding: readme, as: UTF8.self) == "# upstream\n")
        let history = try await mesa.changes("mirror").list(bookmark: "main").items
        #expect(history.count >= 2)
        // The repo answer carries the latest sync, and never the credential.
        let repo = try await mesa.repos.get("mirror")
        #expect(repo.upstream?.latestSync?.direction == "pull")
        #expect(repo.upstream?.latestSync?.status == "completed")

        // A second pull changes nothing.
        let again = try await sync(mesa, "mirror", "pull")
        #expect(again.values.allSatisfy { $0.outcome == "unchanged" })

        // Edit through REST, then push only `main` (the glob filters `feature`).
        let edited = try await mesa.changes("mirror").create(
            base: mainChange,
            message: "edited through REST",
            files: [.upsert("notes/new.txt", text: "from mesa\n")]
        )
        _ = try await mesa.bookmarks("mirror").move("main", to: edited.id)
        let pushed = try await sync(mesa, "mirror", "push", globs: UpstreamRefGlobs(branches: "main"))
        #expect(pushed["refs/heads/main"]?.outcome == "updated")
        #expect(pushed["refs/heads/main"]?.before == (try source.revParse("main")))
        #expect(pushed["refs/heads/main"]?.after == edited.currentCommitOID)
        #expect(pushed["refs/heads/feature"]?.outcome == "filtered")
        #expect(try git(remote, "log -1 --format=%H main") == edited.currentCommitOID)
        #expect(try git(remote, "log -1 --format=%s main") == "edited through REST")
        #expect(try git(remote, "show main:notes/new.txt") == "from mesa")
        #expect(try git(remote, "show main:README.md") == "# upstream")
        #expect(try git(remote, "rev-parse main~1") == (try source.revParse("main")))
        #expect(try Shell.run("git --git-dir='\(remote)' fsck --no-dangling").status == 0)

        // A remote that refuses a ref (an update hook): that ref is rejected by the remote's own answer.
        let hook = remote + "/hooks/update"
        let script = "#!/bin/sh\n[ \"$1\" = refs/heads/protected ] && { echo protected >&2; exit 1; }\nexit 0\n"
        #expect(FileManager.default.createFile(atPath: hook, contents: Data(script.utf8)))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)
        _ = try await mesa.bookmarks("mirror").create(name: "protected", changeID: edited.id)
        let hooked = try await sync(mesa, "mirror", "push", globs: UpstreamRefGlobs(branches: "prot*"))
        #expect(hooked["refs/heads/protected"]?.outcome == "rejected")
        #expect(hooked["refs/heads/protected"]?.before == nil)
        #expect(try Shell.run("git --git-dir='\(remote)' rev-parse --verify -q protected").status != 0)
        try await mesa.bookmarks("mirror").delete("protected")

        // Pull with a glob: only the matching branch takes part.
        let filtered = try await sync(mesa, "mirror", "pull", globs: UpstreamRefGlobs(branches: "feat*"))
        #expect(filtered["refs/heads/main"]?.outcome == "filtered")
        #expect(filtered["refs/heads/feature"]?.outcome == "unchanged")

        // The remote's feature moves on while Mesa's feature moves elsewhere: neither side is rewritten.
        try source.git("checkout -q feature")
        try source.write("feature.txt", "remote work\n")
        try source.commit("remote feature")
        try source.git("push -q '\(remote)' feature")
        let featureChange = try await mesa.bookmarks("mirror").get("feature").changeID
        let diverged = try await mesa.changes("mirror").create(
            base: featureChange,
            message: "mesa feature",
            files: [.upsert("feature.txt", text: "mesa work\n")]
        )
        _ = try await mesa.bookmarks("mirror").move("feature", to: diverged.id)
        let refusedPush = try await sync(mesa, "mirror", "push")
        #expect(refusedPush["refs/heads/feature"]?.outcome == "rejected")
        #expect(refusedPush["refs/heads/main"]?.outcome == "unchanged")
        #expect(try git(remote, "rev-parse feature") == (try source.revParse("feature")))
        let refusedPull = try await sync(mesa, "mirror", "pull")
        #expect(refusedPull["refs/heads/feature"]?.outcome == "rejected")
        #expect(try await commit(of: mesa, "mirror", bookmark: "feature") == diverged.currentCommitOID)

        // A fast-forward on the remote is pulled: only the new commit's records are stored.
        try source.git("checkout -q main")
        try source.git("pull -q '\(remote)' main")
        try source.write("later.txt", "later\n")
        try source.commit("later")
        try source.git("push -q '\(remote)' main")
        let forward = try await sync(mesa, "mirror", "pull", globs: UpstreamRefGlobs(branches: "main"))
        #expect(forward["refs/heads/main"]?.outcome == "updated")
        #expect(forward["refs/heads/main"]?.before == edited.currentCommitOID)
        #expect(try await commit(of: mesa, "mirror", bookmark: "main") == source.revParse("main"))
        // The REST change keeps its id: the pulled commit's parent is that change.
        let tip = try await mesa.changes("mirror").get(try await mesa.bookmarks("mirror").get("main").changeID)
        #expect(tip.parents == [edited.id])

        // Every sync is listed, newest first.
        let listed = try await mesa.upstreamSyncs("mirror").list(limit: 100)
        #expect(listed.items.count == 8)
        #expect(listed.items.first?.direction == "pull")
        #expect(listed.nextCursor == nil)

        // The credential is in no answer and in no file of the data directory; the key file is private.
        let answers = try Shell.run(
            "curl -s -H 'Authorization: Bearer \(server.adminKey)' \(server.url)/v1/local/mirror "
                + "\(server.url)/v1/local/repos \(server.url)/v1/local/mirror/upstream/syncs"
        )
        #expect(answers.output.contains("\"auth_kind\":\"token\""))
        #expect(!answers.output.contains(secret))
        let grep = try Shell.run("grep -rl -a -F '\(secret)' '\(server.directory.path)'")
        #expect(grep.status == 1, "the credential is in plain text in \(grep.output)")
        let attributes = try FileManager.default.attributesOfItem(atPath: server.directory.appending("upstream.key"))
        #expect((attributes[.posixPermissions] as? Int) == 0o600)

        // Deleting the repo deletes its mirror.
        let mirror = server.directory.appending("upstream/\(attached.id).git")
        #expect(FileManager.default.fileExists(atPath: mirror))
        try await mesa.repos.delete("mirror")
        #expect(!FileManager.default.fileExists(atPath: mirror))
        server.stop()
    }

    @Test func aSyncQueuedWhenTheServerStopsCompletesAfterARestart() async throws {
        let daemon = try GitDaemon()
        let source = try makeRemote(daemon)
        let server = try ServerProcess(extraArguments: Self.fastRetries + ["--upstream-max-attempts", "100000"])
        let mesa = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
        _ = try await mesa.repos.create(name: "later")
        _ = try await mesa.repos.update(
            "later",
            UpdateRepoRequest(upstream: .set(UpstreamRequest(url: daemon.url("remote.git"))))
        )

        // The daemon is not running yet: attempts fail and the job waits for its retry.
        let started = try await mesa.upstreamSyncs("later").start(direction: "pull")
        let deadline = Date().addingTimeInterval(60)
        var waiting = try await mesa.upstreamSyncs("later").get(started.id)
        while waiting.attempt < 2, Date() < deadline {
            try await Task.sleep(for: .milliseconds(100))
            waiting = try await mesa.upstreamSyncs("later").get(started.id)
        }
        #expect(waiting.attempt >= 2)
        #expect(["queued", "in_progress"].contains(waiting.status))
        #expect(waiting.error != nil || waiting.status == "in_progress")

        try daemon.start(waitingFor: "remote.git")
        let restarted = try ServerProcess(restarting: server)
        let after = Mesa(apiKey: restarted.adminKey, org: "local", baseURL: restarted.url)
        let done = try await finished(after, "later", started.id)
        #expect(done.status == "completed", "\(done.error ?? "")")
        #expect(done.error == nil)
        #expect(try await commit(of: after, "later", bookmark: "main") == source.revParse("main"))
        #expect(try await commit(of: after, "later", bookmark: "feature") == source.revParse("feature"))
        restarted.stop()
    }
}

/// `git http-backend` behind a loopback HTTP server (MesaTesting's ``LoopbackHTTPServer`` running the CGI per
/// request), with HTTP basic authentication: git's smart HTTP protocol as a git host serves it.
final class GitHTTPBackend: Sendable {
    let root: TemporaryDirectory
    private let server: LoopbackHTTPServer

    /// Serves the repositories under a new directory to requests with `Authorization: Basic <user:password>`;
    /// others get 401 with a `WWW-Authenticate` challenge.
    init(username: String, password: String) throws {
        let root = try TemporaryDirectory(prefix: "mesa-e2e-http")
        self.root = root
        let expected = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        server = try LoopbackHTTPServer { request in
            guard request.header("Authorization") == expected else {
                return LoopbackHTTPServer.Response(
                    status: 401,
                    headers: [LoopbackHTTPServer.Header("WWW-Authenticate", "Basic realm=\"git\"")]
                )
            }
            return (try? Self.cgi(request, root: root.path, user: username))
                ?? LoopbackHTTPServer.Response(status: 500)
        }
    }

    /// `http://127.0.0.1:PORT/<name>`.
    func url(_ name: String) -> String { "http://127.0.0.1:\(server.port)/\(name)" }

    deinit { server.stop() }

    /// Runs `git http-backend` for one request (RFC 3875 CGI): the body on standard input, the answer's header
    /// fields (with `Status:`) and body on standard output.
    private static func cgi(_ request: LoopbackHTTPServer.Request, root: String, user: String) throws
        -> LoopbackHTTPServer.Response
    {
        let input = root + "/.request-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: input, contents: Data(request.body)) else {
            return LoopbackHTTPServer.Response(status: 500)
        }
        defer { try? FileManager.default.removeItem(atPath: input) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/lib/git-core/git-http-backend")
        var environment = [
            "GIT_PROJECT_ROOT": root, "GIT_HTTP_EXPORT_ALL": "1", "REQUEST_METHOD": request.method,
            "PATH_INFO": request.rawPath, "QUERY_STRING": request.rawQuery, "REMOTE_USER": user,
            "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": String(request.body.count), "GIT_CONFIG_NOSYSTEM": "1",
            "PATH": "/usr/bin:/bin",
        ]
        if let type = request.header("Content-Type") { environment["CONTENT_TYPE"] = type }
        if let protocolHeader = request.header("Git-Protocol") { environment["GIT_PROTOCOL"] = protocolHeader }
        process.environment = environment
        process.standardInput = FileHandle(forReadingAtPath: input)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let bytes = [UInt8](output.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        // The header ends at the first empty line (CRLF or LF).
        var split = bytes.count
        var bodyStart = bytes.count
        for index in bytes.indices {
            if bytes[index...].starts(with: [13, 10, 13, 10]) {
                (split, bodyStart) = (index, index + 4)
                break
            }
            if bytes[index...].starts(with: [10, 10]) {
                (split, bodyStart) = (index, index + 2)
                break
            }
        }
        var status = 200
        var headers: [LoopbackHTTPServer.Header] = []
        for line in String(decoding: bytes[..<split], as: UTF8.self).split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            if parts[0].lowercased() == "status" {
                status = Int(parts[1].prefix(3)) ?? 500
            } else {
                headers.append(LoopbackHTTPServer.Header(parts[0], parts[1]))
            }
        }
        return LoopbackHTTPServer.Response(status: status, headers: headers, body: .bytes(Array(bytes[bodyStart...])))
    }
}

extension UpstreamEndToEndTests {
    @Test func pullAndPushOverSmartHTTPWithATokenAndRefusedWithAWrongOne() async throws {
        let token = "tok-\(UUID().uuidString)"
        let backend = try GitHTTPBackend(username: "x-access-token", password: token)
        let source = try GitSource()
        try source.write("README.md", "# over http\n")
        try source.commit("first")
        let remote = backend.root.appending("remote.git")
        let cloned = try Shell.run("git clone -q --bare '\(source.path)' '\(remote)'")
        #expect(cloned.status == 0, "\(cloned.error)")

        let server = try ServerProcess(extraArguments: Self.fastRetries + ["--upstream-max-attempts", "2"])
        let mesa = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
        _ = try await mesa.repos.create(name: "web")
        let upstream = UpstreamRequest(url: backend.url("remote.git"), auth: .set(.token(token: token, username: nil)))
        _ = try await mesa.repos.update("web", UpdateRepoRequest(upstream: .set(upstream)))

        let pulled = try await sync(mesa, "web", "pull")
        #expect(pulled["refs/heads/main"]?.outcome == "updated")
        #expect(try await commit(of: mesa, "web", bookmark: "main") == source.revParse("main"))
        let base = try await mesa.bookmarks("web").get("main").changeID
        let edited = try await mesa.changes("web").create(
            base: base,
            message: "over http",
            files: [.upsert("web.txt", text: "sent over http\n")]
        )
        _ = try await mesa.bookmarks("web").move("main", to: edited.id)
        let pushed = try await sync(mesa, "web", "push")
        #expect(pushed["refs/heads/main"]?.outcome == "updated")
        #expect(try git(remote, "log -1 --format=%H main") == edited.currentCommitOID)
        #expect(try git(remote, "show main:web.txt") == "sent over http")

        // The same account as a username and password.
        _ = try await mesa.repos.create(name: "basic")
        let basic = UpstreamRequest(
            url: backend.url("remote.git"),
            auth: .set(.usernamePassword(username: "x-access-token", password: token))
        )
        _ = try await mesa.repos.update("basic", UpdateRepoRequest(upstream: .set(basic)))
        let basicPull = try await sync(mesa, "basic", "pull")
        #expect(basicPull["refs/heads/main"]?.outcome == "updated")
        #expect(try await commit(of: mesa, "basic", bookmark: "main") == edited.currentCommitOID)

        // A wrong token: every attempt is refused by the remote, and the job fails after its attempts.
        _ = try await mesa.repos.create(name: "denied")
        let wrong = UpstreamRequest(url: backend.url("remote.git"), auth: .set(.token(token: "wrong", username: nil)))
        _ = try await mesa.repos.update("denied", UpdateRepoRequest(upstream: .set(wrong)))
        let started = try await mesa.upstreamSyncs("denied").start(direction: "pull")
        let done = try await finished(mesa, "denied", started.id)
        #expect(done.status == "failed")
        #expect(done.attempt == 2)
        #expect(done.error?.contains("refused the credentials") == true, "\(done.error ?? "")")
        #expect(done.error?.contains("wrong") == false)
        #expect(try await mesa.bookmarks("denied").list().items.isEmpty)
        server.stop()
    }
}
