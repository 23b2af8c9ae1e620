public import MesaWire

// The streaming push (docs/Protocol.md, `POST sync/push`). One HTTP request whose body is produced while it is sent:
// a child task reads the caller's records in push order and writes their frames, then the transaction's JSON frame
// and the end frame, into an `UploadBody`, a bounded buffer that libcurl's read callback drains on the event-loop
// thread (chunked transfer encoding; the callback pauses the upload when the producer lags, and the producer waits
// when the buffer is full). Meanwhile the calling task waits for the answer, itself a frame stream: the JSON
// `PushResult`, then on 409 the merge material. A push whose body began to be sent is never retried.

extension Mesa.Sync {
    /// Pushes records and applies a transaction atomically (`POST sync/push`), streaming the body as it is read
    /// from `records`, so a push of any size holds only a bounded buffer (``Mesa/Configuration/maxBufferedBytesPerTransfer``)
    /// plus one record in memory.
    ///
    /// - Parameters:
    ///   - records: the records to send, in push order: each after the records it points at (chunks, manifests,
    ///     trees bottom-up, commits parents first), as MesaTree's `records(reachableFrom:known:)` lists them. Send
    ///     only what `have(keys:)` reports missing. Read once, by a child task.
    ///   - transaction: the changes to create or evolve and the bookmarks to create or move.
    ///   - progress: called after each record frame is written to the body, from the producing task.
    /// - Returns: the server's result; on a stale expectation (HTTP 409) `result.status` is `conflict` and
    ///   ``PushOutcome/mergeMaterial`` holds the current commit of each stale change and its trees.
    /// - Throws: ``KitError/pushSourceFailed(_:)`` when `records` throws (the push is aborted with an error frame
    ///   and nothing is applied), ``KitError/invalidArgument(_:)`` for a record or body over the server's limits,
    ///   ``KitError/api(status:code:message:details:)`` for a refused push (a record failing verification is a
    ///   400), and transport errors.
    public func push<Records: AsyncSequence & Sendable>(
        records: Records,
        transaction: PushTransaction,
        progress: (@Sendable (PushProgress) -> Void)? = nil
    ) async throws(KitError) -> PushOutcome where Records.Element == SyncRecord {
        let limits = try await negotiated().limits
        let org = try await client.org()
        let transactionFrame = SyncFrameEncoder.encode(.json(try RESTClient.encodeJSON(transaction)))
        guard transactionFrame.count - 5 <= limits.maxJSONBytes else {
            throw .invalidArgument("the transaction is larger than the server's \(limits.maxJSONBytes)-byte JSON limit")
        }
        let upload = UploadBody(capacity: max(64 << 10, client.configuration.maxBufferedBytesPerTransfer))
        let started = ContinuousClock.now
        async let produced = Self.produce(
            records, transactionFrame: transactionFrame, into: upload, limits: limits, progress: progress)
        let answer = await receive(org: org, upload: upload, limits: limits)
        // The answer is complete (or failed): a producer still waiting for room must stop.
        upload.close(.cancelled)
        let production = await produced
        if case .failed(let error) = production { throw error }
        let (result, material) = try answer.get()
        guard case .finished(let count, let bytes) = production else {
            // The server answered before the body ended, and did not refuse it: not a valid push answer.
            throw .syncStream(.malformed("the server answered the push before its body ended"))
        }
        return PushOutcome(
            result: result, mergeMaterial: material, recordsSent: count, bytesSent: bytes,
            duration: ContinuousClock.now - started, uploadPauses: upload.readPauses,
            producerWaits: upload.writerWaits, peakBufferedBytes: upload.peakBufferedBytes)
    }

    /// Pushes records held in memory; see ``push(records:transaction:progress:)``.
    public func push(
        records: [SyncRecord],
        transaction: PushTransaction,
        progress: (@Sendable (PushProgress) -> Void)? = nil
    ) async throws(KitError) -> PushOutcome {
        try await push(records: ArrayRecords(records: records), transaction: transaction, progress: progress)
    }

    /// Sends the push request with `upload` as its body and reads the answer stream.
    private func receive(
        org: String, upload: UploadBody, limits: SyncLimits
    ) async -> Result<(PushResult, [SyncRecord]), KitError> {
        do throws(KitError) {
            let response = try await client.send(
                .post, [org, repo, "sync", "push"], upload: upload, contentType: Self.contentType,
                accept: Self.contentType, accepting: [409])
            var reader = FrameReader(body: response.body, limits: limits)
            guard case .json(let bytes)? = try await reader.nextFrame() else {
                throw .syncStream(.malformed("a push answer starts with its JSON result"))
            }
            let result = try RESTClient.decodeJSON(PushResult.self, from: bytes)
            var material: [SyncRecord] = []
            while let record = try await reader.nextRecord() { material.append(record) }
            return .success((result, material))
        } catch {
            return .failure(error)
        }
    }

    /// How the producing task ended.
    private enum Production: Sendable {
        /// Every frame was written: `records` record frames, `bytes` body bytes.
        case finished(records: Int, bytes: Int64)
        /// The producer failed on its own (source, limits); the body carries an error frame instead of a
        /// transaction.
        case failed(KitError)
        /// The body was abandoned (the transfer ended or failed first).
        case stopped
    }

    /// Writes the body: magic, record frames, the transaction frame, the end frame.
    private static func produce<Records: AsyncSequence & Sendable>(
        _ records: Records,
        transactionFrame: [UInt8],
        into upload: UploadBody,
        limits: SyncLimits,
        progress: (@Sendable (PushProgress) -> Void)?
    ) async -> Production where Records.Element == SyncRecord {
        var count = 0
        var bytes = Int64(SyncFrameEncoder.magic.count)
        do throws(KitError) {
            try await upload.write(SyncFrameEncoder.magic)
            var iterator = records.makeAsyncIterator()
            while true {
                let next: SyncRecord?
                do {
                    next = try await iterator.next()
                } catch {
                    return await abort(upload, .pushSourceFailed("\(error)"))
                }
                guard let record = next else { break }
                guard record.stored.count <= limits.maxRecordBytes else {
                    return await abort(
                        upload,
                        .invalidArgument(
                            "record \(record.key) has \(record.stored.count) stored bytes, over the server's "
                                + "\(limits.maxRecordBytes)-byte limit"))
                }
                let frame = SyncFrameEncoder.encode(.record(record))
                bytes += Int64(frame.count)
                guard bytes + Int64(transactionFrame.count) + 5 <= Int64(limits.maxPushBytes) else {
                    return await abort(
                        upload, .invalidArgument("the push is larger than the server's \(limits.maxPushBytes)-byte limit"))
                }
                try await upload.write(frame)
                count += 1
                progress?(PushProgress(records: count, bytesWritten: bytes, bytesSent: upload.bytesTaken))
            }
            try await upload.write(transactionFrame + SyncFrameEncoder.encode(.end(recordCount: UInt32(count))))
            bytes += Int64(transactionFrame.count) + 5
            upload.finish()
            return .finished(records: count, bytes: bytes)
        } catch {
            return .stopped
        }
    }

    /// Ends the body with an error frame, so the server refuses the push cleanly and applies nothing.
    private static func abort(_ upload: UploadBody, _ error: KitError) async -> Production {
        let frame = SyncFrameEncoder.encode(.error(ErrorBody(code: "CLIENT_ABORTED", message: "\(error)")))
        do throws(KitError) {
            try await upload.write(frame)
            upload.finish()
        } catch {
            upload.close(error)
        }
        return .failed(error)
    }
}

/// Records in memory as an `AsyncSequence`.
private struct ArrayRecords: AsyncSequence, Sendable {
    typealias Element = SyncRecord
    let records: [SyncRecord]

    func makeAsyncIterator() -> Iterator { Iterator(records: records) }

    struct Iterator: AsyncIteratorProtocol {
        let records: [SyncRecord]
        var index = 0

        mutating func next() async -> SyncRecord? {
            guard index < records.count else { return nil }
            defer { index += 1 }
            return records[index]
        }
    }
}

/// How far a push's body has got, reported after each record.
public struct PushProgress: Sendable, Equatable {
    /// Record frames written to the body.
    public var records: Int
    /// Body bytes written (frames produced).
    public var bytesWritten: Int64
    /// Body bytes libcurl has taken for sending (at most a bounded buffer behind ``bytesWritten``).
    public var bytesSent: Int64
}

/// What a push did.
public struct PushOutcome: Sendable {
    /// The server's result: `applied`, or `conflict` with the stale expectations.
    public var result: PushResult
    /// On conflict, the records the server sent to merge with: the current commit of each stale change and the
    /// trees along the paths that differ (verify them before storing, like any fetched record).
    public var mergeMaterial: [SyncRecord]
    /// Record frames sent.
    public var recordsSent: Int
    /// Body bytes sent (frames, transaction and end).
    public var bytesSent: Int64
    /// From the first body byte produced to the end of the answer.
    public var duration: Duration

    /// How often libcurl found the body buffer empty and paused the upload (a debug counter).
    package var uploadPauses: Int
    /// How often the producer waited for room in the body buffer (a debug counter).
    package var producerWaits: Int
    /// The most bytes the body buffer held at once (a debug counter).
    package var peakBufferedBytes: Int

    /// Whether the transaction applied.
    public var applied: Bool { result.status == "applied" }
}
