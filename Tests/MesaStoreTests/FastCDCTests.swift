import Crypto
import MesaCore
import MesaTesting
import SystemPackage
import Testing

@testable import MesaStore

@Suite struct FastCDCTests {
    private func chunkIDs(_ bytes: [UInt8]) -> [[UInt8]] {
        bytes.withUnsafeBytes { raw in
            FastCDC().chunks(of: raw).map { Array(SHA256.hash(data: raw[$0.offset..<$0.offset + $0.length])) }
        }
    }

    @Test func chunkSizesStayWithinLimits() {
        var random = SeededBytes(seed: 1)
        let bytes = random.bytes(16 << 20)
        let chunks = bytes.withUnsafeBytes { FastCDC().chunks(of: $0) }
        let sizes = FastCDC.Sizes.standard
        for chunk in chunks.dropLast() {
            #expect(chunk.length >= sizes.minimum && chunk.length <= sizes.maximum)
        }
        #expect(chunks.map(\.length).reduce(0, +) == bytes.count)
        let average = bytes.count / chunks.count
        // Normalized chunking centres sizes near the 64 KiB target (about 16 KiB skipped plus the mask's mean).
        #expect(average > 48 << 10 && average < 96 << 10, "average chunk \(average)")
    }

    @Test func smallInputsAreOneChunk() {
        for count in [1, 100, 16 << 10] {
            let chunks = [UInt8](repeating: 7, count: count).withUnsafeBytes { FastCDC().chunks(of: $0) }
            #expect(chunks.count == 1 && chunks[0].length == count)
        }
        #expect([UInt8]().withUnsafeBytes { FastCDC().chunks(of: $0) }.isEmpty)
    }

    @Test func uniformInputIsCutAtTheMaximum() {
        // All-zero input never matches a mask (the gear hash of a run of zeros is constant), so only the maximum
        // cuts it: that path must still produce exact 256 KiB chunks.
        let chunks = [UInt8](repeating: 0, count: 1 << 20).withUnsafeBytes { FastCDC().chunks(of: $0) }
        #expect(chunks.allSatisfy { $0.length == FastCDC.Sizes.standard.maximum })
    }

    /// For 20 seeded offsets in a 64 MiB random file, a one-byte insert changes about two chunks and never more
    /// than four (DESIGN.md section 3). "Changed" counts the chunks of either version that the other lacks.
    @Test func oneByteInsertChangesFewChunks() {
        var random = SeededBytes(seed: 20_261_127)
        let original = random.bytes(64 << 20)
        let before = Set(chunkIDs(original))
        var changes: [Int] = []
        for _ in 0..<20 {
            let offset = Int(random.next() % UInt64(original.count))
            var edited = original
            edited.insert(UInt8(truncatingIfNeeded: random.next()), at: offset)
            let after = Set(chunkIDs(edited))
            changes.append(before.subtracting(after).count + after.subtracting(before).count)
        }
        let average = Double(changes.reduce(0, +)) / Double(changes.count)
        #expect(changes.allSatisfy { $0 <= 4 }, "changed chunks per insert: \(changes)")
        #expect(average >= 1.5 && average <= 2.5, "average \(average), per insert: \(changes)")
    }

    @Test(arguments: [1, 4096, 1 << 20])
    func boundariesDoNotDependOnReadSize(readSize: Int) throws {
        var random = SeededBytes(seed: 99)
        // One-byte reads are slow; 3 MiB still spans dozens of chunks and many refills of the window.
        let bytes = random.bytes(readSize == 1 ? 3 << 20 : 24 << 20)
        let expected = bytes.withUnsafeBytes { FastCDC().chunks(of: $0) }.map { [$0.offset, $0.length] }
        var reader = ChunkReader(source: MemoryByteSource(bytes, readSize: readSize), bufferSize: 0)
        var seen: [[Int]] = []
        while try reader.next({ (offset, chunk) throws(StoreError) in seen.append([Int(offset), chunk.count]) }) {}
        #expect(seen == expected)
    }

    @Test func fileSourceMatchesInMemoryChunking() throws {
        let directory = try TemporaryDirectory()
        var random = SeededBytes(seed: 5)
        let bytes = random.text(6 << 20)
        let path = directory.appending("input")
        try StoreFile(path: path, create: true).write(bytes, at: 0)
        for readSize in [4096, 1 << 20] {
            let descriptor = try FileDescriptor.open(path, .readOnly)
            defer { try? descriptor.close() }
            var reader = ChunkReader(source: FileByteSource(descriptor: descriptor, path: path, readSize: readSize))
            var lengths: [Int] = []
            while try reader.next({ (_, chunk) throws(StoreError) in lengths.append(chunk.count) }) {}
            #expect(lengths == bytes.withUnsafeBytes { FastCDC().chunks(of: $0) }.map(\.length))
        }
    }

    /// The gear table is part of the format: a change would re-chunk every store. The two values were computed
    /// independently (a Python SplitMix64 with the documented seed).
    @Test func gearTableIsTheDocumentedOne() {
        #expect(GearTable.entries.count == 256)
        #expect(Set(GearTable.entries).count == 256)
        #expect(GearTable.seed == 0x4D45_5341_4344_4331)
        #expect(GearTable.entries[0] == 0x1F64_9BBA_A14D_8458)
        #expect(GearTable.entries[255] == 0xE6B1_6F5E_7CAC_1335)
    }
}

@Suite struct ChecksumTests {
    @Test func crc32cMatchesTheStandardCheckValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([]) == 0)
    }

    @Test func crc32cIsIncrementalAndCoversEveryLength() {
        var random = SeededBytes(seed: 3)
        let bytes = random.bytes(1000)
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let whole = CRC32C.checksum(bytes)
            let first = CRC32C.checksum(Array(bytes[..<split]))
            #expect(CRC32C.checksum(Array(bytes[split...]), continuing: first) == whole)
        }
        // A single flipped bit anywhere changes the checksum.
        var flipped = bytes
        flipped[613] ^= 0x10
        #expect(CRC32C.checksum(flipped) != CRC32C.checksum(bytes))
    }

    @Test func gitBlobHasherMatchesGit() {
        // `printf 'hello\n' | git hash-object --stdin`
        var hasher = GitBlobHasher(size: 6)
        Array("hello\n".utf8).withUnsafeBytes { hasher.update($0) }
        #expect(hasher.finalize().hex == "ce013625030ba8dba906f756967f9e9ca394464a")
        // The empty blob.
        #expect(GitBlobHasher(size: 0).finalize().hex == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
    }
}
