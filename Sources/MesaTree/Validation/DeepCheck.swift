package import MesaCore
package import MesaStore

// The deep store check behind `mesa debug store fsck --deep`: every record is verified (`ContentStore.verify()`),
// then the object graph is walked from the roots the caller names (every commit of a bare store; a server's recorded
// and staged records), and what no root reaches, what points at something missing and what breaks a validator rule
// is named.
//
// The walk reads the links of commits and trees with scanners of its own that tolerate anything (headers in any
// order, unknown modes, non-UTF-8 names), so a record that breaks a rule is still followed and what it names is not
// miscounted as unreferenced; the rules themselves are judged by `TreeValidator`, exactly as for a push. Commits go
// first (a stack over parents), then trees in one post-order pass with an explicit stack: each tree is entered once
// (a set of reached keys), its subtrees are finished before it, and its shape (deepest and longest path below) is
// computed from theirs, so `TreeValidator.tree` checks the depth and length bounds without any recursion; a hostile
// chain of 10,000 nested trees costs a stack of frames on the heap, not on the thread. A tree over a bound is named
// once: where the bound is first crossed, not again at each tree above it. Memory is linear in the store's records
// (the reached set, one shape per tree); corrupt records that still read are followed, unreadable ones are not.

/// A check of a whole store: verified records, reachability from roots, missing links and validator rules.
package struct DeepCheck: Sendable {
    /// A record the walk starts from, with what names it (shown when the record is missing).
    package struct Root: Sendable, Hashable {
        /// The record.
        package var key: RecordKey
        /// What names the record, such as `store` or `repo local/demo`.
        package var origin: String

        /// Creates a root.
        package init(_ key: RecordKey, origin: String) {
            self.key = key
            self.origin = origin
        }
    }

    /// The store checked.
    package let store: ContentStore

    /// A check of `store` (which must stay open while ``run(roots:)`` runs).
    package init(store: ContentStore) {
        self.store = store
    }

    /// Every commit record of the store, as roots (origin `store`): what a bare store's roots are when nothing else
    /// says which commits are live.
    package func everyCommit() -> [Root] {
        store.allKeys().filter { $0.kind == .commit }.sorted().map { Root($0, origin: "store") }
    }

    /// Verifies every record, walks the graph from `roots` and names what is wrong.
    ///
    /// A root of any kind may be given: commits and trees are walked, a manifest's chunks are reached, a chunk or
    /// tag only counts as reached (tags are not followed).
    /// - Returns: the findings (corrupt, unreferenced, dangling parents and references, invalid trees and commits)
    ///   and counts.
    /// - Throws: ``TreeError/store(_:)`` when the store fails other than by a missing or corrupt record (closed, an
    ///   I/O error).
    package func run(roots: [Root]) throws(TreeError) -> DeepCheckReport {
        var walk = Walk(store: store, keys: store.allKeys())
        return try walk.run(roots)
    }
}

/// The state of one run of ``DeepCheck``.
private struct Walk {
    let store: ContentStore
    /// The keys the store held when the check began.
    let present: Set<RecordKey>
    var corrupt: Set<RecordKey> = []
    var reached: Set<RecordKey> = []
    var findings: [StoreFinding] = []
    /// Commits still to visit.
    var commits: [ObjectID] = []
    /// Trees to walk from, once the commits are done.
    var trees: [ObjectID] = []
    /// The shape of every finished tree.
    var shapes: [ObjectID: TreeShape] = [:]
    /// Finished trees with a path over the depth or length bound below them.
    var overBound: Set<ObjectID> = []

    static let emptyTreeKey = RecordKey(.tree, object: TreeCodec.emptyTreeID)

    init(store: ContentStore, keys: [RecordKey]) {
        self.store = store
        present = Set(keys)
    }

    mutating func run(_ roots: [DeepCheck.Root]) throws(TreeError) -> DeepCheckReport {
        for problem in store.verify().corrupt {
            corrupt.insert(problem.key)
            findings.append(StoreFinding(.corrupt, at: problem.key.description, problem.reason))
        }
        for root in roots { try start(root) }
        while let id = commits.popLast() { try visitCommit(id) }
        while let id = trees.popLast() { try walkTree(id) }
        for key in present where !reached.contains(key) {
            findings.append(StoreFinding(.unreferenced, at: key.description, "no root reaches it"))
        }
        return DeepCheckReport(
            records: present.count,
            roots: Set(roots.map(\.key)).count,
            reachable: reached.reduce(0) { $0 + (present.contains($1) ? 1 : 0) },
            findings: findings
        )
    }

    /// Whether a record is there (the empty tree always is: git knows it without storing it).
    func isPresent(_ key: RecordKey) -> Bool { present.contains(key) || key == Self.emptyTreeKey }

    mutating func start(_ root: DeepCheck.Root) throws(TreeError) {
        let key = root.key
        guard isPresent(key) else {
            findings.append(
                StoreFinding(.danglingReference, at: root.origin, "names \(key), which is not in the store")
            )
            return
        }
        switch key.kind {
        case .chunk, .tag:
            reached.insert(key)
        // Keys of the git kinds always carry an object id.
        case .commit: if let id = key.objectID { commits.append(id) }
        case .tree: if let id = key.objectID { trees.append(id) }
        case .manifest: if let id = key.objectID { try visitManifest(id) }
        }
    }

    // MARK: Records

    /// A record's bytes; `nil` (with a `corrupt` finding) when it cannot be read.
    mutating func read(_ key: RecordKey) throws(TreeError) -> [UInt8]? {
        do throws(StoreError) {
            return try store.get(key)
        } catch {
            switch error {
            case .notFound:
                // Present when the check began: only a cache-mode eviction removes it, and then nothing can be said.
                return nil
            case .corruptRecord(_, let reason):
                if corrupt.insert(key).inserted { findings.append(StoreFinding(.corrupt, at: key.description, reason)) }
                return nil
            case .compression(let operation, let message):
                if corrupt.insert(key).inserted {
                    findings.append(StoreFinding(.corrupt, at: key.description, "\(operation): \(message)"))
                }
                return nil
            case .badFormat, .locked, .io, .invalidArgument, .closed:
                throw TreeError(error)
            }
        }
    }

    /// Names a link from `referrer` to `expected`, a record the store lacks: an invalid tree or commit when the id
    /// is in the store as another kind (rule entry-kind-mismatch), a dangling reference otherwise.
    mutating func missing(_ expected: RecordKey, from referrer: RecordKey, _ what: String) {
        let otherKind = expected.objectID.flatMap { id in
            [RecordKind.tree, .manifest, .commit, .tag].first {
                $0 != expected.kind && present.contains(RecordKey($0, object: id))
            }
        }
        if let otherKind {
            findings.append(
                StoreFinding(
                    referrer.kind == .commit ? .invalidCommit : .invalidTree,
                    at: referrer.description,
                    "\(what) names \(expected), but the id is a \(otherKind) "
                        + "(rule \(ValidationRule.entryKindMismatch.rawValue))"
                )
            )
        } else {
            findings.append(
                StoreFinding(
                    .danglingReference,
                    at: referrer.description,
                    "\(what) names \(expected), which is not in the store"
                )
            )
        }
    }

    // MARK: Commits

    mutating func visitCommit(_ id: ObjectID) throws(TreeError) {
        let key = RecordKey(.commit, object: id)
        guard reached.insert(key).inserted, let body = try read(key) else { return }
        do {
            _ = try TreeValidator.commit(body, id: id)
        } catch {
            findings.append(StoreFinding(.invalidCommit, at: key.description, Self.describe(error)))
        }
        let links = Self.commitLinks(body)
        if let tree = links.tree {
            let treeKey = RecordKey(.tree, object: tree)
            if isPresent(treeKey) { trees.append(tree) } else { missing(treeKey, from: key, "its tree line") }
        }
        for parent in links.parents {
            let parentKey = RecordKey(.commit, object: parent)
            if !present.contains(parentKey) {
                findings.append(
                    StoreFinding(
                        .danglingParent,
                        at: key.description,
                        "names parent \(parentKey), which is not in the store"
                    )
                )
            } else if !reached.contains(parentKey) {
                commits.append(parent)
            }
        }
    }

    /// The tree and parents a commit's headers name (git's layout is not required; `TreeValidator` judges it).
    static func commitLinks(_ body: [UInt8]) -> (tree: ObjectID?, parents: [ObjectID]) {
        var tree: ObjectID?
        var parents: [ObjectID] = []
        var index = 0
        while index < body.count {
            let end = body[index...].firstIndex(of: 10) ?? body.count
            if end == index { break }  // the blank line that ends the headers
            let line = body[index..<end]
            if tree == nil, line.starts(with: "tree ".utf8) {
                tree = ObjectID(hex: String(decoding: line.dropFirst(5), as: UTF8.self))
            } else if line.starts(with: "parent ".utf8),
                let parent = ObjectID(hex: String(decoding: line.dropFirst(7), as: UTF8.self))
            {
                parents.append(parent)
            }
            index = end + 1
        }
        return (tree, parents)
    }

    // MARK: Trees

    /// One step of the post-order tree walk.
    enum Step {
        /// Read a tree, check its links and schedule its subtrees.
        case enter(ObjectID)
        /// All subtrees are finished: compute the shape and validate.
        case exit(ObjectID, [UInt8])
    }

    mutating func walkTree(_ root: ObjectID) throws(TreeError) {
        var stack: [Step] = [.enter(root)]
        while let step = stack.popLast() {
            switch step {
            case .enter(let id):
                let key = RecordKey(.tree, object: id)
                guard reached.insert(key).inserted else { continue }
                if key == Self.emptyTreeKey, !present.contains(key) {
                    shapes[id] = .empty
                    continue
                }
                guard let body = try read(key) else { continue }
                stack.append(.exit(id, body))
                for entry in Self.treeEntries(body) {
                    let what = "entry '\(PathName.escaped(entry.name))'"
                    switch entry.mode {
                    case .directory:
                        let child = RecordKey(.tree, object: entry.id)
                        if !isPresent(child) {
                            missing(child, from: key, what)
                        } else if !reached.contains(child) {
                            stack.append(.enter(entry.id))
                        }
                    case .regular, .executable, .symlink:
                        let manifest = RecordKey(.manifest, object: entry.id)
                        if present.contains(manifest) {
                            try visitManifest(entry.id)
                        } else {
                            missing(manifest, from: key, what)
                        }
                    case .submodule, nil:
                        // A gitlink names a commit of another repository; an unknown mode is the validator's to name.
                        continue
                    }
                }
            case .exit(let id, let body):
                finish(id, body)
            }
        }
    }

    /// Computes a tree's shape from its finished subtrees and validates it.
    mutating func finish(_ id: ObjectID, _ body: [UInt8]) {
        var shape = TreeShape.empty
        var belowOverBound = false
        for entry in Self.treeEntries(body) {
            var subtree: TreeShape?
            if entry.mode == .directory {
                // A subtree still unfinished here is on a cycle (only a corrupt store has one): count it as empty.
                subtree = shapes[entry.id] ?? .empty
                if overBound.contains(entry.id) { belowOverBound = true }
            }
            shape.include(nameBytes: entry.name.count, subtree: subtree)
        }
        shapes[id] = shape
        if shape.height > TreeValidator.maxDepth || shape.longest > TreeValidator.maxPathBytes { overBound.insert(id) }
        let known = shapes
        do {
            _ = try TreeValidator.tree(body, id: id) { child, _ in known[child] ?? .empty }
        } catch {
            if case .invalid(let failure) = error, failure.rule == .pathTooDeep || failure.rule == .pathTooLong,
                belowOverBound
            {
                return  // named already, at the subtree where the bound is crossed
            }
            findings.append(
                StoreFinding(.invalidTree, at: RecordKey(.tree, object: id).description, Self.describe(error))
            )
        }
    }

    /// One entry of a tree as stored: the mode as git would read it (`nil` when it is not one), the name's bytes and
    /// the id.
    struct RawEntry {
        var mode: FileMode?
        var name: ArraySlice<UInt8>
        var id: ObjectID
    }

    /// The entries of a tree body up to the first malformed one (`TreeValidator` names that).
    static func treeEntries(_ body: [UInt8]) -> [RawEntry] {
        var entries: [RawEntry] = []
        var index = 0
        while index < body.count {
            guard let space = body[index...].firstIndex(of: UInt8(ascii: " ")),
                let nul = body[(space + 1)...].firstIndex(of: 0), nul + 21 <= body.count,
                let id = ObjectID(bytes: body[(nul + 1)..<(nul + 21)])
            else { break }
            var octal: UInt32? = space > index && space - index <= 10 ? 0 : nil
            for byte in body[index..<space] {
                let digit = byte &- UInt8(ascii: "0")
                octal = digit < 8 ? octal.map { $0 << 3 | UInt32(digit) } : nil
            }
            entries.append(RawEntry(mode: octal.flatMap(FileMode.init(octal:)), name: body[(space + 1)..<nul], id: id))
            index = nul + 21
        }
        return entries
    }

    // MARK: Manifests

    mutating func visitManifest(_ id: ObjectID) throws(TreeError) {
        let key = RecordKey(.manifest, object: id)
        guard reached.insert(key).inserted, let body = try read(key) else { return }
        guard let manifest = Manifest(decoding: body) else {
            if corrupt.insert(key).inserted {
                findings.append(StoreFinding(.corrupt, at: key.description, "not a valid manifest"))
            }
            return
        }
        for chunk in manifest.chunks {
            let chunkKey = RecordKey(chunk: chunk.id)
            if present.contains(chunkKey) {
                reached.insert(chunkKey)
            } else {
                findings.append(
                    StoreFinding(
                        .danglingReference,
                        at: key.description,
                        "names \(chunkKey), which is not in the store"
                    )
                )
            }
        }
    }

    /// A validator refusal as `detail (rule r) at 'place'`; any other error as its description.
    static func describe(_ error: TreeError) -> String {
        if case .invalid(let failure) = error { return failure.description }
        return error.description
    }
}
