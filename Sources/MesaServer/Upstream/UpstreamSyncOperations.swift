import Foundation
import MesaCore
import MesaTree
import MesaWire

#if canImport(Glibc)
    import Glibc
#endif

// One attempt of an upstream sync (docs/Protocol.md, "Upstream remotes"), blocking, on the server's pool. Both
// directions first fetch the remote's branches into the repo's mirror (GitMirror.swift), so the remote's tips and
// their histories are known locally.
//
// Pull: each branch `refs/heads/X` is a candidate for bookmark X. A branch the globs do not match is `filtered`; one
// whose tip the bookmark already names is `unchanged`; a new bookmark, or one whose commit is in the tip's history,
// is `updated`: the branch's history goes through MesaTree's git importer (the one `mesa import` uses, so only what
// the store lacks is stored), its new commits become changes, and the bookmark moves in one catalog transaction that
// expects it where it was, with the repo's references to the new records. Anything else would move the bookmark
// backwards or sideways and is `rejected`, as is a branch whose name is not a valid bookmark name.
//
// Push: each bookmark is a candidate for branch X. Filtered and unchanged as above; the bookmarks' commits are
// exported into the mirror, and a branch whose remote tip is not in the commit's history is `rejected` without being
// sent. The rest go in one non-forced push; the remote's per-ref answer decides `updated` or `rejected`.

/// Why an attempt of a sync failed.
struct UpstreamSyncFailure: Error, CustomStringConvertible {
    var description: String
    /// Whether trying again cannot help (the upstream was removed), so the job fails at once.
    var isPermanent: Bool
}

enum UpstreamSyncOperations {
    /// Runs one attempt of `job`.
    /// - Returns: what happened to each ref, ordered by ref name.
    static func run(_ job: UpstreamSyncRow, services: ServerServices) throws -> [UpstreamSyncRef] {
        guard let upstream = try services.metadata.upstream(repoID: job.repoID) else {
            throw UpstreamSyncFailure(description: "the repo has no upstream any more", isPermanent: true)
        }
        // An upstream stored while the server allowed file:// is not followed by one that no longer does.
        if !services.allowFileUpstreams, URLComponents(string: upstream.url)?.scheme?.lowercased() == "file" {
            throw UpstreamSyncFailure(description: UpstreamURL.fileRefusal, isPermanent: true)
        }
        let credential = try upstream.sealedAuth.map { sealed in
            try remoteCredential(for: services.secrets.open(sealed, repoID: job.repoID))
        }
        let mirror = try GitMirror(path: services.upstreamMirrors + "/" + job.repoID + ".git")
        let remote: [String: ObjectID]
        do {
            remote = try mirror.fetchBranches(url: upstream.url, credential: credential)
        } catch {
            throw UpstreamSyncFailure(description: "fetching from \(upstream.url) failed: \(error)", isPermanent: false)
        }
        let refs: [UpstreamSyncRef]
        switch job.direction {
        case .pull: refs = try pull(job, remote: remote, mirror: mirror, services: services)
        case .push:
            refs = try push(
                job,
                remote: remote,
                mirror: mirror,
                url: upstream.url,
                credential: credential,
                services: services
            )
        }
        return refs.sorted { $0.name < $1.name }
    }

    /// The HTTP basic credential of a stored auth: a token is sent as the password of `token_username`, by default
    /// `x-access-token` (what GitHub and most git hosts accept for a token).
    static func remoteCredential(for auth: UpstreamAuth) -> RemoteCredential {
        switch auth {
        case .token(let token, let username): RemoteCredential(username: username ?? "x-access-token", password: token)
        case .usernamePassword(let username, let password): RemoteCredential(username: username, password: password)
        }
    }

    static func matches(_ glob: String, _ name: String) -> Bool { fnmatch(glob, name, 0) == 0 }

    private static func pull(
        _ job: UpstreamSyncRow,
        remote: [String: ObjectID],
        mirror: GitMirror,
        services: ServerServices
    ) throws -> [UpstreamSyncRef] {
        let repository = try services.repositories.repository(for: job.repoID)
        let catalog = try services.repositories.catalog(for: job.repoID)
        var refs: [UpstreamSyncRef] = []
        for name in remote.keys.sorted() {
            guard let tip = remote[name] else { continue }
            let current = try catalog.bookmark(named: name)
            let before = try current.flatMap { try repository.change($0.change)?.commit }
            func outcome(_ value: String) {
                refs.append(
                    UpstreamSyncRef(name: "refs/heads/" + name, before: before?.hex, after: tip.hex, outcome: value)
                )
            }
            guard matches(job.globs.branches, name) else {
                outcome("filtered")
                continue
            }
            guard (try? RouteSupport.validateBookmarkName(name)) != nil else {
                outcome("rejected")
                continue
            }
            if before == tip {
                outcome("unchanged")
                continue
            }
            // A bookmark at the virtual root (before == nil) is behind every commit.
            if let before, !mirror.isDescendant(tip, of: before) {
                outcome("rejected")
                continue
            }
            let imported = try repository.importGitObjects(
                repositoryAt: mirror.path,
                branch: GitMirror.trackingRef(ofBranch: name)
            )
            var changeOfCommit: [ObjectID: ChangeID] = [:]
            for record in try catalog.changes() where changeOfCommit[record.commit] == nil {
                changeOfCommit[record.commit] = record.id
            }
            let known = Set(changeOfCommit.keys)
            var records: [(record: ChangeRecord, expected: Expectation<ObjectID>)] = []
            for commit in imported.commits where changeOfCommit[commit.id] == nil {
                let id = ChangeID(importedCommit: commit.id)
                changeOfCommit[commit.id] = id
                // A change imported before and evolved since keeps what it became.
                if try catalog.change(id) != nil { continue }
                let parents = commit.parents.map { changeOfCommit[$0] ?? ChangeID(importedCommit: $0) }
                let record = ChangeRecord(id: id, commit: commit.id, parents: parents.isEmpty ? [.root] : parents)
                records.append((record: record, expected: .absent))
            }
            let tipChange = changeOfCommit[tip] ?? ChangeID(importedCommit: tip)
            let references = try repository.records(reachableFrom: [tip], known: known)
            let expected: Expectation<ChangeID> = current.map { .equal($0.change) } ?? .absent
            let conflicts = try catalog.apply(
                changes: records,
                bookmarks: [(bookmark: MesaTree.Bookmark(name: name, change: tipChange), expected: expected)],
                references: references
            )
            outcome(conflicts.isEmpty ? "updated" : "rejected")
        }
        return refs
    }

    private static func push(
        _ job: UpstreamSyncRow,
        remote: [String: ObjectID],
        mirror: GitMirror,
        url: String,
        credential: RemoteCredential?,
        services: ServerServices
    ) throws -> [UpstreamSyncRef] {
        let repository = try services.repositories.repository(for: job.repoID)
        let catalog = try services.repositories.catalog(for: job.repoID)
        var refs: [UpstreamSyncRef] = []
        var candidates: [(name: String, commit: ObjectID)] = []
        for bookmark in try catalog.bookmarks().sorted(by: { $0.name < $1.name }) {
            // A bookmark at the virtual root has no commit to send.
            guard let commit = try repository.change(bookmark.change)?.commit else { continue }
            let before = remote[bookmark.name]
            let ref = "refs/heads/" + bookmark.name
            if !matches(job.globs.branches, bookmark.name) {
                refs.append(UpstreamSyncRef(name: ref, before: before?.hex, after: commit.hex, outcome: "filtered"))
            } else if before == commit {
                refs.append(UpstreamSyncRef(name: ref, before: before?.hex, after: commit.hex, outcome: "unchanged"))
            } else {
                candidates.append((bookmark.name, commit))
            }
        }
        try repository.exportGit(candidates.map(\.commit), to: mirror)
        var sending: [(name: String, commit: ObjectID)] = []
        for candidate in candidates {
            let before = remote[candidate.name]
            if let before, !mirror.isDescendant(candidate.commit, of: before) {
                refs.append(
                    UpstreamSyncRef(
                        name: "refs/heads/" + candidate.name,
                        before: before.hex,
                        after: candidate.commit.hex,
                        outcome: "rejected"
                    )
                )
            } else {
                sending.append(candidate)
            }
        }
        let statuses: [String: RemotePushStatus]
        do {
            statuses = try mirror.push(url: url, credential: credential, branches: sending)
        } catch {
            throw UpstreamSyncFailure(description: "pushing to \(url) failed: \(error)", isPermanent: false)
        }
        for (name, commit) in sending {
            let accepted = statuses[name] == .accepted
            refs.append(
                UpstreamSyncRef(
                    name: "refs/heads/" + name,
                    before: remote[name]?.hex,
                    after: commit.hex,
                    outcome: accepted ? "updated" : "rejected"
                )
            )
        }
        return refs
    }
}
