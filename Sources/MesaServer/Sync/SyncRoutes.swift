import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import MesaCore
import MesaWire
import NIOCore

// The sync protocol's HTTP side (docs/Protocol.md). Fetch answers stream: records are read from the store in
// batches on the blocking pool and written as they come, so a large subtree never sits whole in memory, and a failure
// after the first byte becomes an error frame. A push body is decoded incrementally as it arrives; records are
// verified and stored in batches, and nothing becomes visible to the org unless the closing transaction applies.

enum SyncRoutes {
    static let contentType = "application/x-mesa-sync"
    /// Records read per hop to the blocking pool.
    static let batchSize = 64

    static func register(on group: RouterGroup<MesaRequestContext>, services: ServerServices) {
        group.get(":org/:repo/sync/capabilities") { _, context in
            _ = try await RepoRoutes.resolve(context, services: services, scope: .read)
            let capabilities = SyncCapabilities(
                protocolVersion: SyncCapabilities.currentVersion, minimumProtocolVersion: 1, limits: .standard,
                features: ["lookup", "trees", "subtree-content", "push", "resolve-wait"])
            return try JSONResponse.make(capabilities)
        }

        group.post(":org/:repo/sync/resolve") { request, context in
            let sync = try await operations(context, services: services, scope: .read)
            let body = try await RouteSupport.decode(ResolveRequest.self, from: request, context: context)
            let wait = Duration.milliseconds(min(max(body.waitMilliseconds ?? 0, 0), ResolveRequest.maximumWait))
            let deadline = ContinuousClock.now + wait
            let revisions = services.metadata.revisions
            while true {
                // The version before resolving: a write after it wakes the wait below, none is missed.
                let version = revisions.version(of: sync.repoID)
                let response = ResolveResponse(
                    resolutions: try await services.blocking { try body.revisions.map(sync.resolve) })
                // A canonical text, not the JSON: Foundation's encoder does not keep key order on Linux.
                let canonical = response.resolutions.map { "\($0.revision)\t\($0.changeID)\t\($0.commit)" }.joined(separator: "\n")
                let tag = "\"" + Hex.encode(SHA256.hash(data: Array(canonical.utf8)).prefix(16)) + "\""
                guard request.headers[.ifNoneMatch] == tag else {
                    var withTag = try JSONResponse.make(response)
                    withTag.headers[.eTag] = tag
                    return withTag
                }
                let remaining = deadline - ContinuousClock.now
                guard remaining > .zero, !Task.isCancelled else {
                    var headers = HTTPFields()
                    headers[.eTag] = tag
                    return Response(status: .notModified, headers: headers)
                }
                await revisions.wait(for: sync.repoID, after: version, timeout: remaining)
            }
        }

        group.post(":org/:repo/sync/lookup") { request, context in
            let sync = try await operations(context, services: services, scope: .read)
            let body = try await RouteSupport.decode(LookupRequest.self, from: request, context: context)
            let (header, keys) = try await services.blocking { try sync.lookup(body) }
            return stream(header: try JSONEncoder().encode(header), keys: keys, sync: sync, services: services)
        }

        group.post(":org/:repo/sync/trees") { request, context in
            let sync = try await operations(context, services: services, scope: .read)
            let body = try await RouteSupport.decode(TreesRequest.self, from: request, context: context)
            let keys = try await services.blocking { try sync.trees(body) }
            return stream(header: nil, keys: keys, sync: sync, services: services)
        }

        group.post(":org/:repo/sync/objects") { request, context in
            let sync = try await operations(context, services: services, scope: .read)
            let body = try await RouteSupport.decode(ObjectsRequest.self, from: request, context: context)
            try checkKeyCount(body.keys.count)
            let keys = try await services.blocking { try sync.objects(body) }
            return stream(header: nil, keys: keys, sync: sync, services: services)
        }

        group.post(":org/:repo/sync/have") { request, context in
            let sync = try await operations(context, services: services, scope: .read)
            let body = try await RouteSupport.decode(HaveRequest.self, from: request, context: context)
            try checkKeyCount(body.keys.count)
            return try JSONResponse.make(HaveResponse(missing: try await services.blocking { try sync.missing(body) }))
        }

        group.post(":org/:repo/sync/push") { request, context in
            let sync = try await operations(context, services: services, scope: .write)
            return try await push(request, sync: sync, services: services)
        }
    }

    private static func checkKeyCount(_ count: Int) throws(APIError) {
        guard count <= SyncLimits.standard.maxKeysPerRequest else {
            throw .badRequest("at most \(SyncLimits.standard.maxKeysPerRequest) keys per request")
        }
    }

    private static func operations(
        _ context: MesaRequestContext, services: ServerServices, scope: Scope
    ) async throws -> SyncOperations {
        let (repo, org) = try await RepoRoutes.resolve(context, services: services, scope: scope)
        return SyncOperations(
            operations: try await services.blocking { try RepoOperations(services: services, repo: repo, org: org) })
    }

    /// A frame stream: the magic, an optional JSON header, the records of `keys` in batches, then the end frame (or
    /// an error frame when reading fails part way).
    static func stream(
        header: Data?, keys: [RecordKey], sync: SyncOperations, services: ServerServices,
        status: HTTPResponse.Status = .ok, trailer: Data? = nil
    ) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = contentType
        let body = ResponseBody { writer in
            var head = SyncFrameEncoder.magic
            if let header { head += SyncFrameEncoder.encode(.json(Array(header))) }
            try await writer.write(ByteBuffer(bytes: head))
            var sent: UInt32 = 0
            do {
                var start = 0
                while start < keys.count {
                    let batch = keys[start..<min(keys.count, start + batchSize)]
                    let records = try await services.blocking { try sync.stored(batch) }
                    var bytes: [UInt8] = []
                    for record in records { bytes += SyncFrameEncoder.encode(.record(record)) }
                    try await writer.write(ByteBuffer(bytes: bytes))
                    sent += UInt32(records.count)
                    start += batchSize
                }
                try await writer.write(ByteBuffer(bytes: SyncFrameEncoder.encode(.end(recordCount: sent))))
            } catch {
                let mapped = ErrorMiddleware<MesaRequestContext>.map(error, logger: services.logger)
                let frame = SyncFrame.error(ErrorBody(code: mapped.code, message: mapped.message))
                try await writer.write(ByteBuffer(bytes: SyncFrameEncoder.encode(frame)))
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// Reads a push stream, verifying and storing records in batches, then applies its transaction.
    ///
    /// A push the server refuses (a record or transaction that breaks a rule, a malformed stream, bytes after the end
    /// frame) has what it staged dropped, so nothing it carried stays referenced and garbage collection reclaims it.
    /// A push the transport cut short, or that the client aborted with an error frame, keeps its verified records
    /// staged for its grace period, so the client's next attempt does not send them again (docs/Protocol.md).
    private static func push(_ request: Request, sync: SyncOperations, services: ServerServices) async throws -> Response {
        var decoder = SyncFrameDecoder()
        var pending: [SyncRecord] = []
        var pendingBytes = 0
        var state = SyncOperations.PushState()
        var transaction: PushTransaction?
        var received = 0
        var keepStaged = false
        func flush() async throws {
            guard !pending.isEmpty else { return }
            let batch = pending
            let before = state
            // A batch refused part way stages none of its records (they are staged together at its end), but what
            // it stored is in the state's write log, to be taken back.
            let (next, failure) = try await services.blocking { () -> (SyncOperations.PushState, (any Error)?) in
                var next = before
                do {
                    try sync.receive(batch, state: &next)
                    return (next, nil)
                } catch {
                    return (next, error)
                }
            }
            state = next
            if let failure { throw failure }
            pending.removeAll()
            pendingBytes = 0
        }
        do {
            do {
                for try await buffer in request.body {
                    received += buffer.readableBytes
                    guard received <= SyncLimits.standard.maxPushBytes else {
                        throw APIError(.contentTooLarge, "PAYLOAD_TOO_LARGE", "a push may carry at most 2 GiB")
                    }
                    decoder.feed(buffer.readableBytesView)
                    while let frame = try decoder.next() {
                        switch frame {
                        case .record(let record):
                            guard transaction == nil else { throw APIError.badRequest("records after the transaction") }
                            pending.append(record)
                            pendingBytes += record.stored.count
                            if pendingBytes >= 8 << 20 { try await flush() }
                        case .json(let bytes):
                            guard transaction == nil else { throw APIError.badRequest("a push carries one transaction") }
                            transaction = try JSONDecoder().decode(PushTransaction.self, from: Data(bytes))
                        case .end:
                            // Reading goes on to the body's end: anything after the end frame refuses the push.
                            continue
                        case .error(let body):
                            keepStaged = true
                            throw APIError.badRequest("the client aborted the push: \(body.error.message)")
                        }
                    }
                }
                try decoder.finish()
            } catch let error as SyncStreamError {
                if case .truncated = error {
                    // What arrived whole and verified is kept (staged) for the client's next attempt.
                    keepStaged = true
                    try await flush()
                }
                throw APIError.badRequest("the push stream is not valid: \(error)")
            }
            try await flush()
            guard let transaction else { throw APIError.badRequest("the push stream has no transaction") }
            let applied = state
            let conflicts = try await services.blocking { try sync.apply(transaction, state: applied) }
            let result = PushResult(
                status: conflicts.isEmpty ? "applied" : "conflict", stored: state.stored,
                conflicts: conflicts.map(Self.json))
            let material = conflicts.isEmpty ? [] : try await services.blocking { try sync.mergeMaterial(conflicts) }
            return stream(
                header: try JSONEncoder().encode(result), keys: material, sync: sync, services: services,
                status: conflicts.isEmpty ? .ok : .conflict)
        } catch {
            if !keepStaged {
                let refused = state
                try? await services.blocking { try sync.dropStaged(refused) }
            }
            throw error
        }
    }

    private static func json(_ conflict: CatalogConflict) -> PushConflict {
        switch conflict {
        case .change(let id, let expected, let current):
            PushConflict(kind: "change", name: id.description, expected: expected?.hex, current: current?.hex)
        case .bookmark(let name, let expected, let current):
            PushConflict(kind: "bookmark", name: name, expected: expected?.description, current: current?.description)
        }
    }
}
