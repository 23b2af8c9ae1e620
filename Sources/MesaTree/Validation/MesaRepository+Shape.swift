package import MesaCore

extension MesaRepository {
    /// The shape (deepest and longest path below) of a stored tree, computed children first and remembered in
    /// `memo`, so shared subtrees are read once. Recursion stops past ``TreeValidator/maxDepth`` levels: a deeper
    /// tree is refused before it can exhaust the stack.
    /// - Throws: ``TreeError/invalid(_:)`` with ``ValidationRule/pathTooDeep``, or a read failure.
    package func shape(ofTree id: ObjectID, memo: inout [ObjectID: TreeShape]) throws(TreeError) -> TreeShape {
        try shape(ofTree: id, depth: 0, memo: &memo)
    }

    private func shape(ofTree id: ObjectID, depth: Int, memo: inout [ObjectID: TreeShape]) throws(TreeError)
        -> TreeShape
    {
        if let known = memo[id] { return known }
        guard depth <= TreeValidator.maxDepth else {
            throw .invalid(
                ValidationFailure(
                    .pathTooDeep, at: "tree \(id.hex)", "a path of more than \(TreeValidator.maxDepth) components"))
        }
        var shape = TreeShape.empty
        for entry in try tree(id) {
            let subtree = entry.mode == .directory ? try self.shape(ofTree: entry.id, depth: depth + 1, memo: &memo) : nil
            shape.include(nameBytes: entry.name.utf8.count, subtree: subtree)
        }
        memo[id] = shape
        return shape
    }
}
