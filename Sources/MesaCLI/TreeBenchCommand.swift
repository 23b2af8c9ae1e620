import ArgumentParser
import Foundation
import MesaCore
import MesaStore
import MesaTree

/// `mesa debug tree-bench`: in-process timings of the tree model (hidden; Benchmarks/tree-bench.sh runs it).
struct TreeBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tree-bench",
        abstract: "Time building a large tree, one-file edits in it, and a diff of two versions.",
        shouldDisplay: false)

    @Option(help: "The store directory (created when missing; use a fresh one).")
    var store: String

    @Option(help: "Files in the generated tree.")
    var files = 100_000

    @Flag(help: "Put every file in the root directory instead of three levels of 10 directories.")
    var flat = false

    @Option(help: "One-file edits to time (the mean is printed).")
    var edits = 20

    @Option(help: "Files that differ between the two trees diffed.")
    var changed = 10

    func run() throws {
        let contentStore = try ContentStore(path: store)
        let repository = try MesaRepository(store: contentStore)
        var blobs: [ObjectID] = []
        for index in 0..<100 { blobs.append(try repository.writeBlob(Array("content \(index)\n".utf8))) }
        let paths = (0..<files).map { index in
            flat
                ? "file\(index).txt"
                : "d\(index / 10_000)/e\(index / 1_000 % 10)/f\(index / 100 % 10)/file\(index % 100).txt"
        }

        var start = ContinuousClock.now
        let base = try repository.applying(
            paths.enumerated().map { .upsert(path: $1, blob: blobs[$0 % 100], mode: .regular) }, to: nil)
        report("build \(files)-file tree from empty", since: start)

        let treesBefore = contentStore.stats().records
        start = ContinuousClock.now
        var tree = base
        for edit in 0..<edits {
            let blob = try repository.writeBlob(Array("edit \(edit)\n".utf8))
            let path = paths[(edit * 7919) % files]
            tree = try repository.applying([.upsert(path: path, blob: blob, mode: .regular)], to: tree)
        }
        let perEdit = (ContinuousClock.now - start).seconds / Double(edits)
        print(
            String(format: "one-file edit in a %d-file tree: %.3f ms mean over %d edits", files, perEdit * 1000, edits))
        print("  records added per edit: \((contentStore.stats().records - treesBefore) / edits) (blob, chunk, trees)")

        var changes: [TreeEdit] = []
        for index in 0..<changed {
            let blob = try repository.writeBlob(Array("changed \(index)\nsecond line\n".utf8))
            changes.append(.upsert(path: paths[(index * 104_729) % files], blob: blob, mode: .regular))
        }
        let head = try repository.applying(changes, to: base)
        let hitsBefore = contentStore.stats().hits
        start = ContinuousClock.now
        let diff = try repository.diff(from: base, to: head)
        report("diff of two \(files)-file trees differing in \(diff.entries.count) files", since: start)
        print("  store records read by the diff: \(contentStore.stats().hits - hitsBefore)")
        start = ContinuousClock.now
        let text = try repository.unifiedDiff(from: base, to: head)
        report("unified diff of the same (\(text.utf8.count) bytes)", since: start)
        try contentStore.close()
    }

    private func report(_ what: String, since start: ContinuousClock.Instant) {
        print(String(format: "%@: %.3f s", what, (ContinuousClock.now - start).seconds))
    }
}
