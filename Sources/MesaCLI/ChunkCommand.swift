import ArgumentParser
import Crypto
import Foundation
import MesaCore
import MesaStore
import SystemPackage

/// `mesa debug chunk <file> [--json]`: prints the file's FastCDC chunks with their SHA-256 ids.
struct ChunkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chunk",
        abstract: "Print a file's content-defined chunks: offset, length and SHA-256 id, one line each."
    )

    @Argument(help: "The file to chunk.")
    var file: String

    @Flag(help: "Print one JSON object per line with offset, length and id.")
    var json = false

    @Option(help: "Threads hashing chunks in parallel (default: every core).")
    var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1.") }
    }

    func run() throws {
        let descriptor = try FileDescriptor.open(file, .readOnly)
        defer { try? descriptor.close() }
        let source = FileByteSource(descriptor: descriptor, path: file)
        let chunks = try ParallelChunking.map(source, threads: threads) { (offset, bytes) throws(StoreError) in
            (offset: offset, length: bytes.count, id: Hex.encode(SHA256.hash(data: bytes)))
        }
        var output = BufferedOutput()
        for chunk in chunks {
            if json {
                output.write("{\"offset\":\(chunk.offset),\"length\":\(chunk.length),\"id\":\"\(chunk.id)\"}\n")
            } else {
                output.write("\(chunk.offset)\t\(chunk.length)\t\(chunk.id)\n")
            }
        }
        output.flush()
    }
}
