import Foundation
import MesaTesting
import Testing

/// Server housekeeping while it serves (issue 11): garbage collection every 0.3 s with a one-second grace, compaction
/// included, while a mount uploads files (pushes stage records, then commit) and REST reads them back and writes and
/// deletes whole repositories (garbage). Every upload lands, every read is right, compaction rewrote segments while
/// the server served, and the stopped server's store checks clean (deep fsck).
@Suite(.serialized, .enabled(if: FuseTestEnvironment.isAvailable))
struct MaintenanceEndToEndTests {
    @Test func collectionAndCompactionRunWhileAMountUploadsAndClientsRead() throws {
        let server = try ServerProcess(extraArguments: ["--gc-interval", "0.3", "--gc-grace", "1"])
        let scratch = try TemporaryDirectory(prefix: "mesa-maintenance-e2e")
        let mountPoint = scratch.appending("mnt")
        let environment = [
            "MESA_API_KEY": server.adminKey, "MESA_SERVICE_DOMAIN": server.url, "MESA_MOUNT_POINT": mountPoint,
            "MESA_CACHE_PATH": scratch.appending("cache"), "MESA_STATE_DIR": scratch.appending("state"),
            "MESA_RUNTIME_DIR": scratch.appending("run"), "MESA_SYNC_QUIET_MS": "50", "MESA_SYNC_MAX_DELAY_MS": "200",
        ]
        func mesa(_ arguments: [String]) throws -> MesaBinary.Result { try MesaBinary.run(arguments, environment: environment) }
        defer {
            _ = try? mesa(["unmount"])
            _ = try? Shell.run("fusermount3 -uz '\(mountPoint)' 2>/dev/null")
        }
        let curl = "curl -sf -H 'Authorization: Bearer \(server.adminKey)'"
        func sha(ofContent path: String) throws -> String {
            try Shell.run(
                "\(curl) -H 'Accept: application/octet-stream' '\(server.url)/v1/local/work/content?path=\(path)' | sha256sum"
            ).output
        }
        let segments = server.directory.appending("store/segments")
        func segmentFiles() -> Set<String> {
            Set(((try? FileManager.default.contentsOfDirectory(atPath: segments)) ?? []).filter { $0.hasSuffix(".seg") })
        }

        #expect(try mesa(["repo", "create", "work"]).status == 0)
        let mounted = try mesa(["mount", "-d"])
        #expect(mounted.status == 0, "\(mounted.standardError)")
        let repo = mountPoint + "/local/work"
        var random = SeededBytes(seed: 611)
        var written: [String: String] = [:]  // path -> sha256sum line
        var seen = Set<String>()
        for round in 0..<12 {
            // Garbage: a repository with 1 MiB of content, written through REST and deleted at once.
            let garbage = "tmp\(round)"
            #expect(try mesa(["repo", "create", garbage]).status == 0)
            let body = scratch.appending("body.json")
            let content = Data(random.bytes(1 << 20)).base64EncodedString()
            try #"{"base_change_id":"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz","message":"g","files":[{"path":"g.bin","content":"\#(content)"}]}"#
                .write(toFile: body, atomically: true, encoding: .utf8)
            #expect(
                try Shell.run("\(curl) -X POST '\(server.url)/v1/local/\(garbage)/changes' --data-binary @'\(body)' >/dev/null")
                    .status == 0)
            #expect(try mesa(["repo", "delete", "-y", garbage]).status == 0)

            // Work: files written through the mount (uploaded in the background while collection runs).
            for index in 0..<3 {
                let path = "r\(round)/f\(index).bin"
                let bytes = random.bytes(64 << 10 + Int(random.next() % UInt64(192 << 10)))
                try FileManager.default.createDirectory(atPath: repo + "/r\(round)", withIntermediateDirectories: true)
                #expect(FileManager.default.createFile(atPath: repo + "/" + path, contents: Data(bytes)))
                written[path] = try Shell.run("sha256sum < '\(repo)/\(path)'").output
            }
            // Reads of what earlier rounds uploaded, while the collector runs.
            if round > 0 {
                let sync = try mesa(["sync", "--timeout", "60"])
                #expect(sync.status == 0, "round \(round): \(sync.standardOutput)\(sync.standardError)")
                for index in 0..<3 {
                    let path = "r\(round - 1)/f\(index).bin"
                    #expect(try sha(ofContent: path) == written[path], "round \(round): \(path)")
                }
            }
            seen.formUnion(segmentFiles())
            usleep(300_000)
        }
        let sync = try mesa(["sync", "--timeout", "60"])
        #expect(sync.status == 0, "\(sync.standardOutput)\(sync.standardError)")
        for (path, digest) in written.sorted(by: { $0.key < $1.key }) {
            #expect(try sha(ofContent: path) == digest, "\(path) on the server")
        }
        // Compaction ran while serving: segments the server wrote during the test were rewritten and deleted.
        let now = segmentFiles()
        #expect(!seen.subtracting(now).isEmpty, "no segment was compacted away: \(seen.sorted()) -> \(now.sorted())")

        _ = try mesa(["unmount"])
        server.stop()
        let fsck = try MesaBinary.run(["debug", "store", "fsck", "--deep", "--data-dir", server.directory.path])
        #expect(fsck.status == 0, "\(fsck.standardOutput)\(fsck.standardError)")
    }
}
