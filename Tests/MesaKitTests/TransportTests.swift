import Foundation
import MesaKit
import MesaTesting
import Synchronization
import Testing

@Suite struct TransportTests {
    @Test func sequentialRequestsReuseOneConnection() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, Fixture.repo("demo")) }
        let mesa = makeClient(server)
        for _ in 0..<20 { _ = try await mesa.repos.get("demo") }
        #expect(server.requestCount == 20)
        #expect(server.acceptedConnections == 1)
    }

    @Test func concurrentRequestsRunInParallel() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, Fixture.repo("demo")) }
        server.setDelay(.milliseconds(200))
        let mesa = makeClient(server)
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<16 { group.addTask { try await mesa.repos.get("demo").name } }
            for try await name in group { #expect(name == "demo") }
        }
        #expect(server.requestCount == 16)
        #expect(server.peakConcurrentRequests > 1)
        // Measured by the server's own threads: one after the other, 16 requests would take 3.2 s. (A wall clock in
        // the test would also count time the test waits for the cooperative pool while other suites hog both cores.)
        let span = try #require(server.busySpan)
        #expect(span < .milliseconds(1600), "16 requests delayed 200 ms each took \(span)")
    }

    @Test func largeBodyStreamsCompleteInOrderWithBoundedBuffer() async throws {
        let chunkSize = 64 << 10
        let chunkCount = 800  // 50 MiB
        // Byte `o` of chunk `k` is `(k + o) mod 256`: a lost, repeated or reordered piece shows as a mismatch.
        let cycle = (0..<(chunkSize + 256)).map { UInt8(truncatingIfNeeded: $0) }
        let server = try LoopbackHTTPServer { _ in
            .init(
                status: 200,
                body: .chunked({ writer in
                    for index in 0..<chunkCount {
                        let start = index % 256
                        try writer.write(Array(cycle[start..<(start + chunkSize)]))
                    }
                })
            )
        }
        var configuration = TransportConfiguration()
        configuration.maxBufferedBytesPerTransfer = 1 << 20
        let transport = CurlTransport(configuration: configuration)
        let response = try await transport.send(HTTPRequest(method: .get, url: server.baseURL + "/big"))
        #expect(response.status == 200)

        var received = 0
        var chunksRead = 0
        var mismatch: Int?
        for try await chunk in response.body {
            // A slow reader at first: the transfer must pause rather than buffer the body.
            if chunksRead < 100 { try await Task.sleep(for: .milliseconds(3)) }
            chunksRead += 1
            var serverChunk = received / chunkSize
            var offset = received % chunkSize
            chunk.withUnsafeBufferPointer { bytes in
                for index in 0..<bytes.count {
                    if bytes[index] != UInt8(truncatingIfNeeded: serverChunk &+ offset), mismatch == nil {
                        mismatch = received + index
                    }
                    offset += 1
                    if offset == chunkSize {
                        offset = 0
                        serverChunk += 1
                    }
                }
            }
            received += chunk.count
        }
        #expect(mismatch == nil)
        #expect(received == chunkSize * chunkCount)
        #expect(response.body.pauseCount > 0)
        #expect(response.body.peakBufferedBytes <= (1 << 20) + (64 << 10))
    }

    /// Without cancellation the trickle would run for 10 s and end without an error; no wall-clock bound is asserted
    /// because other suites can hold the cooperative pool for seconds.
    @Test func cancellingTheTaskStopsAStreamingTransfer() async throws {
        let server = try LoopbackHTTPServer { _ in
            .init(
                status: 200,
                body: .chunked({ writer in
                    for _ in 0..<400 {
                        try writer.write([UInt8](repeating: 7, count: 1024))
                        Thread.sleep(forTimeInterval: 0.025)
                    }
                })
            )
        }
        let transport = CurlTransport()
        let received = Atomic<Int>(0)
        let task = Task {
            let response = try await transport.send(HTTPRequest(method: .get, url: server.baseURL + "/trickle"))
            for try await chunk in response.body { received.add(chunk.count, ordering: .relaxed) }
        }
        #expect(await eventually { received.load(ordering: .relaxed) > 0 })
        task.cancel()
        await #expect(throws: KitError.cancelled) { try await task.value }
        #expect(await eventually { transport.activeTransferCount == 0 })
        #expect(await eventually { server.closedConnections == 1 })
    }

    @Test func cancellingWhileWaitingForTheHeadStopsTheRequest() async throws {
        let server = try LoopbackHTTPServer { _ in .json(200, "{}") }
        server.setDelay(.seconds(10))
        let mesa = makeClient(server)
        let task = Task { try await mesa.repos.get("demo") }
        #expect(await eventually { server.requestCount == 1 })
        task.cancel()
        await #expect(throws: KitError.cancelled) { try await task.value }
        #expect(await eventually { mesa.transport.activeTransferCount == 0 })
    }

    @Test func droppingAStreamCancelsItsTransfer() async throws {
        let server = try LoopbackHTTPServer { _ in
            .init(
                status: 200,
                body: .chunked({ writer in
                    for _ in 0..<1000 { try writer.write([UInt8](repeating: 1, count: 64 << 10)) }
                })
            )
        }
        let transport = CurlTransport()
        do {
            let response = try await transport.send(HTTPRequest(method: .get, url: server.baseURL + "/big"))
            var iterator = response.body.makeAsyncIterator()
            _ = try await iterator.next()
        }
        #expect(await eventually { transport.activeTransferCount == 0 })
        #expect(await eventually { server.closedConnections == 1 })
    }

    @Test func refusedConnectionIsATransportErrorNamingCurl() async throws {
        let port = try LoopbackHTTPServer { _ in .json(200, "{}") }.port
        let transport = CurlTransport()
        do {
            _ = try await transport.send(HTTPRequest(method: .get, url: "http://127.0.0.1:\(port)/"))
            Issue.record("nothing listens there")
        } catch {
            guard case .transport(let function, let code, let message) = error else {
                Issue.record("expected a transport error, got \(error)")
                return
            }
            #expect(function == "curl_multi_perform")
            #expect(code == 7)  // CURLE_COULDNT_CONNECT
            #expect(message.contains("127.0.0.1"))
        }
    }
}
