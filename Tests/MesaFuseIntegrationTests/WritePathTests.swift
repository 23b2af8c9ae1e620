import Foundation
import MesaCore
import MesaFS
import MesaFuse
import MesaTesting
import Testing

/// The write path through a real mount: shell edits land in the overlay and read back at once, from every process.
@Suite(.tags(.fuse), .enabled(if: FuseTestEnvironment.isAvailable), .serialized, .timeLimit(.minutes(2)))
struct WritePathTests {
    /// A write costs one request: no `getxattr security.capability` before each (MesaFS answers getxattr ENOSYS
    /// once, and the kernel stops asking).
    @Test func eachWriteCostsOneRequest() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let path = mount.repositoryPath + "/writes.bin"
            let descriptor = try await mount.blocking { open(path, O_CREAT | O_WRONLY, 0o644) }
            #expect(descriptor >= 0)
            _ = try await mount.blocking { pwrite(descriptor, "warm", 4, 0) }
            let before = mount.session.requestsReceived
            let written = try await mount.blocking { () -> Int in
                var total = 0
                for index in 0..<200 { total += pwrite(descriptor, "0123456789abcdef", 16, off_t(index * 16)) }
                return total
            }
            let requests = mount.session.requestsReceived - before
            _ = try await mount.blocking { close(descriptor) }
            #expect(written == 3200)
            #expect(requests <= 205, "200 writes sent \(requests) requests")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 3200)
        }
    }

    @Test func shellEditsReadBackAtOnce() async throws {
        try await withTestMount(Fixtures.tree, writable: true) { mount in
            let root = mount.repositoryPath
            func sh(_ script: String) async throws -> TestMount.CommandResult {
                let result = try await mount.run(["sh", "-c", script], in: root)
                #expect(result.status == 0, "\(script): \(result.error)")
                return result
            }
            _ = try await sh("echo hello > new.txt")
            #expect(try await sh("cat new.txt").output == "hello\n")
            _ = try await sh("echo more >> new.txt")
            #expect(try await sh("cat new.txt").output == "hello\nmore\n")
            _ = try await sh("echo changed >> README.md")
            #expect(try await sh("cat README.md").output == "# Demo\nneedle in a haystack\nchanged\n")
            _ = try await sh("mkdir -p made/deeper && echo x > made/deeper/f && mv made/deeper/f made/g")
            #expect(try await sh("ls made").output == "deeper\ng\n")
            _ = try await sh("rmdir made/deeper && rm made/g && rmdir made")
            #expect(try await mount.run("ls", root + "/made").status != 0)
            _ = try await sh("ln -s README.md link && chmod +x new.txt && truncate -s 3 README.md")
            #expect(try await sh("readlink link").output == "README.md\n")
            #expect(try await sh("cat link").output == "# D")
            #expect(try await sh("stat -c %a new.txt").output == "755\n")
            _ = try await sh("mv src/module0 moved && ls moved | head -1")
            #expect(try await sh("cat moved/file0.swift | wc -c").output.trimmingCharacters(in: .whitespaces) == "1000\n")
            _ = try await sh("dd if=/dev/zero of=data/large.bin bs=1 count=4 seek=10 conv=notrunc 2>/dev/null")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: root + "/data/large.bin"))
            var expected = Fixtures.large
            for index in 10..<14 { expected[index] = 0 }
            #expect(Array(bytes) == expected)
        }
    }
}
