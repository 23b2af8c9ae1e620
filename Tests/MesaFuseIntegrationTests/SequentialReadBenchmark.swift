import Foundation
import MesaCore
import MesaFS
import MesaSync
import MesaTesting
import Testing

/// Sequential read throughput through a mount against the same bytes in a plain file (DESIGN.md section 7:
/// "hydrated sequential read >= 0.7x native"). Opt-in: `MESA_FUSE_BENCH=1` (size in MiB: `MESA_FUSE_BENCH_MIB`).
/// Page caches are dropped per file with `dd iflag=nocache count=0` (posix_fadvise), never system-wide.
@Suite(.tags(.fuse), .enabled(if: ProcessInfo.processInfo.environment["MESA_FUSE_BENCH"] == "1"), .serialized)
struct SequentialReadBenchmark {
    @Test func sequentialReadThroughTheMount() async throws {
        let mebibytes = Int(ProcessInfo.processInfo.environment["MESA_FUSE_BENCH_MIB"] ?? "") ?? 256
        var generator = SeededBytes(seed: 1234)
        // Half random, half text: the store keeps random chunks raw and compresses text ones.
        let bytes = generator.bytes(mebibytes << 19) + generator.text(mebibytes << 19)
        let plain = try TemporaryDirectory(prefix: "mesa-bench")
        let plainFile = plain.appending("plain.bin")
        _ = FileManager.default.createFile(atPath: plainFile, contents: Data(bytes))
        for backing in [TestMountBacking.local, .remote] {
            try await withTestMount(FixtureTree(["big.bin": .file(bytes)]), backing: backing) { mount in
                let mounted = mount.repositoryPath + "/big.bin"
                let segments = try FileManager.default.subpathsOfDirectory(atPath: mount.fixture.directory.path)
                    .filter { $0.hasSuffix(".seg") }.map { mount.fixture.directory.path + "/" + $0 }
                func drop(_ paths: [String]) async throws {
                    for path in paths { _ = try await mount.run("dd", "if=\(path)", "iflag=nocache", "count=0") }
                }
                func read(_ path: String) async throws -> String {
                    let result = try await mount.run("dd", "if=\(path)", "of=/dev/null", "bs=1M")
                    return String(result.error.split(separator: "\n").last ?? "")
                }
                _ = try await mount.run("stat", mounted)
                try await drop([plainFile, mounted] + segments)
                print("BENCH \(backing) plain cold:  \(try await read(plainFile))")
                print("BENCH \(backing) plain warm:  \(try await read(plainFile))")
                print("BENCH \(backing) mount first: \(try await read(mounted))")
                try await drop([mounted] + segments)
                print("BENCH \(backing) mount cold (content hydrated, page caches dropped): \(try await read(mounted))")
                print("BENCH \(backing) mount warm (kernel page cache, keep_cache): \(try await read(mounted))")
                try await drop([mounted])
                print("BENCH \(backing) mount, store in page cache, FUSE pages dropped: \(try await read(mounted))")
            }
        }
    }
}
