import Foundation
import MesaTesting
import Testing

/// The delay proxy in front of a real `mesa serve`: requests still work, and each round trip costs at least the
/// configured delay twice (a lower bound, which load can only lengthen).
@Suite struct DelayProxyTests {
    @Test func requestsThroughTheProxyWorkAndPayTheRoundTrips() throws {
        let server = try ServerProcess()
        let proxy = Process()
        proxy.executableURL = URL(fileURLWithPath: MesaBinary.path)
        proxy.arguments = ["debug", "delay-proxy", "--listen", "127.0.0.1:0", "--upstream", "127.0.0.1:\(server.port)", "--delay-ms", "50"]
        let output = Pipe()
        proxy.standardOutput = output
        try proxy.run()
        defer { proxy.terminate() }
        var line = ""
        while !line.contains("\n") { line += String(decoding: output.fileHandleForReading.availableData, as: UTF8.self) }
        let port = try #require(line.split(separator: ",").first?.split(separator: ":").last.flatMap { Int($0) })

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
