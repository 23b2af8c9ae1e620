import ArgumentParser
import MesaCore
import MesaFS

/// The `mesa` executable: parses arguments and runs services; no logic a test would want lives here.
@main
struct MesaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesa",
        abstract: "Mesa for Swift: a versioned POSIX filesystem and its self-hostable remote.",
        version: MesaVersion.current,
        subcommands: [
            VersionCommand.self, ServeCommand.self, RepoCommand.self, BookmarkCommand.self, LogCommand.self,
            TokenCommand.self, KeyCommand.self, WebhookCommand.self, GitImportCommand.self, MountCommand.self,
            StatusCommand.self,
            StatsCommand.self, SyncCommand.self, NewCommand.self, DescribeCommand.self, UnmountCommand.self,
            AuthCommand.self, DumpDefaultMesaignoreCommand.self, DebugCommand.self,
        ]
    )
}

/// `mesa version`.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")

    func run() {
        print("mesa \(MesaVersion.current)")
    }
}

/// `mesa dump-default-mesaignore`: the built-in rules, to start a file for `MESA_MESAIGNORE_PATH` from.
struct DumpDefaultMesaignoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dump-default-mesaignore",
        abstract: "Print the built-in .mesaignore rules used when MESA_MESAIGNORE_PATH is unset."
    )

    func run() {
        print(IgnoreRules.defaultText, terminator: "")
    }
}

/// `mesa debug ...`: tools for driving the engine's layers from a shell.
struct DebugCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "debug",
        abstract: "Drive the engine's layers directly (chunker, store, trees) and check a mount's state (fsck).",
        subcommands: [
            ChunkCommand.self, StoreCommand.self, TreeHashCommand.self, ImportCommand.self, ExportCommand.self,
            TreeBenchCommand.self, BenchStoreCommand.self, DelayProxyCommand.self, StateFsckCommand.self,
        ]
    )
}
