import Foundation
import MesaTesting
import Testing

/// The delay proxy in front of a real `mesa serve`: requests still work, and each round trip costs at least the
/// configured delay twice (a lower bound, which load can only lengthen).
@Suite struct DelayProxyTests {
    @Test func requestsThroughTheProxyWorkAndPayTheRoundTrips() throws {
        let server = try ServerProcess()
        let proxy = try ProxyProcess(upstreamPort: server.port, arguments: ["--delay-ms", "50"])
        defer { proxy.stop() }
        let port = proxy.port

        // One request on a new connection: connection set-up (1 round trip) + the request (1 round trip) = 200 ms.
        let timed = try Shell.run(
            "curl -s -o /dev/null -w '%{http_code} %{time_total}' -H 'Authorization: Bearer \(server.adminKey)' http://127.0.0.1:\(port)/v1/whoami")
        let parts = timed.output.split(separator: " ")
        #expect(parts.first == "200")
        let seconds = try #require(parts.last.flatMap { Double($0) })
        #expect(seconds >= 0.2, "a proxied request took \(seconds) s")

        // A large answer arrives whole and in order.
        let big = try Shell.run("curl -s -H 'Authorization: Bearer \(server.adminKey)' http://127.0.0.1:\(port)/v1/local/repos?limit=100")
        #expect(big.output.hasPrefix("{") && big.output.hasSuffix("}"))
    }
}

/// The proxy's fault injection: a request whose bytes carry the pattern reaches the server whole and is applied, but
/// its client gets no answer (the connection closes); after `--drop-count` such answers, requests are answered again.
@Suite struct DroppedAnswerTests {
    @Test func aDroppedAnswerLeavesTheRequestAppliedAndTheNextOneAnswered() throws {
        let server = try ServerProcess()
        let proxy = try ProxyProcess(
            upstreamPort: server.port, arguments: ["--delay-ms", "0", "--drop-answers-to", "POST /v1/local/repos", "--drop-count", "1"])
        defer { proxy.stop() }
        func create(_ name: String, via url: String) throws -> Shell.Result {
            try Shell.run(
                "curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer \(server.adminKey)' "
                    + "-H 'Content-Type: application/json' -d '{\"name\":\"\(name)\"}' \(url)/v1/local/repos")
        }
        let lost = try create("first", via: proxy.url)
        #expect(lost.status == 52, "curl should see an empty reply (52), got \(lost.status) \(lost.output)")
        let applied = try Shell.run(
            "curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer \(server.adminKey)' \(server.url)/v1/local/first")
        #expect(applied.output == "200", "the request whose answer was lost was applied")
        #expect(try create("second", via: proxy.url).output == "201")
        // Requests without the pattern were never affected.
        let listed = try Shell.run(
            "curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer \(server.adminKey)' \(proxy.url)/v1/local/repos")
        #expect(listed.output == "200")
    }
}
