import Foundation
import MesaCore
import MesaFS
import MesaFuse
import MesaStore
import MesaSync
import MesaTesting
import MesaTree
import Testing

/// The read path through a real mount: ordinary tools on the mount path (STYLE.md section 8).
@Suite(.tags(.fuse), .enabled(if: FuseTestEnvironment.isAvailable), .serialized, .timeLimit(.minutes(2)))
struct ReadPathTests {
    @Test func theMountedTreeEqualsTheSourceTree() async throws {
        let expected = try TemporaryDirectory(prefix: "mesa-expected")
        try Fixtures.materialize(Fixtures.tree, at: expected.path)
        try await withTestMount(Fixtures.tree) { mount in
            let diff = try await mount.run("diff", "-r", "--no-dereference", expected.path, mount.repositoryPath)
            #expect(diff.status == 0, "\(diff.output)\(diff.error)")
            for format in ["%y %m %P -> %l\n", "%s %P\n"] {
                let types = format.hasPrefix("%s") ? ["-type", "f"] : []
                let local = try await mount.run(
                    "find", ".", "-mindepth", "1", types.first ?? "-true", types.last ?? "-true", "-printf", format,
                    in: expected.path)
                let mounted = try await mount.run(
                    "find", ".", "-mindepth", "1", types.first ?? "-true", types.last ?? "-true", "-printf", format,
                    in: mount.repositoryPath)
                #expect(mounted.status == 0)
                let localLines = local.output.split(separator: "\n").sorted()
                #expect(mounted.output.split(separator: "\n").sorted() == localLines)
                let symlinks = Fixtures.tree.files.values.filter { if case .symlink = $0 { true } else { false } }.count
                let entries = Fixtures.tree.files.count + Fixtures.directoryCount(Fixtures.tree)
                #expect(localLines.count == (format.hasPrefix("%s") ? Fixtures.tree.files.count - symlinks : entries))
            }
            let large = try await mount.run(
                "cmp", expected.path + "/data/large.bin", mount.repositoryPath + "/data/large.bin")
            #expect(large.status == 0)
            let times = try await mount.run(
                "stat", "-c", "%Y %h", mount.repositoryPath + "/README.md", mount.repositoryPath + "/a/b")
            #expect(times.output == "\(Fixtures.commitTime) 1\n\(Fixtures.commitTime) 1\n")
            let organizations = try await mount.run("ls", mount.path)
            #expect(organizations.output == "acme\n")
        }
    }

    @Test func mountingAndListingFetchNoFileContent() async throws {
        try await withTestMount(Fixtures.tree, backing: .remote) { mount in
            let fetcher = try #require(mount.fetcher)
            #expect(fetcher.snapshot.calls.isEmpty)
            let listing = try await mount.run("ls", "-la", mount.repositoryPath)
            #expect(listing.output.contains("README.md"))
            let sizes = try await mount.run("find", ".", "-type", "f", "-printf", "%s %P\n", in: mount.repositoryPath)
            #expect(sizes.output.contains("\(Fixtures.large.count) data/large.bin"))
            #expect(fetcher.snapshot.chunkCount == 0)
            #expect(fetcher.snapshot.records[.manifest] ?? 0 > 0)
            // The counter does count content: one small read fetches its chunk.
            let readme = try await mount.run("cat", mount.repositoryPath + "/README.md")
            #expect(readme.output.hasPrefix("# Demo"))
            #expect(fetcher.snapshot.chunkCount == 1)
        }
    }

    @Test func aRangeReadFetchesOnlyTheChunksItCovers() async throws {
        try await withTestMount(Fixtures.tree, backing: .remote) { mount in
            let fetcher = try #require(mount.fetcher)
            let file = mount.repositoryPath + "/data/large.bin"
            _ = try await mount.run("stat", file)
            let manifest = try await largeManifest(mount)
            #expect(manifest.chunks.count > 40)
            let output = try TemporaryDirectory(prefix: "mesa-dd")
            let block: Int64 = 300
            let result = try await mount.run(
                "dd", "if=\(file)", "of=\(output.appending("block"))", "bs=4096", "skip=\(block)", "count=1",
                "iflag=direct")
            #expect(result.status == 0, "\(result.error)")
            let range = (block * 4096)..<(block * 4096 + 4096)
            let covering = manifest.chunkIndices(covering: range).map { manifest.chunks[$0].id }
            #expect(fetcher.snapshot.chunks == covering)
            let bytes = try await mount.blocking {
                try Data(contentsOf: URL(fileURLWithPath: output.appending("block")))
            }
            #expect(Array(bytes) == Array(Fixtures.large[Int(range.lowerBound)..<Int(range.upperBound)]))
        }
    }

    @Test func concurrentReadersOfOneChunkCauseOneFetch() async throws {
        try await withTestMount(Fixtures.tree, backing: .remote) { mount in
            let fetcher = try #require(mount.fetcher)
            let file = mount.repositoryPath + "/data/large.bin"
            _ = try await mount.run("stat", file)
            let callsBefore = fetcher.snapshot.calls[.records] ?? 0
            fetcher.delay(.records, by: .milliseconds(600))
            let results = try await withThrowingTaskGroup(of: TestMount.CommandResult.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await mount.run(
                            "dd", "if=\(file)", "of=/dev/null", "bs=4096", "skip=100", "count=1", "iflag=direct")
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0.status == 0 })
            #expect((fetcher.snapshot.calls[.records] ?? 0) - callsBefore == 1)
            #expect(Set(fetcher.snapshot.chunks).count == fetcher.snapshot.chunks.count)
            #expect(mount.source.statistics().chunkSharedWaits >= 1)
        }
    }

    @Test func grepAndFindWorkOverTheMount() async throws {
        try await withTestMount(Fixtures.tree, prefetch: .default) { mount in
            let grep = try await mount.run("grep", "-r", "needle", ".", in: mount.repositoryPath)
            #expect(grep.status == 0)
            #expect(
                Set(grep.output.split(separator: "\n"))
                    == ["./README.md:needle in a haystack", "./a/b/c/d/e/f/deep.txt:deep needle"])
            let find = try await mount.run("find", ".", "-type", "f", "-name", "*.swift", in: mount.repositoryPath)
            #expect(find.output.split(separator: "\n").count == 30)
            let count = try await mount.run("find", ".", in: mount.path)
            // ".", "acme", "acme/demo", then the repository's files and directories.
            let entries = 3 + Fixtures.tree.files.count + Fixtures.directoryCount(Fixtures.tree)
            #expect(count.output.split(separator: "\n").count == entries)
        }
    }

    /// Both an `ro` mount and a writable one (read-write, `noatime`): reads of clean content cost the same.
    @Test(arguments: [false, true]) func opensAreZeroMessageAndReadsStayCorrect(writable: Bool) async throws {
        let expected = try TemporaryDirectory(prefix: "mesa-expected")
        try Fixtures.materialize(Fixtures.tree, at: expected.path)
        try await withTestMount(Fixtures.tree, writable: writable) { mount in
            // Every file read twice (a cold and a warm pass): the kernel asks for one open at most, then opens every
            // file itself, and sends no flush or release. The warm pass sends no request at all: names, attributes,
            // listings and pages all come from the kernel's caches.
            // On a read-write superblock the kernel drops a file's cached access time after each read it sends us
            // or listing it sends us (fuse_invalidate_atime: only `ro` exempts it, `noatime` does not), so the first
            // warm pass costs one getattr per file and directory read cold, answered from memory on the FUSE thread;
            // the passes after it cost none.
            var requests: [UInt64] = []
            for _ in 0..<3 {
                let diff = try await mount.run("diff", "-r", "--no-dereference", expected.path, mount.repositoryPath)
                #expect(diff.status == 0, "\(diff.output)\(diff.error)")
                requests.append(mount.session.requestsReceived)
            }
            if writable {
                let read = UInt64(Fixtures.tree.files.count + Fixtures.directoryCount(Fixtures.tree) + 1)
                #expect(requests[1] - requests[0] <= read, "the first warm pass sent \(requests[1] - requests[0])")
            } else {
                #expect(requests[1] == requests[0], "the warm pass sent \(requests[1] - requests[0]) requests")
            }
            #expect(requests[2] == requests[1], "the second warm pass sent \(requests[2] - requests[1]) requests")
            let statistics = mount.fs.statistics()
            #expect(statistics.opens == 1, "the kernel sent \(statistics.opens) opens")
            #expect(statistics.openHandles == 0)
            // Write intent is decided by the writes themselves now that opens are the kernel's.
            let write = try await mount.run("sh", "-c", "echo x >> README.md", in: mount.repositoryPath)
            if writable {
                #expect(write.status == 0, "\(write.error)")
                let read = try await mount.run("tail", "-c", "2", "README.md", in: mount.repositoryPath)
                #expect(read.output == "x\n")
            } else {
                #expect(write.status != 0 && write.error.contains("Read-only file system"), "\(write.error)")
            }
        }
    }

    @Test func theReadAheadIsRaisedAfterMounting() async throws {
        try await withTestMount(Fixtures.tree) { mount in
            let device = try #require(mount.session.device)
            #expect(device.type == "fuse.mesa")
            guard geteuid() == 0 else { return }
            // Raised once the INIT handshake is done, which the first request proves.
            _ = try await mount.run("ls", mount.path)
            let path = "/sys/class/bdi/\(device.major):\(device.minor)/read_ahead_kb"
            var value = ""
            for _ in 0..<100 {
                value = try String(contentsOfFile: path, encoding: .utf8)
                if value == "1024\n" { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(value == "1024\n")
        }
    }

    private func largeManifest(_ mount: TestMount) async throws -> Manifest {
        let root = try mount.fixture.resolution().rootTree
        let entry = try mount.fixture.repository.entry(at: "data/large.bin", in: root)
        return try mount.fixture.repository.manifest(ofBlob: entry.id)
    }
}
