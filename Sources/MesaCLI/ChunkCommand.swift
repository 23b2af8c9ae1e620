import ArgumentParser
import Crypto
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

    func run() throws {
        let descriptor = try FileDescriptor.open(file, .readOnly)
        defer { try? descriptor.close() }
        var reader = ChunkReader(source: FileByteSource(descriptor: descriptor, path: file))
        var output = BufferedOutput()
        let json = json
        while try reader.next({ (offset, bytes) throws(StoreError) in
            let id = Hex.encode(SHA256.hash(data: bytes))
            if json {
                output.write("{\"offset\":\(offset),\"length\":\(bytes.count),\"id\":\"\(id)\"}\n")
            } else {
                output.write("\(offset)\t\(bytes.count)\t\(id)\n")
            }
        }) {}
        output.flush()
    }
}
