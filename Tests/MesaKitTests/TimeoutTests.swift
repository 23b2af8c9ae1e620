import Foundation
import MesaKit
import MesaTesting
import Testing

// These tests assert outcomes, not durations: without the timeout each request would succeed once the server
// answers (after 3 or 4 s). Wall-clock bounds in the test process are unreliable here, because other suites can hold
// both threads of the cooperative pool for seconds (2 cores).
@Suite struct TimeoutTests {
    @Test func stalledServerFailsAfterTheStallTimeout() async throws {
        let server = try LoopbackHTTPServer { _ in
            // The head, then silence.
            .init(status: 200, body: .chunked({ _ in Thread.sleep(forTimeInterval: 4) }))
        }
        var configuration = TransportConfiguration()
        configuration.lowSpeedTime = .seconds(1)
        let transport = CurlTransport(configuration: configuration)
        let response = try await transport.send(HTTPRequest(method: .get, url: server.baseURL + "/stall"))
        do {
            _ = try await response.body.collect()
            Issue.record("a stalled transfer must fail")
        } catch {
            guard case .transport(_, let code, _) = error else {
                Issue.record("expected a transport error, got \(error)")
                return
            }
            #expect(code == 28)  // CURLE_OPERATION_TIMEDOUT
        }
    }

    /// libcurl does not measure a paused transfer against the low-speed limit (`lib/speedcheck.c`), so a reader may
    /// hold a stream paused for long; this checks that such a stream resumes and completes.
    @Test func streamResumesAfterALongPause() async throws {
        let server = try LoopbackHTTPServer { _ in
            .init(
                status: 200,
                body: .chunked({ writer in
                    for _ in 0..<64 { try writer.write([UInt8](repeating: 9, count: 64 << 10)) }
                })
            )
        }
        var configuration = TransportConfiguration()
        configuration.lowSpeedTime = .seconds(1)
        configuration.maxBufferedBytesPerTransfer = 256 << 10
        let transport = CurlTransport(configuration: configuration)
        let response = try await transport.send(HTTPRequest(method: .get, url: server.baseURL + "/paused"))
        var iterator = response.body.makeAsyncIterator()
        var received = try await iterator.next()?.count ?? 0
        // The buffer fills and the transfer stays paused for longer than the stall timeout.
        try await Task.sleep(for: .milliseconds(1500))
        while let chunk = try await iterator.next() { received += chunk.count }
        #expect(received == 64 * (64 << 10))
        #expect(response.body.pauseCount > 0)
    }

    @Test func requestTimeoutBoundsTheWholeRequest() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, Fixture.repo("demo")) }
        server.setDelay(.seconds(3))
        let mesa = Mesa(
            apiKey: Fixture.apiKey,
            org: Fixture.org,
            baseURL: server.baseURL,
            configuration: Mesa.Configuration(retry: .never, requestTimeout: .milliseconds(300))
        )
        do {
            _ = try await mesa.repos.get("demo")
            Issue.record("the request must time out")
        } catch {
            guard case .transport(_, let code, _) = error else {
                Issue.record("expected a transport error, got \(error)")
                return
            }
            #expect(code == 28)  // CURLE_OPERATION_TIMEDOUT
        }
    }
}
