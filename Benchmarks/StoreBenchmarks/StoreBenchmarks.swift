// Micro benchmarks of the store's hot paths (ordo-one/benchmark): chunking, SHA-256, zstd at levels 1 and 3, and
// put/get through a ContentStore. Built only with MESA_BENCHMARKS=1:
//
//   MESA_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark --target StoreBenchmarks
//
// Throughput is reported per 8 MiB of input (one "operation"); malloc counts guard the zero-allocation paths.
import Benchmark
import Crypto
import Foundation
import MesaCore
import MesaStore

private let input: [UInt8] = {
    var state: UInt64 = 42
    let words = ["let", "var", "func", "return", "if", "else", "for", "in", "self", "value", "(", ")", "{", "}"]
    var out = [UInt8]()
    out.reserveCapacity(8 << 20)
    while out.count < 8 << 20 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        out += words[Int(state >> 60) % words.count].utf8
        out.append(state & 0x700 == 0 ? 10 : 32)
    }
    return Array(out.prefix(8 << 20))
}()

private let chunks = input.withUnsafeBytes { FastCDC().chunks(of: $0) }

let benchmarks: @Sendable () -> Void = {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 1,
        maxDuration: .seconds(3)
    )

    Benchmark("FastCDC cut, 8 MiB", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(input.withUnsafeBytes { FastCDC().chunks(of: $0) }.count)
        }
    }

    Benchmark("SHA-256 of chunks, 8 MiB", configuration: configuration) { benchmark in
        for _ in benchmark.scaledIterations {
            input.withUnsafeBytes { raw in
                for chunk in chunks { blackHole(SHA256.hash(data: raw[chunk.offset..<chunk.offset + chunk.length])) }
            }
        }
    }

    for level: Int32 in [1, 3] {
        Benchmark("zstd level \(level) of chunks, 8 MiB", configuration: configuration) { benchmark in
            var output = [UInt8](repeating: 0, count: Zstd.compressBound(FastCDC.Sizes.standard.maximum))
            for _ in benchmark.scaledIterations {
                input.withUnsafeBytes { raw in
                    output.withUnsafeMutableBytes { destination in
                        for chunk in chunks {
                            let source = UnsafeRawBufferPointer(rebasing: raw[chunk.offset..<chunk.offset + chunk.length])
                            blackHole(try? Zstd.compress(source, into: destination, level: level))
                        }
                    }
                }
            }
        }
    }

    Benchmark("ContentStore ingest + read, 8 MiB", configuration: configuration) { benchmark in
        let directory = NSTemporaryDirectory() + "mesa-store-bench-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for _ in benchmark.scaledIterations {
            try? FileManager.default.removeItem(atPath: directory)
            guard let store = try? ContentStore(path: directory), let manifest = try? store.ingest(bytes: input) else {
                fatalError("store benchmark could not open or write its store")
            }
            blackHole(try? store.read(manifest))
            try? store.close()
        }
    }
}
