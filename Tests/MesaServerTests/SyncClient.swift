import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MesaCore
import MesaServer
import MesaStore
import MesaTesting
import MesaTree
import MesaWire
import NIOCore
import Testing

/// A client-side repository whose records are pushed by hand-built sync streams.
struct ClientRepo {
    let directory: TemporaryDirectory
    let store: ContentStore
    let repository: MesaRepository

    init() throws {
        directory = try TemporaryDirectory(prefix: "mesa-client")
        store = try ContentStore(path: directory.appending("store"))
        repository = try MesaRepository(store: store)
    }

    /// Creates a change with text files on `parent`.
    func change(_ files: [String: String], parent: ChangeID = .root) throws -> ChangeRecord {
        let edits = try files.map { path, text in
            TreeEdit.upsert(path: path, blob: try repository.writeBlob(Array(text.utf8)), mode: .regular)
        }
        return try repository.createChange(
            parents: [parent], edits: edits, message: "test", author: .init(name: "t", email: "t@t", time: 1_700_000_000))
    }

    /// A record in its stored form, ready for a push stream.
    func record(_ key: RecordKey) throws -> SyncRecord {
        let stored = try store.stored(key)
        return SyncRecord(key: key, codec: stored.codec.rawValue, rawLength: stored.rawLength, stored: stored.stored)
    }

    /// A file's records, chunks first then its manifest, and its blob id.
    func blob(_ text: String) throws -> (id: ObjectID, records: [SyncRecord]) {
        let id = try repository.writeBlob(Array(text.utf8))
        let chunks = try repository.manifest(ofBlob: id).chunks.map { try record(RecordKey(chunk: $0.id)) }
        return (id, chunks + [try record(RecordKey(.manifest, object: id))])
    }

    /// Stores `body` unchecked as a git object of `kind` (tree or commit), as a hostile client could, and returns
    /// its record.
    func rawObject(_ kind: RecordKind, _ body: [UInt8]) throws -> SyncRecord {
        let key = RecordKey(kind, object: TreeCodec.objectID(kind: "\(kind)", body: body))
        try store.put(body, key: key)
        return try record(key)
    }

    /// A commit body written by hand for `tree`.
    static func commitBody(tree: ObjectID, parents: [ObjectID] = [], author: String = "A <a@example.com>") -> [UInt8] {
        var text = "tree \(tree.hex)\n"
        for parent in parents { text += "parent \(parent.hex)\n" }
        text += "author \(author) 1700000000 +0000\ncommitter C <c@example.com> 1700000000 +0000\n\nraw\n"
        return Array(text.utf8)
    }

    /// Every record reachable from a commit: the commit, its trees, manifests and chunks.
    func records(of commit: ObjectID) throws -> [SyncRecord] {
        var keys = [RecordKey(.commit, object: commit)]
        let root = try repository.commit(commit).tree
        keys.append(RecordKey(.tree, object: root))
        try repository.walk(root) { (item: TreeWalkEntry) throws(TreeError) -> Bool in
            if item.entry.mode == .directory {
                keys.append(RecordKey(.tree, object: item.entry.id))
            } else {
                keys.append(RecordKey(.manifest, object: item.entry.id))
                keys += try repository.manifest(ofBlob: item.entry.id).chunks.map { RecordKey(chunk: $0.id) }
            }
            return true
        }
        // Chunks first, then manifests, trees bottom-up, the commit last: each record's references come before it.
        let order: [RecordKind] = [.chunk, .manifest, .tree, .commit]
        let sorted = keys.enumerated().sorted {
            let a = order.firstIndex(of: $0.element.kind) ?? 0
            let b = order.firstIndex(of: $1.element.kind) ?? 0
            return a != b ? a < b : ($0.element.kind == .tree ? $0.offset > $1.offset : $0.offset < $1.offset)
        }.map(\.element)
        var seen = Set<RecordKey>()
        return try sorted.filter { seen.insert($0).inserted }.map { key in
            let stored = try store.stored(key)
            return SyncRecord(key: key, codec: stored.codec.rawValue, rawLength: stored.rawLength, stored: stored.stored)
        }
    }
}

func pushBody(_ records: [SyncRecord], _ transaction: PushTransaction) throws -> [UInt8] {
    var bytes = SyncFrameEncoder.magic
    for record in records { bytes += SyncFrameEncoder.encode(.record(record)) }
    bytes += SyncFrameEncoder.encode(.json(Array(try JSONEncoder().encode(transaction))))
    bytes += SyncFrameEncoder.encode(.end(recordCount: UInt32(records.count)))
    return bytes
}

func frames(_ reply: Reply) throws -> [SyncFrame] {
    var decoder = SyncFrameDecoder()
    decoder.feed(Array(reply.body))
    var frames: [SyncFrame] = []
    while let frame = try decoder.next() { frames.append(frame) }
    try decoder.finish()
    return frames
}

extension TestClientProtocol {
    func push(_ body: [UInt8], credential: String, repo: String = "r") async throws -> Reply {
        try await execute(
            uri: "/v1/local/\(repo)/sync/push", method: .post, headers: [.authorization: "Bearer \(credential)"],
            body: ByteBuffer(bytes: body)
        ) { response in
            Reply(status: response.status, body: Data(response.body.readableBytesView), headers: response.headers)
        }
    }
}

