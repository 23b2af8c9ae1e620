import MesaServer
import Testing

/// The wake-ups of long-polling resolves: a bump wakes every waiter of that repo, a bump that came before the wait
/// is not missed, and a wait with no bump ends at its timeout (or when its task is cancelled).
struct RevisionSignalTests {
    @Test func aBumpWakesTheWaitersOfItsRepoOnly() async throws {
        let signal = RevisionSignal()
        let version = signal.version(of: "a")
        let clock = ContinuousClock()
        let started = clock.now
        async let woken: Void = signal.wait(for: "a", after: version, timeout: .seconds(120))
        async let other: Void = signal.wait(for: "b", after: signal.version(of: "b"), timeout: .milliseconds(300))
        try await Task.sleep(for: .milliseconds(100))
        signal.bump("a")
        await woken
        #expect(clock.now - started < .seconds(100))
        await other  // not woken by a's bump: ends at its timeout
        #expect(clock.now - started >= .milliseconds(300))
        #expect(signal.version(of: "a") == version + 1)
    }

    @Test func aBumpBeforeTheWaitIsNotMissedAndCancellingEndsIt() async throws {
        let signal = RevisionSignal()
        let version = signal.version(of: "a")
        signal.bump("a")
        let clock = ContinuousClock()
        let started = clock.now
        await signal.wait(for: "a", after: version, timeout: .seconds(120))
        #expect(clock.now - started < .seconds(100))

        let waiting = Task { await signal.wait(for: "a", after: signal.version(of: "a"), timeout: .seconds(120)) }
        try await Task.sleep(for: .milliseconds(100))
        waiting.cancel()
        await waiting.value
        #expect(clock.now - started < .seconds(100))
    }
}
