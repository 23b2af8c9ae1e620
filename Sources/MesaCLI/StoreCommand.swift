import ArgumentParser
import Foundation
import MesaCore
import MesaServer
import MesaStore
import MesaTree

/// `mesa debug store ...`: drive a content store from the shell.
struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Ingest, read, verify and inspect a content store directory.",
        subcommands: [Ingest.self, Cat.self, Fsck.self, Stats.self, Compact.self, Pin.self]
    )

    /// Options every store subcommand takes.
    struct StoreOptions: ParsableArguments {
        @Option(help: "The store directory (created when missing).")
        var store: String

        @Option(help: "Cache mode: bound unpinned content to this size (e.g. 512MiB, 10GB).")
        var maxCacheSize: String?

        @Option(help: "The zstd compression level for new records.")
        var level: Int32 = 1

        func validate() throws {
            try Self.validate(maxCacheSize: maxCacheSize, level: level)
        }

        func open() throws -> ContentStore {
            try Self.open(store, maxCacheSize: maxCacheSize, level: level)
        }

        static func validate(maxCacheSize: String?, level: Int32) throws {
            if let maxCacheSize, ByteCount(parsing: maxCacheSize) == nil {
                throw ValidationError("--max-cache-size: '\(maxCacheSize)' is not a size such as 512MiB or 10GB.")
            }
            if !(-7...22).contains(level) { throw ValidationError("--level must be between -7 and 22.") }
        }

        static func open(_ path: String, maxCacheSize: String?, level: Int32) throws -> ContentStore {
            var configuration = StoreConfiguration.default
            configuration.compressionLevel = level
            configuration.maxUnpinnedBytes = maxCacheSize.flatMap { ByteCount(parsing: $0)?.rawValue }
            return try ContentStore(path: path, configuration: configuration)
        }
    }

    /// `fsck`'s options: ``StoreOptions`` with `--store` optional, since `--deep` may take a server's data directory
    /// instead.
    struct FsckOptions: ParsableArguments {
        @Option(help: "The store directory (created when missing).")
        var store: String?

        @Option(help: "A mesa serve data directory, checked with its changes as the roots (with --deep).")
        var dataDir: String?

        @Option(help: "Cache mode: bound unpinned content to this size (e.g. 512MiB, 10GB).")
        var maxCacheSize: String?

        @Option(help: "The zstd compression level for new records.")
        var level: Int32 = 1

        func validate() throws {
            try StoreOptions.validate(maxCacheSize: maxCacheSize, level: level)
        }
    }

    struct Ingest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store files as chunks plus a manifest keyed by the git blob id; print id, size and chunks.")

        @OptionGroup var options: StoreOptions

        @Option(help: "Worker threads hashing and compressing in parallel.")
        var threads = 1

        @Flag(help: "Pin the content so that cache eviction never removes it.")
        var pin = false

        @Argument(help: "The files to ingest.")
        var files: [String]

        func validate() throws {
            if threads < 1 { throw ValidationError("--threads must be at least 1.") }
        }

        func run() throws {
            let store = try options.open()
            var output = BufferedOutput()
            let start = ContinuousClock.now
            var total: Int64 = 0
            for file in files {
                let (blobID, manifest) = try store.ingestBlob(fileAt: file, threads: threads, pinned: pin)
                total += manifest.size
                output.write("\(blobID)\t\(manifest.size)\t\(manifest.chunks.count)\t\(file)\n")
            }
            try store.close()
            let seconds = (ContinuousClock.now - start).seconds
            let rate = seconds > 0 ? Double(total) / seconds / 1e6 : 0
            output.write("ingested \(ByteCount(total)) in \(String(format: "%.3f", seconds)) s (\(String(format: "%.0f", rate)) MB/s)\n")
            output.flush()
        }
    }

    struct Cat: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a record's content to standard output: a file by blob id, a chunk, or kind:id.")

        @OptionGroup var options: StoreOptions

        @Option(help: "The first byte to print (files only).")
        var offset: Int64 = 0

        @Option(help: "How many bytes to print (files only; default: to the end).")
        var length: Int64?

        @Argument(help: "A 40-digit git blob id, a 64-digit chunk id, or kind:id (chunk, manifest, tree, commit, tag).")
        var id: String

        func run() throws {
            let store = try options.open()
            var output = BufferedOutput()
            if id.count == 40, let blobID = ObjectID(hex: id) {
                let manifest = try store.manifest(forBlob: blobID)
                let end = length.map { min(manifest.size, offset + $0) } ?? manifest.size
                guard offset >= 0, offset <= end else {
                    throw ValidationError("--offset \(offset) is past the file's \(manifest.size) bytes.")
                }
                output.write(bytes: try store.read(manifest, range: offset..<end))
            } else if let key = RecordKey(parsing: id) {
                output.write(bytes: try store.get(key))
            } else {
                throw ValidationError("'\(id)' is not a blob id, a chunk id or kind:id.")
            }
            output.flush()
        }
    }

    struct Fsck: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every record's checksum and id; name the corrupt ones (exit status 1 if any).",
            discussion: """
                With --deep, also walk the object graph from its roots (every commit with --store; every commit a \
                change has had and every staged record with --data-dir) and name unreferenced records, dangling \
                parents and references, and invalid trees and commits: one kind<TAB>location<TAB>detail line each, \
                then a summary (or one JSON object with --json). Stop the server before checking its data directory.
                """)

        @OptionGroup var options: FsckOptions

        @Flag(help: "Also check reachability from the roots, links and the tree and commit rules.")
        var deep = false

        @Flag(help: "Print one JSON object (with --deep).")
        var json = false

        func validate() throws {
            if deep {
                guard (options.store == nil) != (options.dataDir == nil) else {
                    throw ValidationError("--deep needs exactly one of --store DIR and --data-dir DIR.")
                }
            } else {
                guard options.dataDir == nil else {
                    throw ValidationError(
                        "--data-dir is read with --deep only; to verify checksums, pass --store DIR/store.")
                }
                guard !json else { throw ValidationError("--json is printed with --deep only.") }
                guard options.store != nil else { throw ValidationError(Self.missingStore) }
            }
            if let dataDir = options.dataDir {
                guard options.maxCacheSize == nil else {
                    throw ValidationError(
                        "--max-cache-size would evict a server's records; it applies to --store only.")
                }
                for file in ["metadata.sqlite", "store/STORE"] {
                    guard FileManager.default.fileExists(atPath: dataDir + "/" + file) else {
                        throw ValidationError("'\(dataDir)' is not a mesa serve data directory: it has no \(file).")
                    }
                }
            }
        }

        /// What argument-parser says when a required `--store` is missing (as it did before `--store` was optional).
        private static let missingStore = "Missing expected argument '--store <store>'"

        func run() throws {
            // validate() made sure that exactly one of the two is there.
            if let dataDir = options.dataDir { return try report(try checkDataDirectory(dataDir)) }
            guard let path = options.store else { throw ValidationError(Self.missingStore) }
            let store = try StoreOptions.open(path, maxCacheSize: options.maxCacheSize, level: options.level)
            guard deep else { return try verify(store) }
            let check = DeepCheck(store: store)
            try report(try check.run(roots: check.everyCommit()))
        }

        /// The checksum-only check, with its output unchanged since before `--deep`.
        private func verify(_ store: ContentStore) throws {
            let report = store.verify()
            var output = BufferedOutput()
            for problem in report.corrupt { output.write("corrupt\t\(problem.key)\t\(problem.reason)\n") }
            output.write("checked \(report.checked) records, \(report.corrupt.count) corrupt\n")
            output.flush()
            if !report.corrupt.isEmpty { throw ExitCode(1) }
        }

        /// Opens a server's data directory (the store first: its lock keeps a running server out) and audits it.
        private func checkDataDirectory(_ directory: String) throws -> DeepCheckReport {
            let store = try ContentStore(path: directory + "/store")
            let metadata = try SQLiteMetadataStore(path: directory + "/metadata.sqlite", readOnly: true)
            return try StoreAudit.check(metadata: metadata, store: store)
        }

        private func report(_ report: DeepCheckReport) throws {
            var output = BufferedOutput()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                output.write(bytes: try encoder.encode(report))
                output.write("\n")
            } else {
                for finding in report.findings { output.write(finding.line + "\n") }
                output.write(report.summary + "\n")
            }
            output.flush()
            if !report.isClean { throw ExitCode(1) }
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the store's sizes and counters.")

        @OptionGroup var options: StoreOptions

        @Flag(help: "Print JSON.")
        var json = false

        func run() throws {
            let store = try options.open()
            let stats = store.stats()
            var output = BufferedOutput()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                output.write(bytes: try encoder.encode(stats))
                output.write("\n")
            } else {
                output.write(StatsRendering.text(stats))
            }
            output.flush()
        }
    }

    struct Compact: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rewrite segments holding dead records and delete them; print the bytes reclaimed.")

        @OptionGroup var options: StoreOptions

        @Option(help: "Rewrite segments with at least this fraction of dead bytes (0 rewrites any with dead bytes).")
        var deadFraction = 0.0

        func run() throws {
            let store = try options.open()
            let reclaimed = try store.compact(minimumDeadFraction: deadFraction)
            try store.close()
            print("reclaimed \(ByteCount(reclaimed))")
        }
    }

    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pin (or with --remove, unpin) a file's manifest and chunks, by git blob id.")

        @OptionGroup var options: StoreOptions

        @Flag(help: "Remove the pins instead.")
        var remove = false

        @Argument(help: "Git blob ids.")
        var ids: [String]

        func run() throws {
            let store = try options.open()
            var keys: [RecordKey] = []
            for id in ids {
                guard let blobID = ObjectID(hex: id) else { throw ValidationError("'\(id)' is not a git blob id.") }
                keys.append(RecordKey(.manifest, object: blobID))
                keys += try store.manifest(forBlob: blobID).chunks.map { RecordKey(chunk: $0.id) }
            }
            if remove { try store.unpin(keys) } else { try store.pin(keys) }
            try store.close()
        }
    }
}

/// Human-readable rendering of store statistics.
enum StatsRendering {
    static func text(_ stats: StoreStats) -> String {
        var lines = [
            "records        \(stats.records)",
            "bytes          \(ByteCount(stats.bytes)) (\(ByteCount(stats.rawBytes)) uncompressed)",
            "pinned         \(stats.pinnedRecords) records, \(ByteCount(stats.pinnedBytes))",
            "unpinned       \(ByteCount(stats.unpinnedBytes))",
            "segments       \(stats.segments), \(ByteCount(stats.diskBytes)) on disk",
            "hits           \(stats.hits)",
            "misses         \(stats.misses)",
            "evictions      \(stats.evictions) records, \(ByteCount(stats.evictedBytes))",
        ]
        if let bound = stats.maxUnpinnedBytes {
            lines.append("cache bound    \(ByteCount(bound))" + (stats.pinsExceedBound ? " (pins alone exceed it)" : ""))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Duration {
    /// The duration in seconds.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
