import MesaKit
import MesaTesting
import Testing

@Suite struct RetryTests {
    @Test func getIsRetriedAfter503UntilItSucceeds() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, Fixture.repo("demo")) }
        server.failNext(2, status: 503)
        let repo = try await makeClient(server).repos.get("demo")
        #expect(repo.name == "demo")
        #expect(server.requestCount == 3)
    }

    @Test func retriesStopAtTheAttemptBudget() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, Fixture.repo("demo")) }
        server.failNext(10, status: 503)
        let policy = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(1), maxDelay: .milliseconds(5))
        await #expect(throws: KitError.api(status: 503, code: "INTERNAL", message: "injected failure", details: nil)) {
            try await makeClient(server, retry: policy).repos.get("demo")
        }
        #expect(server.requestCount == 3)
    }

    @Test func postIsNotRetriedAfter500() async throws {
        let server = try LoopbackHTTPServer { _ in .json(201, Fixture.repo("demo")) }
        server.failNext(1, status: 500)
        await #expect(throws: KitError.api(status: 500, code: "INTERNAL", message: "injected failure", details: nil)) {
            try await makeClient(server).repos.create(name: "demo")
        }
        #expect(server.requestCount == 1)
    }

    @Test func getIsRetriedWhenTheConnectionDrops() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, Fixture.repo("demo")) }
        server.dropNext(1)
        _ = try await makeClient(server).repos.get("demo")
        #expect(server.requestCount == 2)
    }

    @Test func postIsNotRetriedWhenTheConnectionDropsAfterSending() async throws {
        let server = try LoopbackHTTPServer { _ in .json(201, Fixture.repo("demo")) }
        server.dropNext(1)
        do {
            _ = try await makeClient(server).repos.create(name: "demo")
            Issue.record("a dropped POST must fail")
        } catch {
            guard case .transport(let function, let code, _) = error else {
                Issue.record("expected a transport error, got \(error)")
                return
            }
            #expect(function == "curl_multi_perform")
            #expect(code == 52)  // CURLE_GOT_NOTHING
        }
        #expect(server.requestCount == 1)
    }

    @Test func postIsRetriedWhenNothingCouldConnect() async throws {
        // Take a free port, then free it: connecting is refused until the second server binds it.
        let port = try LoopbackHTTPServer { _ in .json(200, "{}") }.port
        let mesa = Mesa(
            apiKey: Fixture.apiKey,
            org: Fixture.org,
            baseURL: "http://127.0.0.1:\(port)",
            configuration: Mesa.Configuration(
                retry: RetryPolicy(maxAttempts: 40, initialDelay: .milliseconds(25), maxDelay: .milliseconds(25))
            )
        )
        let late = Task {
            try await Task.sleep(for: .milliseconds(200))
            return try LoopbackHTTPServer(port: port) { _ in .json(201, Fixture.repo("demo")) }
        }
        let repo = try await mesa.repos.create(name: "demo")
        let server = try await late.value
        #expect(repo.name == "demo")
        #expect(server.requestCount == 1)
    }

    @Test func backOffGrowsAndStaysUnderTheCap() {
        let policy = RetryPolicy(
            maxAttempts: 10,
            initialDelay: .milliseconds(100),
            maxDelay: .seconds(1),
            multiplier: 2,
            jitter: 0
        )
        #expect(policy.delay(beforeRetry: 1) == .milliseconds(100))
        #expect(policy.delay(beforeRetry: 3) == .milliseconds(400))
        #expect(policy.delay(beforeRetry: 9) == .seconds(1))
        let jittered = RetryPolicy(initialDelay: .milliseconds(100), jitter: 0.5)
        for _ in 0..<50 {
            let delay = jittered.delay(beforeRetry: 1)
            #expect(delay >= .milliseconds(50) && delay <= .milliseconds(100))
        }
    }
}
