package import MesaCore

// Which records a set of commits reaches, in the order a push must send them: every record comes after the records
// it points at (chunks, then manifests, then trees bottom-up, then commits oldest first), because the server verifies
// each pushed tree, commit and manifest against what it already has or the same push carried (docs/Protocol.md).

extension MesaRepository {
    /// Every record reachable from `commits`, in dependency order, without duplicates.
    ///
    /// - Parameters:
    ///   - commits: the tips to start from.
    ///   - known: commits the receiver already has; the walk does not enter them or their ancestors (their trees
    ///     are not excluded, since a new commit may still share subtrees with them: the receiver's `have` answer
    ///     prunes those).
    /// - Returns: chunk, manifest, tree and commit keys in push order.
    package func records(reachableFrom commits: [ObjectID], known: Set<ObjectID> = []) throws(TreeError) -> [RecordKey] {
        // Commits, parents before children (an iterative post-order over the parent graph).
        var commitOrder: [ObjectID] = []
        var visited = Set<ObjectID>(known)
        var stack: [(ObjectID, Bool)] = commits.reversed().map { ($0, false) }
        while let (id, expanded) = stack.popLast() {
            if expanded {
                commitOrder.append(id)
                continue
            }
            guard visited.insert(id).inserted else { continue }
            stack.append((id, true))
            for parent in try commit(id).parents.reversed() where !visited.contains(parent) { stack.append((parent, false)) }
        }

        var chunks: [RecordKey] = []
        var manifests: [RecordKey] = []
        var trees: [RecordKey] = []
        var seenTrees = Set<ObjectID>()
        var seenBlobs = Set<ObjectID>()
        var seenChunks = Set<ChunkID>()
        // Trees bottom-up: a post-order walk, each tree emitted after its subtrees.
        func visitTree(_ root: ObjectID) throws(TreeError) {
            guard seenTrees.insert(root).inserted else { return }
            var stack: [(ObjectID, Bool)] = [(root, false)]
            while let (id, expanded) = stack.popLast() {
                if expanded {
                    trees.append(RecordKey(.tree, object: id))
                    continue
                }
                stack.append((id, true))
                for entry in try tree(id) {
                    switch entry.mode {
                    case .directory:
                        if seenTrees.insert(entry.id).inserted { stack.append((entry.id, false)) }
                    case .regular, .executable, .symlink:
                        guard seenBlobs.insert(entry.id).inserted else { continue }
                        for chunk in try manifest(ofBlob: entry.id).chunks where seenChunks.insert(chunk.id).inserted {
                            chunks.append(RecordKey(chunk: chunk.id))
                        }
                        manifests.append(RecordKey(.manifest, object: entry.id))
                    case .submodule:
                        continue
                    }
                }
            }
        }
        for id in commitOrder { try visitTree(try commit(id).tree) }
        return chunks + manifests + trees + commitOrder.map { RecordKey(.commit, object: $0) }
    }
}
