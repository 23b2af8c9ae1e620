package import MesaCore
package import MesaKit
package import MesaStore
package import MesaWire

// Sending a built upload (docs/Protocol.md, `have` and the streaming `push`): one `have` over the upload's keys,
// then one push of only the missing records, read from the store (where the build pinned them) as the body is sent.
//
// The transaction evolves the base change: expected commit the base commit, new commit the upload's, and no
// `parents` (unless the caller names them), which the server reads as "keep the change's own": an evolution costs no
// round trip to look them up (an empty list would re-parent the change on the root). No bookmark moves: bookmarks name change ids, and an evolution keeps its id. An upload that
// starts a change (its base was the virtual root) creates it, and creates the bookmark the mount shows.
//
// Retries are idempotent. When the answer to an applied push is lost, the same upload sent again finds its records
// present (`have` says nothing is missing) and its expectation stale, with the change already at the upload's
// commit: the server answers a conflict whose current commit is ours, which is "already there", a success. Likewise a
// bookmark conflict whose current change is the upload's own. An upload built again (a later snapshot, a restarted
// daemon) has another commit: the conflict then names the commit the lost push made, which the caller recognizes
// from its journal of sent pushes (the mount's upload pipeline).

/// What the server made of an upload.
package enum UploadOutcome: Sendable, Equatable {
    /// The change is at the upload's commit: applied now, or already by an earlier attempt whose answer was lost.
    case pushed(ObjectID)
    /// The change moved on the server since the base (or a bookmark to create exists): nothing was applied. The
    /// records stay staged there; the caller merges with `current` (the change's commit now, `nil` when the conflict
    /// is a bookmark's) and the merge material (the current commit and the trees that differ, unverified: verify
    /// them before storing, like any fetched record), and uploads the merge later. `bookmarkChange` is the change a
    /// bookmark the upload wanted to create names now (an upload that starts a change).
    case conflict(current: ObjectID?, bookmarkChange: ChangeID?, mergeMaterial: [SyncRecord])
}

/// What sending an upload did.
package struct UploadReport: Sendable, Equatable {
    /// The outcome.
    package var outcome: UploadOutcome
    /// The records the push carried: those `have` reported missing, in push order.
    package var sent: [RecordKey]
    /// Body bytes sent.
    package var bytesSent: Int64
}

/// Sends ``BuiltUpload``s of one repository with one `have` and one streaming push each.
package struct Uploader: Sendable {
    /// The repository's sync client.
    package let sync: Mesa.Sync
    /// Where the uploads' records are (the store the builder wrote them to).
    package let store: ContentStore
    /// The bookmark an empty revision names (created when an upload starts a change on the virtual root).
    package let defaultBookmark: String
    let pool: BlockingPool

    /// Creates an uploader for `repo`.
    package init(
        mesa: Mesa, repo: String, store: ContentStore, defaultBookmark: String = "main", pool: BlockingPool = .shared
    ) {
        sync = mesa.sync(repo)
        self.store = store
        self.defaultBookmark = defaultBookmark
        self.pool = pool
    }

    /// Sends an upload: `have` over its keys, then one push of the missing records and the transaction.
    ///
    /// Sending the same upload again after any failure is safe (see ``UploadOutcome/pushed(_:)``). The upload's pins
    /// are the caller's to release once the outcome is `pushed`.
    /// - Parameters:
    ///   - upload: what ``UploadBuilder/build(base:dirty:message:committer:)`` made.
    ///   - parents: the change's parent change ids, when the caller knows them; otherwise asked from the server.
    ///   - conflicts: the paths of the new commit that hold unresolved conflicts, when the caller knows them
    ///     (``ChangeUpdate/conflicts``), and those it knows are resolved (``ChangeUpdate/resolved``).
    /// - Returns: pushed, or a conflict to reconcile.
    /// - Throws: ``SyncError/pushRefused(status:code:message:)`` when the server refused the push (a 4xx: sending it
    ///   again will not help); ``SyncError/remote(operation:message:)`` for transport failures and server errors
    ///   (retry later); ``SyncError/cancelled``; store failures reading the records.
    package func send(
        _ upload: BuiltUpload, parents: [ChangeID]? = nil, conflicts: (remaining: [String], resolved: [String])? = nil
    ) async throws(SyncError) -> UploadReport {
        var transaction = try await transaction(for: upload, parents: parents)
        if let conflicts, !transaction.changes.isEmpty {
            transaction.changes[0].conflicts = conflicts.remaining
            transaction.changes[0].resolved = conflicts.resolved.isEmpty ? nil : conflicts.resolved
        }
        let missing: [RecordKey]
        do throws(KitError) {
            missing = try await sync.have(keys: upload.keys)
        } catch {
            throw Self.map(error, operation: "have")
        }
        // `have` answers in request order; keep the push order whatever it does.
        let missingSet = Set(missing)
        let ordered = upload.keys.filter { missingSet.contains($0) }
        let outcome: PushOutcome
        do throws(KitError) {
            outcome = try await sync.push(
                records: StoredRecords(store: store, keys: ordered, pool: pool), transaction: transaction)
        } catch {
            throw Self.map(error, operation: "push")
        }
        return UploadReport(
            outcome: Self.outcome(of: outcome, for: upload), sent: ordered, bytesSent: outcome.bytesSent)
    }

    /// The push transaction of an upload.
    func transaction(for upload: BuiltUpload, parents known: [ChangeID]?) async throws(SyncError) -> PushTransaction {
        if upload.createsChange {
            let update = ChangeUpdate(
                changeID: upload.change.description, expectedCommit: nil, commit: upload.commit.hex, parents: [])
            let bookmark: String?
            switch upload.base.revision.kind {
            case .defaultBookmark: bookmark = defaultBookmark
            case .bookmark(let name): bookmark = name
            case .change: bookmark = nil
            }
            return PushTransaction(
                changes: [update],
                bookmarks: bookmark.map { [BookmarkUpdate(name: $0, expectedChange: nil, change: update.changeID)] } ?? [])
        }
        // Parents not known: the push names none, and the server keeps the change's own (no extra round trip).
        let parents = known.map { $0.map(\.description) }
        return PushTransaction(
            changes: [
                ChangeUpdate(
                    changeID: upload.change.description, expectedCommit: upload.base.commit?.hex,
                    commit: upload.commit.hex, parents: parents)
            ],
            bookmarks: [])
    }

    /// Applied, already there (every stale expectation is already what the upload wanted), or a conflict.
    static func outcome(of push: PushOutcome, for upload: BuiltUpload) -> UploadOutcome {
        if push.applied { return .pushed(upload.commit) }
        let change = upload.change.description
        let alreadyThere = push.result.conflicts.allSatisfy { conflict in
            switch conflict.kind {
            case "change": conflict.name == change && conflict.current == upload.commit.hex
            case "bookmark": conflict.current == change
            default: false
            }
        }
        if alreadyThere, !push.result.conflicts.isEmpty { return .pushed(upload.commit) }
        let current = push.result.conflicts.first { $0.kind == "change" && $0.name == change }?.current
        let bookmarkChange = push.result.conflicts.first { $0.kind == "bookmark" }?.current
        return .conflict(
            current: current.flatMap { ObjectID(hex: $0) }, bookmarkChange: bookmarkChange.flatMap(ChangeID.init(parsing:)),
            mergeMaterial: push.mergeMaterial)
    }

    /// A refusal (4xx) is final; everything else may pass on a later attempt.
    static func map(_ error: KitError, operation: String) -> SyncError {
        switch error {
        case .cancelled:
            return .cancelled
        case .api(let status, let code, let message, _) where (400..<500).contains(status):
            return .pushRefused(status: status, code: code, message: "\(operation): \(message)")
        case .unexpectedResponse(let status, let body) where (400..<500).contains(status):
            return .pushRefused(status: status, code: nil, message: "\(operation): \(body)")
        case .invalidArgument(let message):
            return .pushRefused(status: nil, code: nil, message: "\(operation): \(message)")
        default:
            return .remote(operation: operation, message: "\(error)")
        }
    }
}
