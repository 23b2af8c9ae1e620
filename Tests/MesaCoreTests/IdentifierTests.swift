import MesaCore
import Testing

@Suite struct IdentifierTests {
    @Test func chunkAndObjectIDsRoundTripThroughHex() throws {
        let hex = "00ff10e069de29bb2d1d6434b8b29ae775ad8c2e48c5391e69de29bb2d1d64340"
        let chunk = try #require(ChunkID(hex: String(hex.prefix(64))))
        #expect(chunk.hex == String(hex.prefix(64)))
        #expect(ChunkID(bytes: chunk.bytes) == chunk)
        let object = try #require(ObjectID(hex: "E69DE29BB2D1D6434B8B29AE775AD8C2E48C5391"))
        #expect(object.hex == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        #expect(ChunkID(hex: "abc") == nil)
        #expect(ObjectID(hex: "zz9de29bb2d1d6434b8b29ae775ad8c2e48c5391") == nil)
        #expect(ObjectID(bytes: [1, 2, 3]) == nil)
    }

    @Test func recordKeysKeepKindAndParse() throws {
        let object = try #require(ObjectID(hex: "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"))
        let tree = RecordKey(.tree, object: object)
        let manifest = RecordKey(.manifest, object: object)
        #expect(tree != manifest)
        #expect(tree.objectID == object && tree.chunkID == nil)
        #expect(RecordKey(parsing: tree.description) == tree)
        #expect(tree.description == "tree:e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        let chunk = try #require(ChunkID(bytes: [UInt8](repeating: 0xab, count: 32)))
        #expect(RecordKey(parsing: chunk.hex) == RecordKey(chunk: chunk))
        #expect(RecordKey(parsing: "blob:00") == nil)
        // Texts that crashed the parser (found by the HTTP campaign): no kind, no id, only separators.
        for text in ["", ":", "::", "tree:", ":\(tree.description)", "tree::00"] { #expect(RecordKey(parsing: text) == nil) }
        #expect(RecordKey(kind: .chunk, idBytes: object.bytes) == nil)
    }

    @Test(arguments: [
        ("10GB", 10_000_000_000), ("320 MB", 320_000_000), ("512MiB", 536_870_912), ("1.5KiB", 1536),
        ("42", 42), ("1gib", 1_073_741_824), ("7 b", 7),
    ] as [(String, Int64)])
    func sizesParse(text: String, bytes: Int64) {
        #expect(ByteCount(parsing: text)?.rawValue == bytes)
    }

    @Test(arguments: ["", "-1GB", "10XB", "GB", "1e30GB"])
    func badSizesAreRejected(text: String) {
        #expect(ByteCount(parsing: text) == nil)
    }
}
