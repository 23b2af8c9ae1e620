import ArgumentParser
import MesaKit

/// `mesa import <git-dir> --repo NAME`: one branch of a local git repository into a repo on the server.
struct GitImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a branch of a local git repository into a repo on the server, through the sync protocol.",
        discussion: """
            Creates the repo when it does not exist, imports the branch's whole history into the bookmark of the \
            same name (only what the server lacks travels, in one streaming push), and makes it the default \
            bookmark of a repo that had no content. Running it again sends nothing. An update that is not a \
            fast-forward of the bookmark (rewritten history) is refused unless --force.
            """
    )

    @OptionGroup var client: ClientOptions

    @Option(help: "The repo to import into (created when missing).")
    var repo: String

    @Option(help: "The branch to import (default: the branch HEAD points at).")
    var branch: String?

    @Flag(help: "Move the bookmark even when the new history does not descend from it.")
    var force = false

    @Flag(help: "Print the summary as one JSON object.")
    var json = false

    @Argument(help: "The git repository (a working tree or a bare repository).")
    var gitDirectory: String

    func run() async throws {
        let credential = try client.credential()
        let mesa = Mesa(apiKey: credential, org: client.explicitOrg, baseURL: client.serviceDomain)
        let summary = try await GitImport(
            mesa: mesa, repo: repo, gitDirectory: gitDirectory, branch: branch, force: force,
            progress: ImportProgress()
        ).run()
        print(json ? summary.json : summary.line)
    }
}
