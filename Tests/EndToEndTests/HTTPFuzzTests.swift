import Dispatch
import Foundation
import MesaCore
import MesaStore
import MesaTesting
import MesaWire
import Synchronization
import Testing

// A randomized campaign of malformed and hostile requests against a real `mesa serve` (HTTPFuzzRequests.swift builds
// them), over raw TCP so that nothing between the generator and the server cleans a request up. What must hold
// whatever is sent: no answer is a 5xx; every error answer carries Mesa's JSON error body (MESA-API.md; a HEAD answer
// has no body); a request that could write is refused; nothing a refused request carried is stored (the store's
// segment files do not grow); a request the server can read whole is answered, never left hanging; the server stays
// up (a crash is recorded with the request that caused it, and the server restarted over the same data so the
// campaign goes on). A head sent in part is closed by the head timeout, and a head over 64 KiB gets 431 with the
// error body.
//
// The campaign is deterministic for a seed: `MESA_FUZZ_SEED` overrides the default, `MESA_FUZZ_REQUESTS` the number
// of requests (3,000), and each finding prints the seed, the request's index and every byte it sent.

@Suite(.serialized, .tags(.e2e)) struct HTTPFuzzTests {
    static let defaultSeed: UInt64 = 0x4D45_5341_4655_5A5A
    /// The campaign stops early, whatever its count, after this long. Alone it takes under 10 s; beside the other
    /// suites (fsync-heavy: every acknowledged push syncs the store and the WAL) one run here took 60 s for 943
    /// requests, so the budget leaves room for a loaded disk.
    static let budget: Double = 180

    /// The campaign's sockets block; between requests it yields, and it waits for the probe and for collection
    /// asleep, so the cooperative pool (2 threads here) stays free for the suites running beside it.
    @Test func aRandomizedCampaignOfHostileRequestsIsRefusedCleanly() async throws {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["MESA_FUZZ_SEED"].flatMap(Self.parseSeed) ?? Self.defaultSeed
        let count = environment["MESA_FUZZ_REQUESTS"].flatMap { Int($0) } ?? 3_000
        print(
            "http fuzz: seed \(seed) (0x\(String(seed, radix: 16))), \(count) requests; MESA_FUZZ_SEED=\(seed) reproduces"
        )

        var server = try ServerProcess()
        defer { server.stop() }
        let fixtures = try Self.setUp(server)
        // What the store holds once the fixtures are in (read with the server stopped: it owns the store).
        server.stop()
        let baseline = try Self.liveContent(of: server.directory)
        server = try ServerProcess(restarting: server)

        // The head timeout is checked alongside the campaign: one connection sends half a head and waits.
        var probe = HeadTimeoutProbe(port: server.port)
        probe.start()

        // A head over 64 KiB is refused with 431 and the error body.
        let oversized = RawHTTPClient.Request(
            head: FuzzGenerator.head(
                method: "GET",
                target: "/v1/whoami",
                headers: [("Host", "127.0.0.1"), ("X-Big", String(repeating: "x", count: 65 << 10))]
            )
        )
        let oversizedOutcome = try RawHTTPClient.send(oversized, port: server.port)
        if case .response(let refusal) = oversizedOutcome {
            #expect(refusal.status == 431)
            #expect(Self.errorBodyProblem(refusal) == nil, "\(Self.errorBodyProblem(refusal) ?? "")")
        } else {
            Issue.record("a 65 KiB head got no answer: \(oversizedOutcome)")
        }

        let generator = FuzzGenerator(fixtures: fixtures, seed: seed)
        var findings = Findings()
        // Pushes cut short keep their whole, verified records staged for a resume (docs/Protocol.md): each of these
        // carries one record the store may keep until its grace period ends.
        var cutStreams = 0
        var restarts = 0
        var sent = 0
        var statuses: [Int: Int] = [:]
        // Not failures, but worth seeing: which requests were closed without an answer, which refusals had no body.
        var closedWithoutAnswer: [String: Int] = [:]
        var emptyErrorBodies: [String: Int] = [:]
        var examples: [String: String] = [:]
        let start = Date()
        var previous: FuzzRequest?
        for index in 0..<count {
            await Task.yield()
            guard Date().timeIntervalSince(start) < Self.budget else { break }
            let request = generator.request(index)
            defer { previous = request }
            let outcome: RawHTTPClient.Outcome
            var suspect = !server.process.isRunning
            // The request a crash is blamed on: this one, unless the server was already gone when it was sent.
            var culprit = request
            do {
                outcome = try RawHTTPClient.send(request.raw, port: server.port)
            } catch {
                findings.add(request, .unreachable, "before this request was sent: \(error)")
                outcome = .abandoned
                suspect = true
                culprit = previous ?? request
            }
            sent += 1
            switch outcome {
            case .response(let response):
                statuses[response.status, default: 0] += 1
                if response.status >= 400, response.body.isEmpty, !request.raw.isHeadRequest {
                    emptyErrorBodies["\(request.category) \(response.status)", default: 0] += 1
                    if examples["empty \(request.category)"] == nil {
                        examples["empty \(request.category)"] = request.reproduction
                    }
                }
                for (kind, detail) in Self.problems(request, response) { findings.add(request, kind, detail) }
                if request.category == "push/verified record, stream cut", response.status == 400 { cutStreams += 1 }
            case .closed(let received):
                suspect = true
                closedWithoutAnswer[request.category, default: 0] += 1
                if examples["closed \(request.category)"] == nil {
                    examples["closed \(request.category)"] = request.reproduction
                }
                if request.mustAnswer {
                    findings.add(request, .closedWithoutAnswer, "received \(FuzzRequest.escape(received, limit: 200))")
                }
            case .timedOut(let received):
                suspect = true
                findings.add(
                    request,
                    .hang,
                    "nothing within \(Int(request.raw.timeout)) s; received \(FuzzRequest.escape(received, limit: 200))"
                )
            case .malformed(let received, let reason):
                suspect = true
                findings.add(request, .notHTTP, "\(reason): \(FuzzRequest.escape(received, limit: 300))")
            case .abandoned:
                break
            }
            // After a connection that ended oddly, the server must still answer its health check.
            guard suspect else { continue }
            switch Self.health(of: server) {
            case .healthy:
                continue
            case .unresponsive:
                findings.add(request, .hang, "the server no longer answers GET /healthz but is still running")
            case .exited(let status):
                // Recorded, then the server is started again over the same data so the campaign goes on.
                findings.add(culprit, .exited, "exit status \(status)")
                restarts += 1
                guard restarts <= 5 else { break }
                server = try ServerProcess(restarting: server)
                // The crash closed the probe's connection too: probe the new server.
                probe = HeadTimeoutProbe(port: server.port)
                probe.start()
                continue
            }
            break
        }
        let elapsed = Date().timeIntervalSince(start)
        let statusText = statuses.keys.sorted().map { "\($0): \(statuses[$0] ?? 0)" }.joined(separator: ", ")
        print(
            "http fuzz: \(sent) requests in \(String(format: "%.1f", elapsed)) s (seed \(seed)); statuses \(statusText)"
        )
        print("http fuzz: closed without an answer: \(closedWithoutAnswer.sorted { $0.key < $1.key })")
        print("http fuzz: error answers without a body: \(emptyErrorBodies.sorted { $0.key < $1.key })")
        if environment["MESA_FUZZ_VERBOSE"] != nil {
            for (key, example) in examples.sorted(by: { $0.key < $1.key }) {
                print("http fuzz example (\(key)):\n\(example)")
            }
        }

        // The server is still up and healthy, and the store holds what it held before the campaign.
        #expect(server.process.isRunning, "the server exited during the campaign")
        if server.process.isRunning {
            let health = try RawHTTPClient.get("/healthz", port: server.port)
            if case .response(let response) = health {
                #expect(response.status == 200)
            } else {
                Issue.record("GET /healthz after the campaign: \(health)")
            }
        }
        #expect(sent >= min(count, 1_000), "only \(sent) requests in \(Self.budget) s")

        let timeout = await probe.wait()
        print("http fuzz: a half-sent head was closed after \(timeout.map { String(format: "%.1f s", $0) } ?? "never")")
        if let timeout {
            #expect(timeout <= 35, "a half-sent head was closed only after \(timeout) s")
        } else {
            Issue.record("a half-sent head was not closed within \(HeadTimeoutProbe.limit) s")
        }

        // Refused requests took back what they stored: the store holds the fixtures and, for each push cut short,
        // its one staged record. Once the grace period is over, garbage collection leaves exactly the fixtures.
        server.stop()
        let after = try Self.liveContent(of: server.directory)
        #expect(
            after.records == baseline.records + cutStreams,
            "the store holds \(after.records) records, not \(baseline.records) + \(cutStreams) staged by cut pushes")
        let collecting = try ServerProcess(
            extraArguments: ["--gc-grace", "0", "--gc-interval", "1"], directory: server.directory)
        try await Task.sleep(for: .seconds(3))
        collecting.stop()
        let collected = try Self.liveContent(of: server.directory)
        #expect(collected.records == baseline.records && collected.bytes == baseline.bytes, "after collection: \(collected)")

        findings.report(seed: seed)
    }

    /// The records and stored bytes the store of a stopped server's data directory holds (`mesa debug store stats`).
    static func liveContent(of directory: TemporaryDirectory) throws -> (records: Int, bytes: Int64) {
        let result = try MesaBinary.run(["debug", "store", "stats", "--json", "--store", directory.appending("store")])
        guard result.status == 0,
            let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any],
            let records = object["records"] as? Int, let bytes = (object["bytes"] as? NSNumber)?.int64Value
        else { throw SetupError(message: "mesa debug store stats failed: \(result.standardError)") }
        return (records, bytes)
    }

    // MARK: Checks

    /// What is wrong with an answer to `request`.
    static func problems(_ request: FuzzRequest, _ response: RawHTTPClient.Response) -> [(Finding, String)] {
        var problems: [(Finding, String)] = []
        let body = FuzzRequest.escape(response.body, limit: 300)
        if response.status >= 500 { problems.append((.serverError, "status \(response.status): \(body)")) }
        // MESA-API.md: every error answer carries the JSON error body (a HEAD answer has none by definition).
        // CONNECT is answered 405 and the connection closed; NIO's encoder sends no body after a CONNECT.
        let tunnel = (request.method == "CONNECT" || request.category == "http/CONNECT") && response.status == 405
        if response.status >= 400, !request.raw.isHeadRequest, !tunnel, let problem = errorBodyProblem(response) {
            problems.append((.noErrorBody, "status \(response.status): \(problem)"))
        }
        if request.isWrite, (200..<300).contains(response.status) {
            problems.append((.writeAccepted, "status \(response.status): \(body)"))
        }
        if let expected = request.expectedStatus, response.status != expected {
            problems.append((.unexpectedStatus, "status \(response.status), expected \(expected): \(body)"))
        }
        if let refused = request.forbiddenStatus, response.status == refused {
            problems.append((.unexpectedStatus, "status \(response.status): \(body)"))
        }
        return problems
    }

    /// Why an error answer's body is not `{"error": {"code": "...", "message": "...", "details": {...}?}}` in JSON, or
    /// `nil` when it is.
    static func errorBodyProblem(_ response: RawHTTPClient.Response) -> String? {
        if response.body.isEmpty {
            return
                "an empty body (Content-Type \(response.header("Content-Type") ?? "none"), Content-Length \(response.header("Content-Length") ?? "none"))"
        }
        guard response.header("Content-Type")?.hasPrefix("application/json") == true else {
            return
                "Content-Type \(response.header("Content-Type") ?? "none"), body \(FuzzRequest.escape(response.body, limit: 200))"
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
            let error = object["error"] as? [String: Any]
        else { return "not an object with an 'error' object: \(FuzzRequest.escape(response.body, limit: 200))" }
        guard error["code"] is String, error["message"] is String else {
            return "'error' lacks a string 'code' or 'message': \(FuzzRequest.escape(response.body, limit: 200))"
        }
        if let details = error["details"], !(details is [String: Any]) {
            return "'details' is not an object: \(FuzzRequest.escape(response.body, limit: 200))"
        }
        return nil
    }

    /// Whether a server answers, has exited, or neither.
    enum Health {
        case healthy
        case exited(Int32)
        case unresponsive
    }

    /// Asks `GET /healthz`; when that fails, waits for the process to exit (a crashing server may take seconds to
    /// print its backtrace).
    static func health(of server: ServerProcess) -> Health {
        if server.process.isRunning,
            case .response(let response)? = try? RawHTTPClient.get("/healthz", port: server.port, timeout: 5),
            response.status == 200
        {
            return .healthy
        }
        let deadline = Date().addingTimeInterval(20)
        while server.process.isRunning, Date() < deadline { usleep(50_000) }
        return server.process.isRunning ? .unresponsive : .exited(server.process.terminationStatus)
    }

    static func parseSeed(_ text: String) -> UInt64? {
        text.lowercased().hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
    }

    // MARK: Setup

    /// Creates the repo `app` with one change, a read-only key, a revoked key and refused tokens.
    static func setUp(_ server: ServerProcess) throws -> FuzzFixtures {
        let admin = server.adminKey
        func call(_ method: String, _ path: String, _ body: String?, expect status: Int) throws -> [String: Any] {
            var headers: [(String, String)] = [("Host", "127.0.0.1"), ("Authorization", "Bearer \(admin)")]
            let bytes = Array((body ?? "").utf8)
            if body != nil {
                headers += [("Content-Type", "application/json"), ("Content-Length", String(bytes.count))]
            }
            let request = RawHTTPClient.Request(
                head: FuzzGenerator.head(method: method, target: path, headers: headers),
                body: [.bytes(bytes)]
            )
            let outcome = try RawHTTPClient.send(request, port: server.port)
            guard case .response(let response) = outcome, response.status == status else {
                throw SetupError(message: "\(method) \(path): expected \(status), got \(outcome)")
            }
            return try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
        }
        _ = try call("POST", "/v1/local/repos", #"{"name":"app"}"#, expect: 201)
        let readme = Data("hello\n".utf8).base64EncodedString()
        let source = Data("int main(void) { return 0; }\n".utf8).base64EncodedString()
        let change = try call(
            "POST",
            "/v1/local/app/changes",
            #"{"base_change_id":"\#(String(repeating: "z", count: 32))","message":"init","files":[{"path":"README.md","content":"\#(readme)"},{"path":"src/main.c","content":"\#(source)"}]}"#,
            expect: 201
        )
        let base = change["id"] as? String ?? ""
        _ = try call("POST", "/v1/local/app/bookmarks", #"{"name":"feat/x","change_id":"\#(base)"}"#, expect: 201)
        // Two bookmarks whose changes edit both files differently: merging them conflicts in two paths.
        for side in ["left", "right"] {
            let text = Data("\(side)\n".utf8).base64EncodedString()
            let edited = try call(
                "POST",
                "/v1/local/app/changes",
                #"{"base_change_id":"\#(base)","files":[{"path":"README.md","content":"\#(text)"},{"path":"src/main.c","content":"\#(text)"}]}"#,
                expect: 201
            )
            _ = try call(
                "POST",
                "/v1/local/app/bookmarks",
                #"{"name":"\#(side)","change_id":"\#(edited["id"] as? String ?? "")"}"#,
                expect: 201
            )
        }
        let reader = try call("POST", "/v1/local/api-keys", #"{"name":"reader","scopes":["read"]}"#, expect: 201)
        let revoked = try call("POST", "/v1/local/api-keys", #"{"name":"revoked"}"#, expect: 201)
        _ = try call("DELETE", "/v1/local/api-keys/\(revoked["id"] as? String ?? "")", nil, expect: 200)

        guard let key = APIKey(admin), let keyID = key.embeddedKeyID, let changeID = change["id"] as? String,
            let commit = change["current_commit_oid"] as? String, let readKey = reader["key"] as? String,
            let revokedKey = revoked["key"] as? String
        else { throw SetupError(message: "setup answers lack fields: \(change) \(reader) \(revoked)") }
        let now = Int64(Date().timeIntervalSince1970)
        func claims(issuedAt: Int64, expiresAt: Int64, scopes: [Scope] = [.read, .write]) -> TokenClaims {
            TokenClaims(
                scopes: scopes,
                repos: nil,
                issuer: keyID,
                issuedAt: issuedAt,
                expiresAt: expiresAt,
                tokenID: UUID().uuidString
            )
        }
        let header = Base64URL.encode(Array(#"{"alg":"none","typ":"mesa-at+jwt","kid":"\#(keyID).v1"}"#.utf8))
        let payload = Base64URL.encode(
            Array(
                #"{"scopes":["read","write","admin"],"repos":null,"iss":"\#(keyID)","aud":"mesa-api","iat":\#(now),"exp":\#(now + 600),"jti":"x"}"#
                    .utf8
            )
        )
        let refusedTokens = [
            try AccessToken.mint(apiKey: key, now: now - 7200),
            AccessToken.sign(claims(issuedAt: now, expiresAt: now + 600), keyID: keyID, signingKey: "forged"),
            AccessToken.sign(
                claims(issuedAt: now, expiresAt: now + 600),
                keyID: "nosuchkey",
                signingKey: key.signingKey
            ),
            AccessToken.sign(
                claims(issuedAt: now + 86_400, expiresAt: now + 90_000),
                keyID: keyID,
                signingKey: key.signingKey
            ),
            AccessToken.sign(
                claims(issuedAt: now, expiresAt: now + 10 * 86_400),
                keyID: keyID,
                signingKey: key.signingKey
            ),
            header + "." + payload + ".",
            header + "." + payload,
        ]
        let scratch = try TemporaryDirectory(prefix: "mesa-fuzz-chunks")
        let hasher = try ContentStore(path: scratch.path + "/store")
        return FuzzFixtures(
            port: server.port,
            adminKey: admin,
            readKey: readKey,
            revokedKey: revokedKey,
            refusedTokens: refusedTokens,
            readToken: try AccessToken.mint(apiKey: key, scopes: [.read]),
            changeID: changeID,
            commit: commit,
            chunkID: { content in
                // Keep the scratch directory alive as long as the hasher.
                withExtendedLifetime(scratch) { (try? hasher.putChunk(content).bytes) ?? [] }
            }
        )
    }

    struct SetupError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

/// What can be wrong with one request's fate.
enum Finding: String {
    case serverError = "a 5xx answer"
    case noErrorBody = "an error answer without Mesa's JSON error body"
    case writeAccepted = "a write that must be refused was accepted"
    case unexpectedStatus = "an unexpected status"
    case closedWithoutAnswer = "a complete request closed without an answer"
    case hang = "no answer and no close (a hang)"
    case notHTTP = "an answer that is not HTTP/1.1"
    case exited = "the server exited"
    case unreachable = "the server could not be reached"
}

/// Findings of a campaign, grouped by category and kind so that one defect does not print a thousand times.
private struct Findings {
    private var groups: [String: (count: Int, first: String)] = [:]
    private var order: [String] = []

    mutating func add(_ request: FuzzRequest, _ kind: Finding, _ detail: String) {
        let key = "\(kind.rawValue) [\(request.category)]"
        if let group = groups[key] {
            groups[key] = (group.count + 1, group.first)
        } else {
            groups[key] = (1, "\(detail)\n\(request.reproduction)")
            order.append(key)
        }
    }

    func report(seed: UInt64, sourceLocation: SourceLocation = #_sourceLocation) {
        for key in order {
            guard let group = groups[key] else { continue }
            let text = "\(key): \(group.count) request(s) (seed \(seed)); the first: \(group.first)"
            print("http fuzz finding: \(text)")
            Issue.record("\(text)", sourceLocation: sourceLocation)
        }
    }
}

/// One connection that sends half a request head and measures how long the server takes to close it.
private final class HeadTimeoutProbe: Sendable {
    /// How long the probe waits.
    static let limit: Double = 40
    private let port: Int
    private let result = Mutex<Double?>(nil)
    private let finished = Mutex(false)

    init(port: Int) { self.port = port }

    func start() {
        let port = port
        Thread.detachNewThread { [self] in
            let request = RawHTTPClient.Request(
                head: Array("GET /v1/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".utf8),
                timeout: Self.limit
            )
            let start = Date()
            // The server closes the connection (or answers and closes); a time-out leaves the result empty.
            let outcome = try? RawHTTPClient.send(request, port: port)
            let elapsed = Date().timeIntervalSince(start)
            switch outcome {
            case .closed, .response, .malformed: result.withLock { $0 = elapsed }
            case .timedOut, .abandoned, nil: break
            }
            finished.withLock { $0 = true }
        }
    }

    /// Seconds until the server closed the connection, or `nil` when it did not within ``limit`` (waits asleep,
    /// not blocking a thread of the cooperative pool).
    func wait() async -> Double? {
        while !finished.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(100)) }
        return result.withLock { $0 }
    }
}
