import Foundation
import MesaCore
import MesaKit
import MesaTesting
import MesaWire
import Synchronization
import Testing

/// Frame streams and JSON answers of the sync protocol, as a server writes them.
private enum SyncFixture {
    static func capabilities(minimum: Int = 1, maximum: Int = 1, maxKeys: Int = 100_000) -> String {
        let limits = SyncLimits(
            maxRecordBytes: 64 << 20, maxJSONBytes: 16 << 20, maxPushBytes: 2 << 30, maxKeysPerRequest: maxKeys)
        let capabilities = SyncCapabilities(
            protocolVersion: maximum, minimumProtocolVersion: minimum, limits: limits, features: ["push"])
        return String(decoding: (try? JSONEncoder().encode(capabilities)) ?? Data(), as: UTF8.self)
    }

    /// `count` chunk records of `size` seeded bytes each; ids are arbitrary (the client does not hash them).
    static func records(_ count: Int, size: Int, seed: UInt64 = 1) -> [SyncRecord] {
        var random = SeededBytes(seed: seed)
        return (0..<count).map { index in
            var id = random.bytes(32)
            id[0] = UInt8(truncatingIfNeeded: index)
            let bytes = random.bytes(size)
            // 32 bytes always make a chunk id.
            return SyncRecord(
                key: RecordKey(chunk: ChunkID(bytes: id)!), codec: 0, rawLength: UInt32(size), stored: bytes)
        }
    }

    static func stream(_ frames: [SyncFrame]) -> [UInt8] {
        frames.reduce(SyncFrameEncoder.magic) { $0 + SyncFrameEncoder.encode($1) }
    }

    static func json(_ value: some Encodable) -> [UInt8] {
        Array((try? JSONEncoder().encode(value)) ?? Data())
    }

    /// A chunked answer that sends `bytes` in pieces of `piece` bytes (frames cut at arbitrary places).
    static func pieces(_ bytes: [UInt8], _ piece: Int, status: Int = 200) -> LoopbackHTTPServer.Response {
        .init(
            status: status, headers: [.init("Content-Type", "application/x-mesa-sync")],
            body: .chunked({ writer in
                var start = 0
                while start < bytes.count {
                    try writer.write(Array(bytes[start..<min(bytes.count, start + piece)]))
                    start += piece
                }
            }))
    }

    /// A server answering capabilities with `capabilities` and every other sync call with `answer`.
    static func server(
        capabilities: String = SyncFixture.capabilities(),
        _ answer: @escaping @Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response
    ) throws -> LoopbackHTTPServer {
        try LoopbackHTTPServer { request in
            request.rawPath.hasSuffix("/sync/capabilities") ? .json(200, capabilities) : answer(request)
        }
    }
}

/// What a failing record source throws.
private struct SourceError: Error {}

/// Records from a sequence that can pause before chosen records (to starve the upload) or fail part way.
private struct PacedRecords: AsyncSequence, Sendable {
    typealias Element = SyncRecord
    let records: [SyncRecord]
    var pauseBefore: Set<Int> = []
    var failAt: Int?

    func makeAsyncIterator() -> Iterator { Iterator(source: self) }

    struct Iterator: AsyncIteratorProtocol {
        let source: PacedRecords
        var index = 0

        mutating func next() async throws -> SyncRecord? {
            if index == source.failAt { throw SourceError() }
            guard index < source.records.count else { return nil }
            if source.pauseBefore.contains(index) { try await Task.sleep(for: .milliseconds(30)) }
            defer { index += 1 }
            return source.records[index]
        }
    }
}

@Suite struct SyncClientTests {
    @Test func recordsDecodeAsTheyArriveWhateverTheReadBoundaries() async throws {
        let records = SyncFixture.records(40, size: 3000)
        let body = SyncFixture.stream(records.map { .record($0) } + [.end(recordCount: 40)])
        let server = try SyncFixture.server { _ in SyncFixture.pieces(body, 7) }
        let sync = makeClient(server).sync("demo")
        var received: [SyncRecord] = []
        for try await record in try await sync.objects(keys: records.map(\.key)) { received.append(record) }
        #expect(received == records)
        let query = try #require(server.requests.last)
        #expect(query.rawPath == "/v1/acme/demo/sync/objects")
        let sent = try JSONDecoder().decode(ObjectsRequest.self, from: Data(query.body))
        #expect(sent.keys == records.map(\.key.description))
    }

    @Test func aStreamCutBeforeItsEndFrameIsAnErrorNeverAShorterAnswer() async throws {
        let records = SyncFixture.records(3, size: 100)
        let cut = SyncFixture.stream(records.map { .record($0) })
        let miscounted = SyncFixture.stream(records.map { .record($0) } + [.end(recordCount: 5)])
        let server = try SyncFixture.server { request in
            SyncFixture.pieces(request.rawPath.hasSuffix("/trees") ? cut : miscounted, 50)
        }
        let sync = makeClient(server).sync("demo")
        var delivered = 0
        do {
            for try await _ in try await sync.trees(roots: [ObjectID(hex: String(repeating: "a", count: 40))!]) {
                delivered += 1
            }
            Issue.record("a truncated stream ended normally")
        } catch {
            #expect(error == .syncStream(.truncated))
        }
        #expect(delivered == 3)
        await #expect(throws: KitError.syncStream(.countMismatch(expected: 5, received: 3))) {
            _ = try await sync.objects(keys: records.map(\.key)).collect()
        }
    }

    @Test func anErrorFrameIsATypedError() async throws {
        let records = SyncFixture.records(2, size: 100)
        let body = SyncFixture.stream([
            .record(records[0]), .error(ErrorBody(code: "INTERNAL", message: "disk on fire")),
        ])
        let server = try SyncFixture.server { _ in SyncFixture.pieces(body, 1000) }
        let stream = try await makeClient(server).sync("demo").objects(keys: records.map(\.key))
        var iterator = stream.makeAsyncIterator()
        #expect(try await iterator.next() == records[0])
        do {
            _ = try await iterator.next()
            Issue.record("the error frame was not reported")
        } catch {
            #expect(error == .streamError(code: "INTERNAL", message: "disk on fire"))
            #expect(error.apiCode == "INTERNAL")
        }
    }

    @Test func anIncompatibleServerIsRefusedBeforeAnyTransfer() async throws {
        let server = try SyncFixture.server(capabilities: SyncFixture.capabilities(minimum: 2, maximum: 3)) { _ in
            SyncFixture.pieces(SyncFixture.stream([.end(recordCount: 0)]), 100)
        }
        let sync = makeClient(server).sync("demo")
        let expected = KitError.incompatibleProtocol(client: 1, serverMinimum: 2, serverMaximum: 3)
        await #expect(throws: expected) { _ = try await sync.objects(keys: []) }
        await #expect(throws: expected) {
            _ = try await sync.push(records: SyncFixture.records(1, size: 10), transaction: .init(changes: [], bookmarks: []))
        }
        await #expect(throws: expected) { _ = try await sync.resolve(["bookmark:main"]) }
        #expect(server.requests.allSatisfy { $0.rawPath.hasSuffix("/sync/capabilities") })
        #expect("\(expected)".contains("upgrade the client"))
    }

    @Test func resolveSendsTheRememberedETagAndA304MeansUnchanged() async throws {
        let resolution = RevisionResolution(
            revision: "bookmark:main", changeID: String(repeating: "k", count: 32),
            commit: String(repeating: "1", count: 40), rootTree: String(repeating: "2", count: 40), commitTime: 7)
        let answer = SyncFixture.json(ResolveResponse(resolutions: [resolution]))
        let server = try SyncFixture.server { request in
            if request.header("If-None-Match") == "\"t1\"" { return .init(status: 304, headers: [.init("ETag", "\"t1\"")]) }
            return .init(
                status: 200, headers: [.init("Content-Type", "application/json"), .init("ETag", "\"t1\"")],
                body: .bytes(answer))
        }
        let sync = makeClient(server).sync("demo")
        let first = try await sync.resolve(["bookmark:main"])
        #expect(first == ResolveResult(resolutions: [resolution], changed: true))
        let second = try await sync.resolve(["bookmark:main"])
        #expect(second == ResolveResult(resolutions: [resolution], changed: false))
        let resolves = server.requests.filter { $0.rawPath.hasSuffix("/sync/resolve") }
        #expect(resolves.map { $0.header("If-None-Match") } == [nil, "\"t1\""])
        // Another query does not reuse the tag, and an unconditional one asks afresh.
        #expect(try await sync.resolve(["bookmark:other"]).changed)
        #expect(try await sync.resolve(["bookmark:main"], conditional: false).changed)
    }

    @Test func haveAndObjectsAskInBatchesOfTheAdvertisedLimit() async throws {
        let records = SyncFixture.records(8, size: 10)
        let server = try SyncFixture.server(capabilities: SyncFixture.capabilities(maxKeys: 3)) { request in
            if request.rawPath.hasSuffix("/sync/have") {
                let keys = (try? JSONDecoder().decode(HaveRequest.self, from: Data(request.body)).keys) ?? []
                // Every other key of the batch is missing.
                return .json(200, String(decoding: SyncFixture.json(HaveResponse(missing: keys.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))), as: UTF8.self))
            }
            let keys = (try? JSONDecoder().decode(ObjectsRequest.self, from: Data(request.body)).keys) ?? []
            let answer = records.filter { keys.contains($0.key.description) }
            return SyncFixture.pieces(SyncFixture.stream(answer.map { .record($0) } + [.end(recordCount: UInt32(answer.count))]), 64)
        }
        let sync = makeClient(server).sync("demo")
        let missing = try await sync.have(keys: records.map(\.key))
        let keys = records.map(\.key)
        #expect(missing == [keys[0], keys[2], keys[3], keys[5], keys[6]])
        #expect(server.requests.filter { $0.rawPath.hasSuffix("/sync/have") }.count == 3)
        #expect(try await sync.have(keys: []) == [])

        #expect(try await sync.objects(keys: keys).collect() == records)
        #expect(server.requests.filter { $0.rawPath.hasSuffix("/sync/objects") }.count == 3)
    }

    /// 300 records of 64 KiB (19 MiB) through a 64 KiB body buffer: the body arrives whole and in order, the
    /// producer waited for room (the buffer is bounded), and pauses before some records starved libcurl's read
    /// callback, which paused the upload until the next write resumed it.
    @Test func aLargePushStreamsThroughASmallBufferWithPausesAndResumes() async throws {
        let records = SyncFixture.records(300, size: 64 << 10, seed: 9)
        let transaction = PushTransaction(
            changes: [ChangeUpdate(changeID: String(repeating: "k", count: 32), expectedCommit: nil, commit: String(repeating: "1", count: 40), parents: [])],
            bookmarks: [BookmarkUpdate(name: "main", expectedChange: nil, change: String(repeating: "k", count: 32))])
        let received = Mutex<(records: [SyncRecord], transaction: PushTransaction?, error: String?)>(([], nil, nil))
        let server = try SyncFixture.server { request in
            var decoder = SyncFrameDecoder()
            decoder.feed(request.body)
            do {
                while let frame = try decoder.next() {
                    switch frame {
                    case .record(let record): received.withLock { $0.records.append(record) }
                    case .json(let bytes):
                        let decoded = try JSONDecoder().decode(PushTransaction.self, from: Data(bytes))
                        received.withLock { $0.transaction = decoded }
                    case .end, .error: break
                    }
                }
                try decoder.finish()
            } catch {
                received.withLock { $0.error = "\(error)" }
                return .error(400, code: "BAD_REQUEST", message: "\(error)")
            }
            let result = PushResult(status: "applied", stored: 300, conflicts: [])
            return SyncFixture.pieces(SyncFixture.stream([.json(SyncFixture.json(result)), .end(recordCount: 0)]), 1000)
        }
        let mesa = Mesa(
            apiKey: Fixture.apiKey, org: Fixture.org, baseURL: server.baseURL,
            configuration: Mesa.Configuration(retry: .fast, maxBufferedBytesPerTransfer: 64 << 10))
        let source = PacedRecords(records: records, pauseBefore: [1, 2, 3, 150])
        let progress = Mutex(0)
        let outcome = try await mesa.sync("demo").push(records: source, transaction: transaction) { report in
            progress.withLock { $0 = report.records }
        }
        #expect(outcome.applied)
        #expect(outcome.recordsSent == 300)
        #expect(progress.withLock { $0 } == 300)
        let (got, gotTransaction, error) = received.withLock { $0 }
        #expect(error == nil)
        #expect(got == records)
        #expect(gotTransaction == transaction)
        let push = try #require(server.requests.last)
        #expect(push.header("Transfer-Encoding")?.lowercased() == "chunked")
        #expect(push.header("Content-Type") == "application/x-mesa-sync")
        #expect(outcome.bytesSent == Int64(push.body.count))
        #expect(outcome.uploadPauses > 0, "the read callback never paused")
        #expect(outcome.producerWaits > 0, "the producer never waited for room")
        #expect(outcome.peakBufferedBytes <= (64 << 10) + (64 << 10) + 64)
    }

    @Test func aConflictAnswerCarriesTheMergeMaterial() async throws {
        let material = SyncFixture.records(2, size: 500)
        let conflict = PushConflict(
            kind: "change", name: String(repeating: "k", count: 32), expected: String(repeating: "1", count: 40),
            current: String(repeating: "2", count: 40))
        let result = PushResult(status: "conflict", stored: 0, conflicts: [conflict])
        let body = SyncFixture.stream([.json(SyncFixture.json(result))] + material.map { .record($0) } + [.end(recordCount: 2)])
        let server = try SyncFixture.server { _ in SyncFixture.pieces(body, 100, status: 409) }
        let outcome = try await makeClient(server).sync("demo").push(
            records: [], transaction: PushTransaction(changes: [], bookmarks: []))
        #expect(!outcome.applied)
        #expect(outcome.result == result)
        #expect(outcome.mergeMaterial == material)
        // The push did not reuse the capabilities call's connection: a dead reused one could not be retried.
        #expect(server.acceptedConnections == 2)
    }

    @Test func aFailingRecordSourceAbortsThePushWithAnErrorFrame() async throws {
        let records = SyncFixture.records(5, size: 1000)
        let sawErrorFrame = Mutex(false)
        let server = try SyncFixture.server { request in
            var decoder = SyncFrameDecoder()
            decoder.feed(request.body)
            while let frame = try? decoder.next() {
                if case .error = frame { sawErrorFrame.withLock { $0 = true } }
            }
            return .error(400, code: "BAD_REQUEST", message: "the client aborted the push")
        }
        do {
            _ = try await makeClient(server).sync("demo").push(
                records: PacedRecords(records: records, failAt: 2), transaction: PushTransaction(changes: [], bookmarks: []))
            Issue.record("a failing source pushed")
        } catch {
            guard case .pushSourceFailed = error else {
                Issue.record("expected pushSourceFailed, got \(error)")
                return
            }
        }
        #expect(sawErrorFrame.withLock { $0 })
    }
}
