import ArgumentParser
import Crypto
import Dispatch
import Foundation
import MesaCore
import MesaStore

/// `mesa debug bench-store <file>`: measures each stage of the store's write path in-process on one input, so
/// `Benchmarks/store-bench.sh` can set them beside `sha256sum` and `zstd` run on the same file.
struct BenchStoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-store",
        abstract: "Measure chunking, SHA-256, zstd and ingest throughput on a file (prints JSON lines).",
        shouldDisplay: false
    )

    @Argument(help: "The input file; it is read into memory first.")
    var file: String

    @Option(help: "Where to create the temporary stores (removed afterwards).")
    var scratch = "/tmp"

    @Option(help: "Runs per stage; the best run is reported.")
    var runs = 3

    func run() throws {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        let size = Double(bytes.count)
        var output = BufferedOutput()
        func report(_ stage: String, _ seconds: Double) {
            let rate = size / seconds / 1e6
            output.write("{\"stage\":\"\(stage)\",\"bytes\":\(bytes.count),\"seconds\":\(seconds),\"mb_per_s\":\(Int(rate))}\n")
            output.flush()
        }
        let chunks = bytes.withUnsafeBytes { FastCDC().chunks(of: $0) }

        report("chunk", best { _ = bytes.withUnsafeBytes { FastCDC().chunks(of: $0) } })
        report("sha256", best {
            bytes.withUnsafeBytes { raw in
                for chunk in chunks { _ = SHA256.hash(data: raw[chunk.offset..<chunk.offset + chunk.length]) }
            }
        })
        report("chunk+sha256", best {
            bytes.withUnsafeBytes { raw in
                for chunk in FastCDC().chunks(of: raw) {
                    _ = SHA256.hash(data: raw[chunk.offset..<chunk.offset + chunk.length])
                }
            }
        })
        for level: Int32 in [1, 3] {
            report("zstd-\(level)", best {
                var destination = [UInt8](repeating: 0, count: Zstd.compressBound(FastCDC.Sizes.standard.maximum))
                bytes.withUnsafeBytes { raw in
                    destination.withUnsafeMutableBytes { out in
                        for chunk in chunks {
                            let source = UnsafeRawBufferPointer(rebasing: raw[chunk.offset..<chunk.offset + chunk.length])
                            _ = try? Zstd.compress(source, into: out, level: level)
                        }
                    }
                }
            })
        }
        for threads in [1, ProcessInfo.processInfo.activeProcessorCount] {
            report("ingest-\(threads)t", try bestThrowing {
                let directory = scratch + "/mesa-bench-\(getpid())-\(threads)"
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let store = try ContentStore(path: directory)
                _ = try store.ingest(fileAt: file, threads: threads)
                try store.close()
            })
        }
    }

    private func best(_ body: () -> Void) -> Double {
        (0..<max(1, runs)).map { _ in
            let start = ContinuousClock.now
            body()
            return (ContinuousClock.now - start).seconds
        }.min() ?? 0
    }

    private func bestThrowing(_ body: () throws -> Void) throws -> Double {
        var results: [Double] = []
        for _ in 0..<max(1, runs) {
            let start = ContinuousClock.now
            try body()
            results.append((ContinuousClock.now - start).seconds)
        }
        return results.min() ?? 0
    }
}
