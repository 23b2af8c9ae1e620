import MesaCore
import Testing

@testable import MesaStore

@Suite struct RecordFormatTests {
    @Test(arguments: RecordKind.allCases)
    func headersRoundTrip(kind: RecordKind) throws {
        let key = try #require(RecordKey(kind: kind, idBytes: (0..<kind.idLength).map { UInt8($0 * 7 & 0xff) }))
        let header = RecordHeader(key: key, codec: .zstd, rawLength: 65536, storedLength: 1234, payloadChecksum: 99)
        let bytes = header.encoded()
        #expect(bytes.count == header.size)
        let decoded = try bytes.withUnsafeBytes { (raw) throws(RecordHeader.DecodeFailure) in try RecordHeader(decoding: raw) }
        #expect(decoded == header)
    }

    @Test func aDamagedHeaderIsRejected() {
        let key = RecordKey(chunk: ChunkID(bytes: [UInt8](repeating: 1, count: 32))!)
        let bytes = RecordHeader(key: key, codec: .raw, rawLength: 1, storedLength: 1, payloadChecksum: 0).encoded()
        for index in [0, 5, 9, 30] {
            var damaged = bytes
            damaged[index] ^= 0x01
            #expect(throws: RecordHeader.DecodeFailure.self) {
                try damaged.withUnsafeBytes { (raw) throws(RecordHeader.DecodeFailure) in try RecordHeader(decoding: raw) }
            }
        }
        #expect(throws: RecordHeader.DecodeFailure.truncated) {
            try Array(bytes.prefix(10)).withUnsafeBytes { (raw) throws(RecordHeader.DecodeFailure) in
                try RecordHeader(decoding: raw)
            }
        }
    }

    @Test func manifestsRoundTripAndMapRangesToChunks() throws {
        let chunks = (0..<5).map { index in
            ChunkRef(id: ChunkID(bytes: [UInt8](repeating: UInt8(index), count: 32))!, length: UInt32(100 * (index + 1)))
        }
        let manifest = Manifest(chunks: chunks)
        #expect(manifest.size == 1500)
        #expect(Manifest(decoding: manifest.encoded()) == manifest)
        #expect(Manifest(decoding: Array(manifest.encoded().dropLast())) == nil)
        #expect(manifest.chunkIndices(covering: 0..<1) == 0..<1)
        #expect(manifest.chunkIndices(covering: 99..<101) == 0..<2)
        #expect(manifest.chunkIndices(covering: 100..<300) == 1..<2)
        #expect(manifest.chunkIndices(covering: 1499..<5000) == 4..<5)
        #expect(manifest.chunkIndices(covering: 1500..<1600).isEmpty)
        #expect(Manifest.empty.chunkIndices(covering: 0..<10).isEmpty)
    }
}
