import Foundation
import MesaCore
import MesaKit
import MesaStore
import MesaSync
import MesaTree

// `mesa import`: one branch of a local git repository into a repo on a Mesa server, through the sync protocol.
//
// 1. The branch's tip is read from the source (libgit2 through MesaTree), so a bad directory or branch fails first.
// 2. The repo is looked up (which also proves the server reachable and the credential valid), and the bookmark of
//    the same name resolved (`sync/resolve`): at the tip already, the import is "up to date" and nothing else runs.
// 3. The branch's whole history is imported into a temporary local ContentStore with MesaTree's `importGit`: every
//    commit becomes a change with an id derived from the commit id, so a commit imported twice is the same change.
//    A bookmark that is not an ancestor of the new tip is refused unless `--force`.
// 4. The changes the server already has are learned cheaply: after a fast-forward from a bookmark that an import
//    made, every ancestor of its commit; otherwise from the REST change list (skipped for a repo made just now).
// 5. The records the new commits reach are planned in push order (`records(reachableFrom:known:)`, not entering
//    commits the server has), one batched `have` keeps the missing ones, and one streaming push sends them with a
//    transaction that creates every new change and creates or moves the bookmark (expecting where it was).
// 6. A repo that had no content gets the branch as its default bookmark.

/// Why `mesa import` stopped; the message says what to do.
struct ImportFailure: Error, CustomStringConvertible {
    let description: String
}

/// What `mesa import` did, printed as one line or as JSON.
struct ImportSummary: Codable, Sendable, Equatable {
    /// `pushed` or `up_to_date`.
    var status: String
    var repo: String
    var bookmark: String
    var tipCommit: String
    var tipChange: String
    /// Commits in the branch's history (`nil` when the import was up to date and the history was not read).
    var commits: Int?
    /// Changes the push created or evolved.
    var newChanges: Int
    /// Records the new commits reach (before `have`).
    var recordsPlanned: Int
    /// Records the push carried (what the server lacked).
    var recordsSent: Int
    /// Push body bytes.
    var bytesSent: Int64
    /// Whether the repo's default bookmark was set to this branch.
    var defaultBookmarkSet: Bool
    /// Seconds for the whole import, and for the push alone.
    var seconds: Double
    var pushSeconds: Double

    enum CodingKeys: String, CodingKey {
        case status, repo, bookmark, commits, seconds
        case tipCommit = "tip_commit"
        case tipChange = "tip_change"
        case newChanges = "new_changes"
        case recordsPlanned = "records_planned"
        case recordsSent = "records_sent"
        case bytesSent = "bytes_sent"
        case defaultBookmarkSet = "default_bookmark_set"
        case pushSeconds = "push_seconds"
    }

    /// The summary line for people.
    var line: String {
        let rate = pushSeconds > 0 ? Double(bytesSent) / pushSeconds / 1e6 : 0
        let timing = String(format: "%.2f s", seconds)
        if status == "up_to_date" {
            return "\(repo)/\(bookmark) is up to date at \(tipCommit.prefix(12)): 0 records sent, \(timing)"
        }
        return "imported \(bookmark) into \(repo) at \(tipCommit.prefix(12)): \(commits ?? 0) commits (\(newChanges) new), "
            + "\(recordsSent) records sent (\(ByteCount(bytesSent)), \(String(format: "%.1f", rate)) MB/s), \(timing)"
            + (defaultBookmarkSet ? "; \(bookmark) is now the default bookmark" : "")
    }

    /// The summary as one JSON object.
    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}

/// One run of `mesa import`.
struct GitImport {
    let mesa: Mesa
    let repo: String
    let gitDirectory: String
    let branch: String?
    let force: Bool
    let progress: ImportProgress

    func run() async throws -> ImportSummary {
        let started = ContinuousClock.now
        let source = gitDirectory
        let wanted = branch
        // The branch's tip first: a bad directory or branch fails before anything touches the server, and an import
        // that is already there costs no local import.
        let (tip, branchName) = try await Blocking.run { () throws -> (ObjectID, String) in
            do throws(TreeError) {
                return try MesaRepository.gitBranchTip(repositoryAt: source, branch: wanted)
            } catch {
                throw Self.explain(error, directory: source, branch: wanted)
            }
        }
        guard branchName != "HEAD" else {
            throw ImportFailure(description: "HEAD of \(gitDirectory) is detached: name the branch to import with --branch.")
        }
        let tipChange = ChangeID(importedCommit: tip)
        let existing = try await kit { () async throws(KitError) -> Repo? in
            do throws(KitError) {
                return try await mesa.repos.get(repo)
            } catch {
                switch error {
                case .api(404, _, _, _): return nil
                default: throw error
                }
            }
        }
        let sync = mesa.sync(repo)
        let server = existing == nil ? nil : try await bookmark(branchName, sync)
        var summary = ImportSummary(
            status: "up_to_date", repo: repo, bookmark: branchName, tipCommit: tip.hex,
            tipChange: tipChange.description, commits: nil, newChanges: 0, recordsPlanned: 0, recordsSent: 0,
            bytesSent: 0, defaultBookmarkSet: false, seconds: 0, pushSeconds: 0)
        if let existing, let server, server.commit == tip.hex, server.changeID == tipChange.description {
            let hadNoContent = existing.headChangeID == ChangeID.root.description
            summary.defaultBookmarkSet = try await setDefaultBookmark(
                branchName, repo: existing, hadNoContent: hadNoContent, created: false)
            summary.seconds = (ContinuousClock.now - started).seconds
            return summary
        }

        progress.stage("reading the history of \(branchName) in \(gitDirectory)")
        let scratch = try ScratchRepository()
        let repository = scratch.repository
        let report = try await Blocking.run { () throws -> ImportReport in
            do throws(TreeError) {
                return try repository.importGit(repositoryAt: source, branch: branchName)
            } catch {
                throw Self.explain(error, directory: source, branch: branchName)
            }
        }
        guard report.tip == tip else {
            throw ImportFailure(description: "\(branchName) of \(gitDirectory) moved while importing; run mesa import again.")
        }
        let local = try await Blocking.run { try repository.catalog.changes() }
        let history = LocalHistory(local)
        summary.commits = history.count

        var created = false
        let repoInfo: Repo
        if let existing {
            repoInfo = existing
        } else {
            repoInfo = try await kit { () async throws(KitError) in
                try await mesa.repos.create(name: repo, defaultBookmark: report.branch)
            }
            created = true
        }
        _ = try await kit { () async throws(KitError) in try await sync.capabilities() }
        let hadNoContent = repoInfo.headChangeID == ChangeID.root.description

        // Where the server's bookmark is, and whether the new tip descends from it.
        let serverCommit = server.flatMap { ObjectID(hex: $0.commit) }
        let fastForward = serverCommit.map { history.contains($0) } ?? true
        if !fastForward, !force {
            throw ImportFailure(
                description: "the bookmark \(report.branch) of \(repo) is at commit \(server?.commit.prefix(12) ?? ""), "
                    + "which is not an ancestor of \(report.tip.hex.prefix(12)) (the history was rewritten): "
                    + "the import would drop commits from it. Pass --force to move it anyway.")
        }

        // The changes the server has: trusted after a fast-forward from an imported change, asked otherwise.
        var serverChanges: [ChangeID: ObjectID] = [:]
        if let server, let serverCommit, fastForward, server.changeID == ChangeID(importedCommit: serverCommit).description {
            for commit in history.ancestors(of: serverCommit) { serverChanges[ChangeID(importedCommit: commit)] = commit }
        } else if !created {
            progress.stage("listing the changes of \(repo)")
            let ours = Set(history.records.map(\.id))
            let listed = try await kit { () async throws(KitError) in try await mesa.changes(repo).all(pageSize: 100).collect() }
            for change in listed {
                guard let id = ChangeID(parsing: change.id), ours.contains(id), let commit = ObjectID(hex: change.currentCommitOID)
                else { continue }
                serverChanges[id] = commit
            }
        }

        // Changes to create (or, with --force, evolve where the server's differs), parents first.
        let known = Set(history.records.compactMap { serverChanges[$0.id] == $0.commit ? $0.commit : nil })
        let plan = try await Blocking.run { try repository.records(reachableFrom: [report.tip], known: known) }
        var updates: [ChangeUpdate] = []
        for key in plan where key.kind == .commit {
            guard let commit = key.objectID, let record = history.byCommit[commit] else { continue }
            let current = serverChanges[record.id]
            if let current, current != commit, !force {
                throw ImportFailure(
                    description: "change \(record.id) (commit \(commit.hex.prefix(12))) was rewritten on the server "
                        + "(it is at \(current.hex.prefix(12))). Pass --force to replace it with the imported commit.")
            }
            updates.append(
                ChangeUpdate(
                    changeID: record.id.description, expectedCommit: current?.hex, commit: commit.hex,
                    parents: record.parents.map(\.description)))
        }
        let transaction = PushTransaction(
            changes: updates,
            bookmarks: [
                BookmarkUpdate(name: report.branch, expectedChange: server?.changeID, change: report.tipChange.description)
            ])

        progress.stage("asking \(repo) which of \(plan.count) records it lacks")
        let missing = try await kit { () async throws(KitError) in try await sync.have(keys: plan) }
        progress.stage("pushing \(missing.count) records and \(updates.count) changes")
        let outcome = try await push(sync, missing, transaction, store: scratch.store)
        guard outcome.applied else {
            let conflicts = outcome.result.conflicts.map { "\($0.kind) \($0.name) is at \($0.current ?? "nothing")" }
            throw ImportFailure(
                description: "\(repo) changed while importing (\(conflicts.joined(separator: "; "))); nothing was applied. "
                    + "Run mesa import again.")
        }
        summary.status = "pushed"
        summary.newChanges = updates.count
        summary.recordsPlanned = plan.count
        summary.recordsSent = outcome.recordsSent
        summary.bytesSent = outcome.bytesSent
        summary.pushSeconds = outcome.duration.seconds
        summary.defaultBookmarkSet = try await setDefaultBookmark(
            report.branch, repo: repoInfo, hadNoContent: hadNoContent, created: created)
        summary.seconds = (ContinuousClock.now - started).seconds
        return summary
    }

    /// Where the server's bookmark `name` is, or `nil` when it does not exist.
    private func bookmark(_ name: String, _ sync: Mesa.Sync) async throws -> RevisionResolution? {
        try await kit { () async throws(KitError) -> RevisionResolution? in
            do throws(KitError) {
                return try await sync.resolve(["bookmark:\(name)"], conditional: false).resolutions.first
            } catch {
                switch error {
                case .api(404, _, _, _): return nil
                default: throw error
                }
            }
        }
    }

    /// One streaming push of `keys` read from `store`, with a progress line on a terminal.
    private func push(
        _ sync: Mesa.Sync, _ keys: [RecordKey], _ transaction: PushTransaction, store: ContentStore
    ) async throws -> PushOutcome {
        let total = keys.count
        let progress = progress
        let outcome = try await kit { () async throws(KitError) in
            try await sync.push(records: StoredRecords(store: store, keys: keys), transaction: transaction) { report in
                progress.pushed(report, of: total)
            }
        }
        progress.finishLine()
        return outcome
    }

    /// Makes `branch` the repo's default bookmark when the repo had no content before this import.
    private func setDefaultBookmark(_ branch: String, repo info: Repo, hadNoContent: Bool, created: Bool) async throws
        -> Bool
    {
        guard !created, hadNoContent, info.defaultBookmark != branch else { return false }
        _ = try await kit { () async throws(KitError) in
            try await mesa.repos.update(repo, UpdateRepoRequest(defaultBookmark: branch))
        }
        return true
    }

    /// Runs a MesaKit call, turning its errors into messages that say what to do.
    private func kit<Value>(_ call: () async throws(KitError) -> Value) async throws(ImportFailure) -> Value {
        do throws(KitError) {
            return try await call()
        } catch {
            throw ImportFailure(description: Self.explain(error, server: mesa.apiRoot))
        }
    }

    /// A MesaKit error as a sentence for the command line.
    static func explain(_ error: KitError, server: String) -> String {
        switch error {
        case .transport(_, let code, let message) where code == 6 || code == 7:
            return "cannot reach the Mesa server at \(server) (\(message)). Is `mesa serve` running? "
                + "Set --server or MESA_SERVICE_DOMAIN to its address."
        case .api(401, _, let message, _):
            return "the server refused the credential: \(message). Check --api-key or MESA_API_KEY."
        case .api(403, _, let message, _):
            return "the credential may not do this: \(message). Import needs the write scope on the repo."
        default:
            return "\(error)"
        }
    }

    /// A libgit2 failure of the local import as a sentence for the command line.
    static func explain(_ error: TreeError, directory: String, branch: String?) -> ImportFailure {
        switch error {
        case .git("git_repository_open", _, _):
            return ImportFailure(description: "\(directory) is not a git repository (or cannot be read).")
        case .git("git_reference_name_to_id", _, _) where branch != nil:
            return ImportFailure(description: "\(directory) has no branch named '\(branch ?? "")'.")
        case .git("git_repository_head", _, _), .git("git_reference_name_to_id", _, _):
            return ImportFailure(description: "\(directory) has no commits on its current branch: nothing to import.")
        case .invalid(let failure):
            return ImportFailure(
                description: "\(directory) holds what Mesa refuses (rule \(failure.rule.rawValue)) at '\(failure.location)': "
                    + "\(failure.detail). Nothing was sent. Rewrite the history without it (git filter-repo) to import it.")
        default:
            return ImportFailure(description: "importing \(directory) failed: \(error)")
        }
    }
}

/// The imported branch's changes, by commit, with its commit graph.
struct LocalHistory {
    let records: [ChangeRecord]
    let byCommit: [ObjectID: ChangeRecord]
    private let byChange: [ChangeID: ChangeRecord]

    init(_ records: [ChangeRecord]) {
        self.records = records
        byCommit = Dictionary(records.map { ($0.commit, $0) }, uniquingKeysWith: { first, _ in first })
        byChange = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Commits in the history.
    var count: Int { records.count }

    /// Whether `commit` is in the history (an ancestor of the tip, or the tip).
    func contains(_ commit: ObjectID) -> Bool { byCommit[commit] != nil }

    /// `commit` and every ancestor of it in the history.
    func ancestors(of commit: ObjectID) -> Set<ObjectID> {
        var seen = Set<ObjectID>()
        var queue = [commit]
        while let next = queue.popLast() {
            guard seen.insert(next).inserted, let record = byCommit[next] else { continue }
            queue += record.parents.compactMap { byChange[$0]?.commit }
        }
        return seen
    }
}

/// A ContentStore and MesaRepository in a temporary directory, removed when the value goes.
final class ScratchRepository: Sendable {
    let path: String
    let store: ContentStore
    let repository: MesaRepository

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/mesa-import-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        store = try ContentStore(path: path + "/store")
        repository = try MesaRepository(store: store)
    }

    deinit {
        try? store.close()
        try? FileManager.default.removeItem(atPath: path)
    }
}
