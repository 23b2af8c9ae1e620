import ArgumentParser
import Foundation
import MesaCore
import MesaStore
import MesaTree

/// `mesa debug tree-hash <dir>`: the git tree id of a directory as MesaTree computes it.
struct TreeHashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tree-hash",
        abstract: "Print the git tree id of a directory (what git add -A && git write-tree would record).")

    @Option(help: "Also store the directory's blobs and trees in this store directory.")
    var store: String?

    @Argument(help: "The directory.")
    var directory: String

    func run() throws {
        let id: ObjectID
        if let store {
            let contentStore = try ContentStore(path: store)
            id = try MesaRepository(store: contentStore).writeTree(fromDirectory: directory)
            try contentStore.close()
        } else {
            id = try DirectorySnapshot.treeID(ofDirectory: directory)
        }
        print(id.hex)
    }
}

/// `mesa debug import <git-dir> --store <dir>`: copy one branch of a local git repository into a store.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import one branch of a local git repository into a store; print the tip commit and counts.")

    @Option(help: "The store directory (created when missing).")
    var store: String

    @Option(help: "The branch to import (default: the branch HEAD points at).")
    var branch: String?

    @Flag(help: "Import only the tip commit and its tree, not the history.")
    var tipOnly = false

    @Argument(help: "The git repository (a working tree or a bare repository).")
    var gitDirectory: String

    func run() throws {
        let contentStore = try ContentStore(path: store)
        let repository = try MesaRepository(store: contentStore)
        let start = ContinuousClock.now
        let report = try repository.importGit(repositoryAt: gitDirectory, branch: branch, tipOnly: tipOnly)
        try contentStore.close()
        let seconds = (ContinuousClock.now - start).seconds
        print(report.tip.hex)
        print("branch \(report.branch) change \(report.tipChange)")
        print(
            "commits \(report.commits) (new \(report.newCommits)), new trees \(report.newTrees), "
                + "new blobs \(report.newBlobs) (\(ByteCount(report.newBlobBytes)))")
        let commitRate = seconds > 0 ? Double(report.commits) / seconds : 0
        let byteRate = seconds > 0 ? Double(report.newBlobBytes) / seconds / 1e6 : 0
        print(
            String(
                format: "took %.3f s (%.0f commits/s, %.1f MB/s of new blob content)", seconds, commitRate, byteRate))
    }
}

/// `mesa debug export <commit> <dir> --store <dir>`: write a commit's tree to a directory.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the files of a commit (or tree) in a store to a new or empty directory.")

    @Option(help: "The store directory.")
    var store: String

    @Argument(help: "The commit or tree id (40 hex digits).")
    var commit: String

    @Argument(help: "The directory to write (created when missing; must be empty).")
    var directory: String

    func validate() throws {
        if ObjectID(hex: commit) == nil { throw ValidationError("'\(commit)' is not a 40-digit git object id.") }
    }

    func run() throws {
        // validate() checked the id.
        let id = ObjectID(hex: commit)!
        let contentStore = try ContentStore(path: store)
        let report = try MesaRepository(store: contentStore).export(id, to: directory)
        try contentStore.close()
        print(
            "files \(report.files), symlinks \(report.symlinks), directories \(report.directories), "
                + "\(ByteCount(report.bytes))")
    }
}
