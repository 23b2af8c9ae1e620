import ArgumentParser
import MesaServer
import NIOCore

/// `mesa debug delay-proxy`: a TCP proxy adding a fixed one-way delay each way, for benchmarks on loopback.
struct DelayProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delay-proxy",
        abstract: "Forward TCP connections to an upstream, delaying every byte by a fixed time in each direction."
    )

    @Option(help: "The address to listen on, HOST:PORT (port 0 picks a free port).")
    var listen = "127.0.0.1:0"

    @Option(help: "The upstream address, HOST:PORT.")
    var upstream: String

    @Option(help: "The one-way delay in milliseconds (the round trip is twice this).")
    var delayMs = 10

    @Option(
        help: ArgumentHelp(
            "Fault injection: lose the answer of a request whose bytes contain TEXT (e.g. /sync/push). The request reaches "
                + "the upstream whole; the client's connection is then closed without the answer.",
            valueName: "TEXT"))
    var dropAnswersTo: String?

    @Option(help: "How many answers --drop-answers-to loses before forwarding normally again.")
    var dropCount = 1

    func validate() throws {
        guard ListenAddress(listen) != nil, ListenAddress(upstream) != nil else {
            throw ValidationError("--listen and --upstream take HOST:PORT.")
        }
        guard (0...10_000).contains(delayMs) else { throw ValidationError("--delay-ms must be between 0 and 10000.") }
        guard dropAnswersTo.map({ !$0.isEmpty }) ?? true else { throw ValidationError("--drop-answers-to needs a text.") }
        guard dropCount >= 0 else { throw ValidationError("--drop-count must not be negative.") }
    }

    func run() async throws {
        // validate() checked both addresses.
        let local = ListenAddress(listen)!
        let target = ListenAddress(upstream)!
        let proxy = try await DelayProxy.start(
            host: local.host, port: local.port, upstreamHost: target.host, upstreamPort: target.port,
            delay: .milliseconds(Int64(delayMs)), drop: dropAnswersTo.map { AnswerDrop(pattern: $0, count: dropCount) })
        var output = BufferedOutput()
        output.write("listening on \(local.host):\(proxy.port), forwarding to \(upstream) with \(delayMs) ms each way\n")
        output.flush()
        try await proxy.wait()
    }
}
