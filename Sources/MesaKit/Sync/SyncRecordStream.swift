public import MesaWire

// Reading the sync protocol's frame streams (docs/Protocol.md) as they arrive: bytes from a `ByteStream` are fed to
// MesaWire's incremental `SyncFrameDecoder` and frames taken out as they complete, so a large answer never sits in
// memory whole. A stream is an answer only when it ends with its end frame: a transport that ends first is
// `KitError.syncStream(.truncated)`, an error frame is `KitError.streamError`, never a shorter answer.

/// Reads the frames of one sync answer from its body.
struct FrameReader: Sendable {
    private let body: ByteStream
    private var bytes: ByteStream.AsyncIterator
    private var decoder: SyncFrameDecoder
    private var ended = false

    /// Starts reading `body`, enforcing `limits` on every frame.
    init(body: ByteStream, limits: SyncLimits) {
        self.body = body
        bytes = body.makeAsyncIterator()
        decoder = SyncFrameDecoder(limits: limits)
    }

    /// The next record or JSON frame; `nil` once the end frame has arrived and the body has ended after it.
    /// - Throws: ``KitError/syncStream(_:)`` for an invalid or truncated stream, ``KitError/streamError(code:message:)``
    ///   for an error frame, and the transport's errors.
    mutating func nextFrame() async throws(KitError) -> SyncFrame? {
        guard !ended else { return nil }
        while true {
            let frame: SyncFrame?
            do {
                frame = try decoder.next()
            } catch {
                fail()
                throw .syncStream(error)
            }
            switch frame {
            case .record, .json:
                return frame
            case .error(let body):
                fail()
                throw .streamError(code: body.error.code, message: body.error.message)
            case .end:
                try await drain()
                return nil
            case nil:
                guard let chunk = try await bytes.next() else {
                    ended = true
                    do {
                        try decoder.finish()
                    } catch {
                        throw .syncStream(error)
                    }
                    // `finish` passes only after an end frame, which `next` returned above.
                    return nil
                }
                decoder.feed(chunk)
            }
        }
    }

    /// The next record; a JSON frame here is a protocol error.
    mutating func nextRecord() async throws(KitError) -> SyncRecord? {
        switch try await nextFrame() {
        case .record(let record): return record
        case nil: return nil
        case .json:
            fail()
            throw .syncStream(.malformed("a JSON frame among the records"))
        case .end, .error:
            // `nextFrame` consumes end and error frames itself.
            fail()
            throw .syncStream(.malformed("unexpected frame"))
        }
    }

    /// Reads the body to its end after the end frame (keeping the connection reusable); bytes there are an error.
    private mutating func drain() async throws(KitError) {
        ended = true
        while let chunk = try await bytes.next() {
            decoder.feed(chunk)
            do {
                _ = try decoder.next()
            } catch {
                fail()
                throw .syncStream(error)
            }
        }
    }

    /// Stops the transfer after a protocol error: the rest of the body is not worth reading.
    private mutating func fail() {
        ended = true
        body.cancel()
    }
}

/// The records of a sync answer (`trees`, `objects`, a lookup's records), decoded as they arrive.
///
/// Read it once with `for try await record in stream`. Each record's frame checksum (CRC-32C over the stored bytes)
/// has been checked; its id has not, because that needs the record decompressed: store records with a verifying
/// helper such as `ContentStore.putVerified` (MesaStore) before trusting them. Reading fails with
/// ``KitError/syncStream(_:)`` when the stream is malformed or ends before its end frame, and with
/// ``KitError/streamError(code:message:)`` when the server reports a failure in an error frame; a stream is never
/// taken as a shorter answer. Dropping the stream before its end cancels the transfer.
public struct SyncRecordStream: AsyncSequence, Sendable {
    /// Each element is a record as stored on the server.
    public typealias Element = SyncRecord
    /// Reading fails with a ``KitError``.
    public typealias Failure = KitError

    /// Opens the answer after `index` answers were read (a query split in batches), or `nil` when there is none.
    typealias Open = @Sendable (_ index: Int) async throws(KitError) -> FrameReader?

    private let first: FrameReader?
    private let open: Open

    init(first: FrameReader?, open: @escaping Open = { (_: Int) throws(KitError) -> FrameReader? in nil }) {
        self.first = first
        self.open = open
    }

    /// Starts reading.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(reader: first, open: open)
    }

    /// Reads every record into an array (for answers known to be small, such as merge material).
    public func collect() async throws(KitError) -> [SyncRecord] {
        var records: [SyncRecord] = []
        var iterator = makeAsyncIterator()
        while let record = try await iterator.next() { records.append(record) }
        return records
    }

    /// Iterates a ``SyncRecordStream``.
    public struct AsyncIterator: AsyncIteratorProtocol, Sendable {
        /// Each element is a record.
        public typealias Element = SyncRecord
        /// Reading fails with a ``KitError``.
        public typealias Failure = KitError

        private var reader: FrameReader?
        private var opened = 1
        private var done = false
        private let open: Open

        init(reader: FrameReader?, open: @escaping Open) {
            self.reader = reader
            self.open = open
            if reader == nil { opened = 0 }
        }

        /// The next record, or `nil` after the last answer's end frame.
        public mutating func next() async throws(KitError) -> SyncRecord? {
            while !done {
                if var current = reader {
                    let record: SyncRecord?
                    do {
                        record = try await current.nextRecord()
                    } catch {
                        done = true
                        throw error
                    }
                    reader = current
                    if let record { return record }
                    reader = nil
                }
                do {
                    reader = try await open(opened)
                } catch {
                    done = true
                    throw error
                }
                opened += 1
                if reader == nil { done = true }
            }
            return nil
        }

        /// The next record, or `nil` after the last answer's end frame.
        public mutating func next(isolation actor: isolated (any Actor)?) async throws(KitError) -> SyncRecord? {
            try await next()
        }
    }
}
