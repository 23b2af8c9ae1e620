import Foundation
import MesaCore
import MesaFS
import MesaFuse
import MesaTesting
import Testing

@Suite(.tags(.fuse), .enabled(if: FuseTestEnvironment.isAvailable), .serialized, .timeLimit(.minutes(2)))
struct RemoteUpdateTests {
    static let tree = FixtureTree([
        "changed.txt": .text("old content\n"),
        "removed.txt": .text("going away\n"),
        "kept.txt": .text("kept\n"),
        "dir/inner.txt": .text("inner old\n"),
    ])

    @Test func aRemoteChangeShowsUpWhileAnOpenFileKeepsItsBytes() async throws {
        try await withTestMount(Self.tree) { mount in
            let root = mount.repositoryPath
            // Warm every kernel cache: names, listings, attributes and pages.
            let before = try await mount.run("ls", root)
            #expect(before.output == "changed.txt\ndir\nkept.txt\nremoved.txt\n")
            #expect(try await mount.run("cat", root + "/changed.txt").output == "old content\n")
            #expect(try await mount.run("cat", root + "/dir/inner.txt").output == "inner old\n")
            #expect(try await mount.run("ls", root + "/added.txt").status != 0)
            let keptInode = try await mount.run("stat", "-c", "%i %Y", root + "/kept.txt").output
            let held = try await mount.blocking {
                try FileHandle(forReadingFrom: URL(fileURLWithPath: root + "/changed.txt"))
            }

            try mount.fixture.evolve(
                upserting: FixtureTree([
                    "changed.txt": .text("new content, longer\n"), "added.txt": .text("added\n"),
                    "dir/inner.txt": .text("inner new\n"),
                ]),
                deleting: ["removed.txt"], time: Fixtures.commitTime + 60)
            let invalidation = try await mount.pullRemoteChanges()
            #expect(!invalidation.isEmpty)

            #expect(try await mount.run("ls", root).output == "added.txt\nchanged.txt\ndir\nkept.txt\n")
            #expect(try await mount.run("cat", root + "/changed.txt").output == "new content, longer\n")
            #expect(try await mount.run("cat", root + "/added.txt").output == "added\n")
            #expect(try await mount.run("cat", root + "/dir/inner.txt").output == "inner new\n")
            #expect(try await mount.run("cat", root + "/removed.txt").status != 0)
            #expect(try await mount.run("stat", "-c", "%i %Y", root + "/kept.txt").output == keptInode)
            let changedTime = try await mount.run("stat", "-c", "%Y", root + "/changed.txt").output
            #expect(changedTime == "\(Fixtures.commitTime + 60)\n")

            let old = try await mount.blocking { () -> Data in
                try held.seek(toOffset: 0)
                defer { try? held.close() }
                return try held.readToEnd() ?? Data()
            }
            #expect(String(decoding: old, as: UTF8.self) == "old content\n")
        }
    }
}

@Suite(.tags(.fuse), .enabled(if: FuseTestEnvironment.isAvailable), .serialized, .timeLimit(.minutes(2)))
struct KernelErrnoTests {
    /// On a read-write mount the kernel passes every modification to MesaFS, so EROFS here is MesaFS's answer (on an
    /// `ro` mount the kernel would answer it without asking, and the test could not fail because of MesaFS).
    @Test func writesFailWithReadOnlyFileSystem() async throws {
        try await withTestMount(Fixtures.tree, readOnly: false) { mount in
            let options = try #require(MountTable.mount(at: mount.path)).options
            #expect(options.contains("rw") && !options.contains("ro"), "\(options)")
            let root = mount.repositoryPath
            for command in [
                ["touch", root + "/README.md"], ["touch", root + "/new-file"], ["mkdir", root + "/new-dir"],
                ["rm", root + "/README.md"], ["mv", root + "/README.md", root + "/moved.md"],
                ["ln", "-s", "x", root + "/new-link"], ["sh", "-c", "echo x >> '\(root)/README.md'"],
                ["chmod", "600", root + "/README.md"], ["truncate", "-s", "0", root + "/README.md"],
                ["ln", root + "/README.md", root + "/hard-link"], ["mkfifo", root + "/fifo"],
            ] {
                let result = try await mount.run(command)
                #expect(result.status != 0, "\(command)")
                #expect(result.error.contains("Read-only file system"), "\(command): \(result.error)")
            }
            let missing = try await mount.run("cat", root + "/does-not-exist")
            #expect(missing.error.contains("No such file or directory"))
            #expect(try await mount.run("cat", root + "/README.md").output.hasPrefix("# Demo"))
            #expect(try await mount.run("ls", root + "/new-file").status != 0)
        }
    }
}
