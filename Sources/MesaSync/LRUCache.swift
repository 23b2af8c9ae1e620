/// A least-recently-used cache bounded by the total cost of its values (bytes, for the memory cache).
///
/// A value type: callers keep it behind their own lock. Entries live in an array of nodes linked into a recency
/// list by index, so lookups, insertions and evictions are O(1) without a per-entry allocation.
struct LRUCache<Key: Hashable, Value> {
    private struct Node {
        var key: Key
        var value: Value
        var cost: Int
        var newer: Int
        var older: Int
    }

    private var nodes: [Node?] = []
    private var free: [Int] = []
    private var index: [Key: Int] = [:]
    private var newest = -1
    private var oldest = -1
    /// The bound on the total cost.
    let capacity: Int
    /// The total cost of the values held.
    private(set) var totalCost = 0

    /// Creates an empty cache holding values of at most `capacity` total cost.
    init(capacity: Int) { self.capacity = max(0, capacity) }

    /// The number of values held.
    var count: Int { index.count }

    /// The value for `key`, marking it most recently used.
    mutating func value(for key: Key) -> Value? {
        guard let slot = index[key], let node = nodes[slot] else { return nil }
        moveToFront(slot)
        return node.value
    }

    /// Whether `key` is held, without touching its recency.
    func contains(_ key: Key) -> Bool { index[key] != nil }

    /// Inserts or replaces a value, then evicts the least recently used values until the total cost fits. A value
    /// costlier than the whole capacity is not kept.
    mutating func insert(_ value: Value, for key: Key, cost: Int) {
        remove(key)
        guard cost <= capacity else { return }
        let node = Node(key: key, value: value, cost: cost, newer: -1, older: newest)
        let slot: Int
        if let reused = free.popLast() {
            slot = reused
            nodes[slot] = node
        } else {
            slot = nodes.count
            nodes.append(node)
        }
        if newest >= 0 { nodes[newest]?.newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
        index[key] = slot
        totalCost += cost
        while totalCost > capacity, oldest >= 0, let victim = nodes[oldest] { remove(victim.key) }
    }

    /// Removes the value for `key`, if any.
    mutating func remove(_ key: Key) {
        guard let slot = index.removeValue(forKey: key), let node = nodes[slot] else { return }
        unlink(slot, node)
        nodes[slot] = nil
        free.append(slot)
        totalCost -= node.cost
    }

    private mutating func moveToFront(_ slot: Int) {
        guard slot != newest, let node = nodes[slot] else { return }
        unlink(slot, node)
        nodes[slot]?.older = newest
        nodes[slot]?.newer = -1
        if newest >= 0 { nodes[newest]?.newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private mutating func unlink(_ slot: Int, _ node: Node) {
        if node.newer >= 0 { nodes[node.newer]?.older = node.older } else { newest = node.older }
        if node.older >= 0 { nodes[node.older]?.newer = node.newer } else { oldest = node.newer }
    }
}
