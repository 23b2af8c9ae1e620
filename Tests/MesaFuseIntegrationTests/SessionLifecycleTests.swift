import Foundation
import MesaCore
import MesaFS
import MesaFuse
import MesaTesting
import Testing

/// Unmounting: the documented shutdown sequence, busy mounts, stuck requests, interrupts.
@Suite(.tags(.fuse), .enabled(if: FuseTestEnvironment.isAvailable), .serialized, .timeLimit(.minutes(2)))
struct SessionLifecycleTests {
    static let allSteps: [FuseSession.ShutdownStep] = [.exit, .unmount, .join, .drain, .sessionUnmount, .destroy]

    @Test func shutdownFollowsTheDocumentedSequence() async throws {
        try await withTestMount(Fixtures.tree) { mount in
            let session = mount.session
            let runner = Task { try await session.run() }
            #expect(try await mount.run("cat", mount.repositoryPath + "/README.md").status == 0)
            #expect(MountTable.mount(at: mount.path) != nil)
            await session.shutdown()
            #expect(session.shutdownSteps == Self.allSteps)
            #expect(session.hasStopped)
            #expect(MountTable.mount(at: mount.path) == nil)
            try await runner.value
            // A second shutdown is a no-op.
            await session.shutdown()
            #expect(session.shutdownSteps == Self.allSteps)
        }
    }

    @Test func anExternalUnmountEndsRun() async throws {
        try await withTestMount(Fixtures.tree) { mount in
            let session = mount.session
            let runner = Task { try await session.run() }
            #expect(try await mount.run("fusermount3", "-u", mount.path, in: "/").status == 0)
            try await runner.value
            #expect(session.shutdownSteps.last == .destroy)
            #expect(MountTable.mount(at: mount.path) == nil)
        }
    }

    @Test func shutdownOfABusyMountDetachesItAndEnds() async throws {
        try await withTestMount(Fixtures.tree) { mount in
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/bin/sh")
            let root = mount.repositoryPath
            holder.arguments = ["-c", "exec 3< '\(root)/README.md'; cd '\(root)'; sleep 30"]
            try holder.run()
            defer { holder.terminate() }
            try await Task.sleep(for: .milliseconds(300))
            let clock = ContinuousClock()
            let start = clock.now
            await mount.session.shutdown()
            #expect(clock.now - start < .seconds(8))
            #expect(mount.session.shutdownSteps == Self.allSteps)
            #expect(MountTable.mount(at: mount.path) == nil)
        }
    }

    @Test func shutdownWithAStuckRequestRepliesAndEnds() async throws {
        try await withTestMount(Fixtures.tree, backing: .remote) { mount in
            let fetcher = try #require(mount.fetcher)
            _ = try await mount.run("ls", mount.path + "/acme")
            fetcher.delay(.trees, by: .seconds(60))
            let reader = Task { try await mount.run("stat", mount.repositoryPath + "/README.md") }
            try await waitForRequests(mount, count: 1)
            let clock = ContinuousClock()
            let start = clock.now
            await mount.session.shutdown()
            #expect(clock.now - start < .seconds(8))
            #expect(mount.session.shutdownSteps == Self.allSteps)
            #expect(mount.session.requestsInFlight == 0)
            #expect(try await reader.value.status != 0)
        }
    }

    /// A process killed while it waits for a stuck lookup: the kernel sends FUSE_INTERRUPT and then waits,
    /// uninterruptibly, for our answer, so without interrupt handling the killed process would stay in D state for
    /// the whole 30-second fetch. (This kernel queues FUSE_INTERRUPT for SIGKILL only, not for SIGINT or SIGTERM,
    /// as libfuse issue #627 also observed.)
    @Test func aKilledWaiterIsAnsweredAtOnce() async throws {
        try await withTestMount(Fixtures.tree, backing: .remote) { mount in
            let fetcher = try #require(mount.fetcher)
            _ = try await mount.run("ls", mount.path + "/acme")
            fetcher.delay(.trees, by: .seconds(30))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/stat")
            process.arguments = [mount.repositoryPath + "/README.md"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await waitForRequests(mount, count: 1)
            let clock = ContinuousClock()
            let start = clock.now
            kill(process.processIdentifier, SIGKILL)
            try await mount.blocking { process.waitUntilExit() }
            #expect(clock.now - start < .seconds(8))
            try await waitForRequests(mount, count: 0)
        }
    }

    /// Waits up to two seconds for the number of requests in flight to reach `count`.
    private func waitForRequests(_ mount: TestMount, count: Int) async throws {
        for _ in 0..<100 where mount.session.requestsInFlight != count {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(mount.session.requestsInFlight == count)
    }
}
