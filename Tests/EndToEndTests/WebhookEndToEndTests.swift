import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import MesaKit
import MesaTesting
import Synchronization
import Testing

/// An HTTP receiver inside the test process, on 127.0.0.1: records what it accepted (2xx) and answers with a status
/// the test sets; it can be stopped and started again on the same port (the receiver down, then up).
final class WebhookReceiver: Sendable {
    struct Delivery: Sendable {
        var path: String
        var signature: String?
        var body: [UInt8]

        /// The body as JSON.
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:]
        }
        var type: String { json["type"] as? String ?? "" }
        var eventID: String { json["id"] as? String ?? "" }
        var repositoryName: String? { (json["repository"] as? [String: Any])?["name"] as? String }
        var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }
    }

    private struct State {
        var status = 200
        var accepted: [Delivery] = []
        var refused = 0
    }

    /// What the handler and the test share (a class, so the handler closure can hold it).
    private final class Shared: Sendable {
        let state = Mutex(State())
    }

    private let shared = Shared()
    private let server = Mutex<LoopbackHTTPServer?>(nil)
    let port: Int

    init() throws {
        let first = try Self.listen(port: 0, shared: shared)
        port = first.port
        server.withLock { $0 = first }
    }

    private static func listen(port: Int, shared: Shared) throws -> LoopbackHTTPServer {
        try LoopbackHTTPServer(port: port) { request in
            let status = shared.state.withLock { state -> Int in
                if (200..<300).contains(state.status) {
                    state.accepted.append(
                        Delivery(path: request.rawPath, signature: request.header("x-mesa-signature"), body: request.body))
                } else {
                    state.refused += 1
                }
                return state.status
            }
            return LoopbackHTTPServer.Response(status: status)
        }
    }

    /// The URL of `path` on this receiver.
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Every delivery accepted so far, in arrival order (optionally only those sent to `path`).
    func accepted(_ path: String? = nil) -> [Delivery] {
        shared.state.withLock { $0.accepted }.filter { path == nil || $0.path == path }
    }

    /// Requests answered with a non-2xx status.
    var refused: Int { shared.state.withLock { $0.refused } }

    /// Answers every request with `status` from now on.
    func answer(_ status: Int) { shared.state.withLock { $0.status = status } }

    /// Delays every answer (a slow receiver).
    func delay(_ delay: Duration) { server.withLock { $0?.setDelay(delay) } }

    /// Stops listening: connections are refused until ``start()``.
    func stop() {
        server.withLock { server in
            server?.stop()
            server = nil
        }
    }

    /// Listens again on the same port.
    func start() throws {
        let restarted = try Self.listen(port: port, shared: shared)
        server.withLock { $0 = restarted }
    }

    deinit { stop() }
}

/// Webhooks end to end: a real `mesa serve` (with a fast retry schedule) delivering to ``WebhookReceiver``; events
/// come from real API calls and a real `mesa import` push.
@Suite(.serialized, .tags(.e2e)) struct WebhookEndToEndTests {
    /// Retries after 0.2 s doubling to 1 s, so a receiver that comes back is served within about a second; 10 s per
    /// attempt, generous for a loaded machine.
    static let fastRetries = ["--webhook-retry-base", "0.2", "--webhook-retry-max", "1", "--webhook-timeout", "10"]
    static let root = String(repeating: "z", count: 32)

    /// Waits (polling) until `condition` holds or `seconds` pass; returns whether it held.
    private func eventually(_ seconds: Double = 60, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    /// Checks a delivery's `x-mesa-signature` with the published algorithm: HMAC-SHA256 keyed with the secret over
    /// `"<t>.<raw body>"`, hex, with `t` within 300 s of now.
    private func isSigned(_ delivery: WebhookReceiver.Delivery, secret: String) -> Bool {
        guard let header = delivery.signature else { return false }
        var fields: [String: String] = [:]
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { fields[pair[0]] = pair[1] }
        }
        guard let t = fields["t"], let seconds = Int64(t), let given = fields["sha256"] else { return false }
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array("\(t).".utf8) + delivery.body, using: SymmetricKey(data: Array(secret.utf8)))
        let hex = mac.map { String(format: "%02x", $0) }.joined()
        return hex == given && abs(Int64(Date().timeIntervalSince1970) - seconds) <= 300
    }

    private func importRepo(_ server: ServerProcess, name: String) throws {
        let source = try GitSource()
        try source.write("README.md", "# imported\n")
        try source.write("src/main.c", "int main(void) { return 0; }\n")
        try source.commit("first")
        try source.write("src/main.c", "int main(void) { return 1; }\n")
        try source.commit("second")
        let result = try MesaBinary.run(
            ["import", source.path, "--repo", name],
            environment: ["MESA_API_KEY": server.adminKey, "MESA_SERVICE_DOMAIN": server.url, "MESA_ORG": "local"])
        #expect(result.status == 0, "\(result.standardError)")
    }

    @Test func everyEventTypeArrivesSignedWithMesasEnvelopeInOrderPerRepository() async throws {
        let server = try ServerProcess(extraArguments: Self.fastRetries)
        let mesa = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
        let receiver = try WebhookReceiver()
        let target = try await mesa.webhookTargets.create(
            url: receiver.url("/all"), name: "everything", events: WebhookEventType.allCases)
        let secret = try #require(target.secret)

        // One repo through every REST write.
        let repo = try await mesa.repos.create(name: "app")
        let first = try await mesa.changes("app").create(
            base: Self.root, message: "first", files: [.upsert("a.txt", text: "a\n")])
        _ = try await mesa.changes("app").update(first.id, UpdateChangeRequest(message: "first, evolved"))
        _ = try await mesa.bookmarks("app").create(name: "feature", changeID: first.id)
        let second = try await mesa.changes("app").create(
            base: first.id, message: "second", files: [.upsert("b.txt", text: "b\n")])
        _ = try await mesa.bookmarks("app").move("feature", to: second.id)
        let merged = try await mesa.bookmarks("app").merge("feature", into: "main", deleteSource: true)
        _ = try await mesa.repos.update("app", UpdateRepoRequest(tags: ["team": "infra"]))
        // A push (the sync protocol) into a second repo, which is then deleted.
        try importRepo(server, name: "imported")
        try await mesa.repos.delete("imported")

        let expectedApp = [
            "repo.created", "bookmark.created", "change.created", "bookmark.moved", "change.evolved",
            "bookmark.created", "change.created", "bookmark.moved", "change.created", "bookmark.merged",
            "bookmark.deleted", "repo.updated",
        ]
        let allDelivered = try await eventually {
            receiver.accepted().filter { $0.repositoryName == "app" }.count >= expectedApp.count
                && receiver.accepted().contains { $0.type == "repo.deleted" }
        }
        #expect(allDelivered, "\(receiver.accepted().map(\.type))")
        let deliveries = receiver.accepted()
        #expect(Set(deliveries.map(\.type)) == Set(WebhookEventType.allCases.map(\.rawValue)))
        #expect(deliveries.filter { $0.repositoryName == "app" }.map(\.type) == expectedApp)
        #expect(Set(deliveries.map(\.eventID)).count == deliveries.count)

        for delivery in deliveries {
            #expect(isSigned(delivery, secret: secret), "\(delivery.type)")
            let json = delivery.json
            for key in ["id", "type", "occurred_at", "organization", "repository", "data"] {
                #expect(json.keys.contains(key), "\(delivery.type) lacks \(key)")
            }
            let organization = json["organization"] as? [String: Any]
            #expect(organization?["slug"] as? String == "local")
            #expect(organization?["id"] as? String != nil)
            let repository = json["repository"] as? [String: Any]
            #expect((repository?["url"] as? String)?.hasSuffix("/v1/local/\(delivery.repositoryName ?? "")") == true)
        }
        // The signature is over the exact body: another secret does not verify.
        #expect(!deliveries.contains { isSigned($0, secret: secret + "x") })

        let app = deliveries.filter { $0.repositoryName == "app" }
        #expect((app[0].data["repo"] as? [String: Any])?["id"] as? String == repo.id)
        let created = try #require(app[2].data["change"] as? [String: Any])
        #expect(created["id"] as? String == first.id)
        #expect(created["message"] as? String == "first")
        #expect((created["author"] as? [String: Any])?["name"] != nil)
        #expect(created["committer"] != nil)
        #expect(created["parents"] as? [String] == [Self.root])
        let evolved = app[4].data
        #expect((evolved["change"] as? [String: Any])?["message"] as? String == "first, evolved")
        #expect(evolved["previous_current_commit_oid"] as? String == first.currentCommitOID)
        let moved = app[7].data
        #expect((moved["bookmark"] as? [String: Any])?["change_id"] as? String == second.id)
        #expect((moved["from"] as? [String: Any])?["change_id"] as? String == first.id)
        let mergedBookmark = app[9].data["bookmark"] as? [String: Any]
        #expect(mergedBookmark?["name"] as? String == "main")
        #expect(mergedBookmark?["change_id"] as? String == merged.changeID)
        #expect(mergedBookmark?["is_default"] as? Bool == true)
        #expect((app[10].data["bookmark"] as? [String: Any])?["name"] as? String == "feature")
        let updated = app[11].data
        #expect(((updated["before"] as? [String: Any])?["tags"] as? [String: String]) == [:])
        #expect(((updated["after"] as? [String: Any])?["tags"] as? [String: String]) == ["team": "infra"])

        let push = try #require(deliveries.first { $0.type == "push" })
        #expect(push.repositoryName == "imported")
        let updates = try #require(push.data["updates"] as? [[String: Any]])
        #expect(updates.count == 1)
        #expect(updates.first?["bookmark"] as? String == "main")
        #expect(updates.first?["ref"] as? String == "refs/heads/main")
        #expect((updates.first?["after"] as? String)?.count == 40)
        let counts = try #require(push.data["reconciliation"] as? [String: Any])
        #expect(counts["changes_created"] as? Int == 2)
        // The imported repo's events came in order too, the push after its changes and the deletion last.
        let imported = deliveries.filter { $0.repositoryName == "imported" }.map(\.type)
        #expect(imported.first == "repo.created")
        #expect(imported.last == "repo.deleted")
        #expect(imported.firstIndex(of: "push") ?? 0 > imported.lastIndex(of: "change.created") ?? Int.max)

        // The server lists the attempts it made.
        let page = try await mesa.webhookTargets.deliveries(target.id, limit: 100)
        #expect(page.items.count == deliveries.count)
        #expect(page.items.allSatisfy { $0.status == "delivered" && $0.attempts >= 1 && $0.lastStatusCode == 200 })
    }

    @Test func aReceiverThatIsDownGetsEverythingInOrderOnceItIsBackAndNeverSlowsWrites() async throws {
        let server = try ServerProcess(extraArguments: Self.fastRetries)
        let mesa = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
        let receiver = try WebhookReceiver()
        _ = try await mesa.repos.create(name: "app")
        let target = try await mesa.webhookTargets.create(url: receiver.url("/hook"), events: [.changeCreated])

        // Writes with nothing failing, as the baseline.
        var base = Self.root
        var ids: [String] = []
        func write(_ label: String) async throws -> Duration {
            let started = ContinuousClock.now
            let change = try await mesa.changes("app").create(
                base: base, message: label, files: [.upsert("\(label).txt", text: label)])
            base = change.id
            ids.append(change.id)
            return ContinuousClock.now - started
        }
        var healthy: [Duration] = []
        for index in 0..<5 { healthy.append(try await write("healthy-\(index)")) }
        #expect(try await eventually { receiver.accepted().count == 5 })

        // The receiver hangs past the attempt timeout, then is down: writes do not wait for it.
        receiver.delay(.seconds(30))
        var hanging: [Duration] = []
        for index in 0..<5 { hanging.append(try await write("hanging-\(index)")) }
        receiver.stop()
        var down: [Duration] = []
        for index in 0..<5 { down.append(try await write("down-\(index)")) }
        let failing = try await eventually {
            let page = try await mesa.webhookTargets.deliveries(target.id, limit: 100)
            return page.items.contains { $0.status == "pending" && $0.attempts >= 2 && $0.lastError != nil }
        }
        #expect(failing)
        try receiver.start()

        let delivered = try await eventually { Set(receiver.accepted().map(\.eventID)).count == ids.count }
        #expect(delivered, "\(receiver.accepted().count) of \(ids.count)")
        // In order, each change once it first arrives (a hung attempt may arrive twice: at least once).
        var firstArrivals: [String] = []
        for delivery in receiver.accepted() {
            let id = (delivery.data["change"] as? [String: Any])?["id"] as? String ?? ""
            if !firstArrivals.contains(id) { firstArrivals.append(id) }
        }
        #expect(firstArrivals == ids)

        func median(_ values: [Duration]) -> Duration { values.sorted()[values.count / 2] }
        print("webhook write latency median: healthy \(median(healthy)), hanging \(median(hanging)), down \(median(down))")
        // Writes only insert outbox rows: they never wait out an attempt's 10 s timeout against the hanging receiver.
        #expect(median(hanging) < .seconds(10))
        #expect(median(down) < .seconds(10))
    }

    @Test func aServerKilledWithDeliveriesPendingLosesNoneAfterARestart() async throws {
        var server = try ServerProcess(extraArguments: Self.fastRetries)
        let mesa = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
        let receiver = try WebhookReceiver()
        receiver.answer(503)
        _ = try await mesa.repos.create(name: "app")
        _ = try await mesa.webhookTargets.create(url: receiver.url("/hook"), events: [.changeCreated, .bookmarkMoved])
        var base = Self.root
        var ids: [String] = []
        for index in 0..<8 {
            let change = try await mesa.changes("app").create(
                base: base, message: "change \(index)", files: [.upsert("f\(index).txt", text: "\(index)")])
            base = change.id
            ids.append(change.id)
        }
        #expect(try await eventually { receiver.refused > 0 })
        // Killed outright: no graceful shutdown; some events may still be in the outbox, others pending.
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        #expect(receiver.accepted().isEmpty)

        receiver.answer(200)
        server = try ServerProcess(restarting: server)
        let delivered = try await eventually {
            Set(receiver.accepted().filter { $0.type == "change.created" }.map(\.eventID)).count == ids.count
        }
        #expect(delivered, "\(receiver.accepted().map(\.type))")
        let changes = receiver.accepted().filter { $0.type == "change.created" }
            .compactMap { ($0.data["change"] as? [String: Any])?["id"] as? String }
        #expect(changes == ids)
        // The default bookmark's move from the root came after the first change, as it happened.
        let types = receiver.accepted().map(\.type)
        #expect(types.firstIndex(of: "bookmark.moved") == 1)
    }

    @Test func aDeliveryPastTheRetryHorizonIsGivenUpAndReleasesTheOnesBehindIt() async throws {
        let server = try ServerProcess(extraArguments: [
            "--webhook-retry-base", "0.2", "--webhook-retry-max", "0.5", "--webhook-retry-horizon", "2",
            "--webhook-timeout", "10",
        ])
        let mesa = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
        let receiver = try WebhookReceiver()
        receiver.answer(500)
        _ = try await mesa.repos.create(name: "app")
        let target = try await mesa.webhookTargets.create(url: receiver.url("/hook"), events: [.changeCreated])
        let lost = try await mesa.changes("app").create(base: Self.root, message: "lost", files: [.upsert("a", text: "a")])
        let behind = try await mesa.changes("app").create(base: lost.id, message: "behind", files: [.upsert("b", text: "b")])

        // The first is retried (held back: the second waits behind it) until the horizon, then given up.
        let gaveUp = try await eventually {
            try await mesa.webhookTargets.deliveries(target.id, limit: 10).items.contains { $0.status == "failed" }
        }
        #expect(gaveUp)
        let items = try await mesa.webhookTargets.deliveries(target.id, limit: 10).items
        let failed = try #require(items.first { $0.status == "failed" })
        #expect(failed.attempts >= 2)
        #expect(failed.lastStatusCode == 500)
        #expect(failed.lastError?.contains("500") == true)
        #expect(failed.nextAttemptAt == nil)
        #expect(failed.completedAt != nil)

        receiver.answer(200)
        let later = try await mesa.changes("app").create(base: behind.id, message: "later", files: [.upsert("c", text: "c")])
        #expect(try await eventually {
            receiver.accepted().contains { ($0.data["change"] as? [String: Any])?["id"] as? String == later.id }
        })
        let arrived = receiver.accepted().compactMap { ($0.data["change"] as? [String: Any])?["id"] as? String }
        #expect(!arrived.contains(lost.id))
        #expect(arrived.last == later.id)
        // The one behind was either given up too or delivered before the later one: never after it.
        if let index = arrived.firstIndex(of: behind.id) { #expect(index < arrived.firstIndex(of: later.id) ?? 0) }
    }

    @Test func aTargetFilteredByEventsAndReposGetsOnlyThose() async throws {
        let server = try ServerProcess(extraArguments: Self.fastRetries)
        let mesa = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
        let receiver = try WebhookReceiver()
        let wanted = try await mesa.repos.create(name: "wanted")
        _ = try await mesa.repos.create(name: "ignored")
        let filtered = try await mesa.webhookTargets.create(
            url: receiver.url("/filtered"), events: [.changeCreated, .bookmarkCreated], repoIDs: [wanted.id])
        let everything = try await mesa.webhookTargets.create(
            url: receiver.url("/everything"), events: WebhookEventType.allCases)

        var expected: [String] = []
        for repo in ["wanted", "ignored"] {
            let change = try await mesa.changes(repo).create(
                base: Self.root, message: repo, files: [.upsert("x.txt", text: repo)])
            _ = try await mesa.changes(repo).update(change.id, UpdateChangeRequest(message: repo + "!"))
            _ = try await mesa.bookmarks(repo).create(name: "topic", changeID: change.id)
            if repo == "wanted" { expected = ["change.created", "bookmark.created"] }
        }
        _ = try await mesa.repos.update("wanted", UpdateRepoRequest(tags: ["done": "yes"]))

        // The unfiltered target sees the last write, so every delivery of the filtered one exists by then.
        #expect(try await eventually { receiver.accepted("/everything").contains { $0.type == "repo.updated" } })
        #expect(try await eventually {
            try await mesa.webhookTargets.deliveries(filtered.id, limit: 100).items.allSatisfy { $0.status != "pending" }
        })
        let got = receiver.accepted("/filtered")
        #expect(got.map(\.type) == expected)
        #expect(got.allSatisfy { $0.repositoryName == "wanted" })
        #expect(receiver.accepted("/everything").contains { $0.repositoryName == "ignored" })
        _ = everything
    }

    @Test func theCLICreatesListsAndDeletesTargetsAndNeverListsTheSecret() async throws {
        let server = try ServerProcess()
        let environment = ["MESA_API_KEY": server.adminKey, "MESA_SERVICE_DOMAIN": server.url, "MESA_ORG": "local"]
        let created = try MesaBinary.run(
            ["webhook", "create", "http://127.0.0.1:9/hook", "--name", "ci", "--events", "push,change.created"],
            environment: environment)
        #expect(created.status == 0, "\(created.standardError)")
        let lines = created.standardOutput.split(separator: "\n").map(String.init)
        let id = try #require(lines.first { $0.hasPrefix("id: ") }).dropFirst(4)
        let secret = try #require(lines.first { $0.hasPrefix("secret: ") }).dropFirst(8)
        #expect(secret.count >= 32)

        let listed = try MesaBinary.run(["webhook", "list", "--json"], environment: environment)
        #expect(listed.status == 0, "\(listed.standardError)")
        #expect(listed.standardOutput.contains(String(id)))
        #expect(listed.standardOutput.contains("change.created"))
        #expect(!listed.standardOutput.contains(String(secret)))
        #expect(!listed.standardOutput.contains("\"secret\""))

        // A key without the admin scope is refused.
        let mesa = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
        let writer = try await mesa.apiKeys.create(scopes: [.read, .write])
        var limited = environment
        limited["MESA_API_KEY"] = writer.key
        let refused = try MesaBinary.run(["webhook", "list"], environment: limited)
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("admin"), "\(refused.standardError)")

        let deleted = try MesaBinary.run(["webhook", "delete", String(id)], environment: environment)
        #expect(deleted.status == 0, "\(deleted.standardError)")
        let empty = try MesaBinary.run(["webhook", "list"], environment: environment)
        #expect(empty.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }
}
