import ArgumentParser
import MesaServer
import Testing

@testable import MesaCLI

@Suite struct ServeParsingTests {
    @Test func upstreamOptionsParseWithMesasDefaults() throws {
        let defaults = try ServeCommand.parse([])
        #expect(defaults.secretKeyFile == nil)
        #expect(defaults.upstreamRetryBase == UpstreamConfiguration.default.backoff.base)
        #expect(defaults.upstreamRetryMax == UpstreamConfiguration.default.backoff.max)
        #expect(defaults.upstreamMaxAttempts == UpstreamConfiguration.default.maxAttempts)
        let set = try ServeCommand.parse([
            "--secret-key-file", "/etc/mesa/upstream.key", "--upstream-retry-base", "0.5", "--upstream-retry-max", "2",
            "--upstream-max-attempts", "3",
        ])
        #expect(set.secretKeyFile == "/etc/mesa/upstream.key")
        #expect(set.upstreamRetryBase == 0.5 && set.upstreamRetryMax == 2 && set.upstreamMaxAttempts == 3)
    }

    @Test(arguments: [
        ["--upstream-retry-base", "0"], ["--upstream-retry-max", "-1"], ["--upstream-max-attempts", "0"],
        ["--upstream-retry-base", "5", "--upstream-retry-max", "1"],
    ])
    func badUpstreamOptionsAreRefused(arguments: [String]) {
        #expect(throws: (any Error).self) { try ServeCommand.parse(arguments) }
    }
}
