import MesaWire

/// The items of a list endpoint across all its pages, fetched one page at a time as the sequence is read.
///
/// ```swift
/// for try await repo in mesa.repos.all() { print(repo.name) }
/// ```
public struct PageSequence<Item: Codable & Sendable & Equatable>: AsyncSequence, Sendable {
    /// Each element is an item.
    public typealias Element = Item
    /// Reading fails with a ``KitError``.
    public typealias Failure = KitError

    /// Fetches the page after `cursor` (`nil` for the first).
    typealias Fetch = @Sendable (_ cursor: String?) async throws(KitError) -> Page<Item>

    private let fetch: Fetch

    init(fetch: @escaping Fetch) {
        self.fetch = fetch
    }

    /// Starts reading.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(fetch: fetch)
    }

    /// Reads every page into one array.
    public func collect() async throws(KitError) -> [Item] {
        var items: [Item] = []
        var iterator = makeAsyncIterator()
        while let item = try await iterator.next() { items.append(item) }
        return items
    }

    /// Iterates a ``PageSequence``.
    public struct AsyncIterator: AsyncIteratorProtocol, Sendable {
        /// Each element is an item.
        public typealias Element = Item
        /// Reading fails with a ``KitError``.
        public typealias Failure = KitError

        private let fetch: Fetch
        private var buffer: [Item] = []
        private var index = 0
        private var cursor: String?
        private var finished = false

        init(fetch: @escaping Fetch) {
            self.fetch = fetch
        }

        /// The next item, fetching the next page when this one is used up; `nil` after the last page.
        public mutating func next() async throws(KitError) -> Item? {
            while index == buffer.count {
                guard !finished else { return nil }
                let page = try await fetch(cursor)
                buffer = page.items
                index = 0
                cursor = page.nextCursor
                // A server that says "more" without a cursor would loop forever: stop instead.
                finished = !page.hasMore || page.nextCursor == nil
            }
            defer { index += 1 }
            return buffer[index]
        }

        /// The next item, fetching the next page when this one is used up; `nil` after the last page.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(KitError) -> Item? {
            try await next()
        }
    }
}
