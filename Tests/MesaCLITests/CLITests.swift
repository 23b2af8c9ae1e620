import ArgumentParser
import Foundation
import MesaCore
import MesaFS
import MesaTesting
import Testing

@testable import MesaCLI

@Suite struct CLIParsingTests {
    @Test func storeOptionsParse() throws {
        let command = try StoreCommand.Ingest.parse(["--store", "/tmp/x", "--threads", "2", "--max-cache-size", "1GB", "f"])
        #expect(command.threads == 2)
        #expect(command.options.maxCacheSize == "1GB")
        #expect(command.files == ["f"])
    }

    @Test func badArgumentsAreRejectedWithAClearMessage() {
        #expect(throws: (any Error).self) { try StoreCommand.Ingest.parse(["--store", "/tmp/x", "--threads", "0", "f"]) }
        do {
            _ = try StoreCommand.Stats.parse(["--store", "/tmp/x", "--max-cache-size", "lots"])
            Issue.record("a bad size parsed")
        } catch {
            #expect(StoreCommand.Stats.message(for: error).contains("is not a size"))
        }
    }
}

@Suite struct FsckParsingTests {
    @Test func fsckStillTakesStoreAloneAndDeepTakesExactlyOneOfStoreAndDataDirectory() throws {
        let plain = try StoreCommand.Fsck.parse(["--store", "/tmp/x"])
        #expect(!plain.deep && plain.options.store == "/tmp/x")
        let deep = try StoreCommand.Fsck.parse(["--deep", "--json", "--store", "/tmp/x"])
        #expect(deep.deep && deep.json)
        for arguments in [
            [], ["--deep"], ["--deep", "--store", "/tmp/x", "--data-dir", "/tmp/y"], ["--data-dir", "/tmp/y"],
            ["--json", "--store", "/tmp/x"], ["--deep", "--data-dir", "/nonexistent/mesa-data"],
        ] {
            #expect(throws: (any Error).self, "\(arguments)") { try StoreCommand.Fsck.parse(arguments) }
        }
        // The other store commands still require --store.
        #expect(throws: (any Error).self) { try StoreCommand.Stats.parse([]) }
    }
}

@Suite struct CLIRunTests {
    @Test func versionPrintsTheVersion() throws {
        let result = try MesaBinary.run(["version"])
        #expect(result.status == 0)
        #expect(result.standardOutput == "mesa \(MesaVersion.current)\n")
    }

    @Test func dumpDefaultMesaignorePrintsTheBuiltInRules() throws {
        let result = try MesaBinary.run(["dump-default-mesaignore"])
        #expect(result.status == 0)
        #expect(result.standardOutput == IgnoreRules.defaultText)
        #expect(result.standardOutput.split(separator: "\n").contains(".git"))
    }

    @Test func debugChunkPrintsTabSeparatedAndJSONLines() throws {
        let directory = try TemporaryDirectory()
        var random = SeededBytes(seed: 21)
        let bytes = random.bytes(1 << 20)
        let path = directory.appending("file")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let plain = try MesaBinary.run(["debug", "chunk", path])
        #expect(plain.status == 0)
        let rows = plain.standardOutput.split(separator: "\n").map { $0.split(separator: "\t") }
        #expect(rows.count > 4)
        var expectedOffset = 0
        for row in rows {
            #expect(row.count == 3)
            #expect(Int(row[0]) == expectedOffset)
            expectedOffset += Int(row[1]) ?? 0
            #expect(ChunkID(hex: row[2]) != nil)
        }
        #expect(expectedOffset == bytes.count)

        let json = try MesaBinary.run(["debug", "chunk", "--json", path])
        let objects = try json.standardOutput.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(objects.count == rows.count)
        #expect(objects.first??["id"] as? String == String(rows[0][2]))
        #expect(objects.last??["offset"] as? Int == Int(rows.last![0]))
    }

    @Test func storeIngestCatAndStatsWorkFromTheShell() throws {
        let directory = try TemporaryDirectory()
        var random = SeededBytes(seed: 22)
        let bytes = random.text(700_000)
        let path = directory.appending("file")
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let store = directory.appending("store")
        let ingest = try MesaBinary.run(["debug", "store", "ingest", "--store", store, path])
        #expect(ingest.status == 0)
        let blobID = String(ingest.standardOutput.prefix(40))
        let cat = try MesaBinary.run(["debug", "store", "cat", "--store", store, blobID])
        #expect(Array(cat.standardOutput.utf8) == bytes)
        let range = try MesaBinary.run(["debug", "store", "cat", "--store", store, blobID, "--offset", "10", "--length", "5"])
        #expect(Array(range.standardOutput.utf8) == Array(bytes[10..<15]))
        let stats = try MesaBinary.run(["debug", "store", "stats", "--store", store, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(stats.standardOutput.utf8)) as? [String: Any])
        #expect((object["records"] as? Int ?? 0) > 1)
        #expect(try MesaBinary.run(["debug", "store", "fsck", "--store", store]).status == 0)
        let missing = try MesaBinary.run(["debug", "store", "cat", "--store", store, String(repeating: "0", count: 40)])
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("is not in the store"))
    }
}

@Suite struct ImportCommandParsingTests {
    @Test func importTakesTheRepoBranchForceAndClientOptions() throws {
        let command = try GitImportCommand.parse(
            ["src", "--repo", "app", "--branch", "release", "--force", "--json", "--server", "http://127.0.0.1:1"])
        #expect(command.gitDirectory == "src")
        #expect(command.repo == "app")
        #expect(command.branch == "release")
        #expect(command.force && command.json)
        #expect(command.client.serviceDomain == "http://127.0.0.1:1")
        #expect(throws: (any Error).self) { try GitImportCommand.parse(["src"]) }  // --repo is required
    }
}
