import ArgumentParser
import MesaKit

/// `mesa webhook create|list|delete`: the org's webhook targets (admin scope), over MesaKit.
struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook", abstract: "Create, list and delete webhook targets (admin scope).",
        subcommands: [Create.self, List.self, Delete.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a webhook target and print its id and signing secret (the secret is shown only once).")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The URL deliveries are POSTed to.")
        var url: String
        @Option(help: "A name for the target.")
        var name: String?
        @Option(help: "Comma-separated event types, such as push,bookmark.moved (default push).")
        var events: String?
        @Option(help: "Comma-separated repo ids whose events are sent (default every repo of the org).")
        var repoIDs: String?
        @Flag(help: "Print JSON.")
        var json = false

        func validate() throws {
            _ = try parsedEvents()
        }

        func parsedEvents() throws -> [WebhookEventType]? {
            try events.map { text in
                try text.split(separator: ",").map { name in
                    guard let type = WebhookEventType(rawValue: String(name)) else {
                        let known = WebhookEventType.allCases.map(\.rawValue).joined(separator: ", ")
                        throw ValidationError("--events: '\(name)' is not an event type; use \(known).")
                    }
                    return type
                }
            }
        }

        func run() async throws {
            let target = try await client.client().webhookTargets.create(
                url: url, name: name, events: try parsedEvents(),
                repoIDs: repoIDs.map { $0.split(separator: ",").map(String.init) })
            if json { return try printJSON(target) }
            print("id: \(target.id)")
            print("secret: \(target.secret ?? "")")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the org's webhook targets (never their secrets).")
        @OptionGroup var client: ClientOptions
        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let targets = try await client.client().webhookTargets.all().collect()
            if json { return try printJSON(targets) }
            for target in targets {
                let repos = target.repoIDs?.joined(separator: ",") ?? "*"
                let events = target.events.map(\.rawValue).joined(separator: ",")
                print("\(target.id)\t\(target.name ?? "-")\t\(target.url)\t\(events)\t\(repos)")
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a webhook target and its pending deliveries.")
        @OptionGroup var client: ClientOptions
        @Argument(help: "The target id.")
        var id: String

        func run() async throws {
            try await client.client().webhookTargets.delete(id)
            print("deleted \(id)")
        }
    }
}
