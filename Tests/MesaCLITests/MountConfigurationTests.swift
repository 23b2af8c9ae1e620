import Foundation
import MesaCore
import MesaTesting
import Testing

@testable import MesaCLI

@Suite struct MountConfigurationTests {
    @Test func defaultsFollowTheDesign() throws {
        let configuration = try MountConfiguration(environment: ["MESA_API_KEY": "mesa_k_s", "HOME": "/home/u"], uid: 5, gid: 6)
        #expect(configuration.baseURL == "http://127.0.0.1:7411")
        #expect(configuration.mountPoint == "/home/u/.local/share/mesa/mnt")
        #expect(configuration.cachePath == "/home/u/.cache/mesa")
        #expect(configuration.stateDirectory == "/home/u/.local/state/mesa")
        #expect(configuration.runtimeDirectory == "/home/u/.local/state/mesa/run")
        #expect(configuration.cacheMaxMemorySize == ByteCount(320_000_000))
        #expect(configuration.cacheEnabled && configuration.prefetchEnabled)
        #expect(configuration.prefetchMaxConcurrency == 8 && configuration.prefetchMaxDepth == nil)
        #expect(configuration.uid == 5 && configuration.gid == 6)
        #expect(configuration.pollInterval == .seconds(2))
        #expect(configuration.shutdownSyncTimeout == .seconds(10))
    }

    @Test func shutdownSyncTimeoutTakesSeconds() throws {
        let environment = ["MESA_API_KEY": "k", "MESA_SHUTDOWN_SYNC_TIMEOUT": "2.5"]
        #expect(try MountConfiguration(environment: environment).shutdownSyncTimeout == .milliseconds(2500))
        let none = ["MESA_API_KEY": "k", "MESA_SHUTDOWN_SYNC_TIMEOUT": "0"]
        #expect(try MountConfiguration(environment: none).shutdownSyncTimeout == .zero)
    }

    @Test func environmentOverridesAConfigFile() throws {
        let directory = try TemporaryDirectory()
        let file = directory.appending("mesa.conf")
        try "# mount settings\nMESA_API_KEY=mesa_file_key\nMESA_CACHE_MAX_SIZE=\"2GiB\"\nMESA_ORG=acme\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let configuration = try MountConfiguration(
            environment: ["MESA_ORG": "override", "MESA_SERVICE_DOMAIN": "example.com", "XDG_RUNTIME_DIR": "/run/user/7",
                "MESA_REPO_REVS": "acme/app=bookmark:release,acme/lib=change-id:\(String(repeating: "k", count: 32))"],
            configFile: file)
        #expect(configuration.credential == "mesa_file_key")
        #expect(configuration.cacheMaxSize == ByteCount.gibibytes(2))
        #expect(configuration.org == "override")
        #expect(configuration.baseURL == "https://api.example.com")
        #expect(configuration.runtimeDirectory == "/run/user/7/mesa")
        #expect(configuration.repoRevisions == ["acme/app": .bookmark("release"), "acme/lib": .change(String(repeating: "k", count: 32))])
        // MESA_NO_CONFIG_FILE ignores the file.
        #expect(throws: MountConfiguration.Invalid.self) {
            try MountConfiguration(environment: ["MESA_NO_CONFIG_FILE": "1"], configFile: file)
        }
    }

    @Test(arguments: [
        (["MESA_API_KEY": ""], "MESA_API_KEY"),
        (["MESA_API_KEY": "k", "MESA_CACHE_MAX_SIZE": "lots"], "MESA_CACHE_MAX_SIZE"),
        (["MESA_API_KEY": "k", "MESA_CACHE_ENABLED": "maybe"], "MESA_CACHE_ENABLED"),
        (["MESA_API_KEY": "k", "MESA_REPO_REVS": "app=main"], "MESA_REPO_REVS"),
        (["MESA_API_KEY": "k", "MESA_REPO_REVS": "a/b=change-id:nothex"], "MESA_REPO_REVS"),
        (["MESA_API_KEY": "k", "MESA_DAEMON_LOG_COLOR": "pink"], "MESA_DAEMON_LOG_COLOR"),
        (["MESA_API_KEY": "k", "MESA_CACHE_PATH": "/c", "MESA_STATE_DIR": "/c/state"], "MESA_STATE_DIR"),
        (["MESA_API_KEY": "k", "MESA_PREFETCH_MAX_CONCURRENCY": "0"], "prefetch"),
        (["MESA_API_KEY": "k", "MESA_SHUTDOWN_SYNC_TIMEOUT": "-1"], "MESA_SHUTDOWN_SYNC_TIMEOUT"),
        (["MESA_API_KEY": "k", "MESA_SHUTDOWN_SYNC_TIMEOUT": "soon"], "MESA_SHUTDOWN_SYNC_TIMEOUT"),
    ] as [([String: String], String)])
    func badSettingsAreRefusedNamingTheVariable(environment: [String: String], named: String) {
        do {
            _ = try MountConfiguration(environment: environment)
            Issue.record("accepted \(environment)")
        } catch {
            #expect("\(error)".contains(named), "\(error)")
        }
    }
}
