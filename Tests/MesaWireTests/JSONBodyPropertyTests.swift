import Foundation
import MesaCore
import MesaWire
import PropertyBased
import Testing

// Property tests of the JSON bodies clients send (SyncModels.swift, RESTModels.swift) and of the error body. Every
// generated value encodes and decodes back equal; hostile input (random bytes, JSON of the wrong shape, truncated or
// mutated encodings) is refused by `JSONDecoder` with an error, or decodes to a value that itself round-trips.

/// Generators of the fields of request bodies.
private enum FieldGen {
    /// Characters JSON has to escape, path-like and non-ASCII characters, and zero-width ones; text of them.
    static let characters = Array("aZ09 _-./\\\"'\n\r\t\u{0}\u{1f}\u{7f}é€😀\u{200C}\u{FEFF}{}[]:,%~") as [Character]
    static let text = Gen<Character?>.element(of: characters).map { $0! }.string(of: 0...16)

    static let hex = Gen<Character?>.element(of: Array("0123456789abcdef") as [Character]).map { $0! }
    /// A 40-digit object id, or sometimes arbitrary text where an id is expected.
    static let objectID = zip(Gen.bool(0.8), hex.string(of: 40), text).map { valid, id, other in valid ? id : other }
    /// A record key as `kind:hex`.
    static let recordKey = zip(Gen<RecordKind>.case, Gen.uint8().array(of: ChunkID.byteCount)).map { kind, bytes in
        RecordKey(kind: kind, idBytes: bytes.prefix(kind.idLength))!.description
    }
    static let key = zip(Gen.bool(0.9), recordKey, text).map { valid, key, other in valid ? key : other }
    static let keys = key.array(of: 0...5)
    static let tags = zip(text, text).dictionary(ofAtMost: 0...4)

    static let signature = zip(text, text.optional, text.optional).map { name, email, date in
        MesaWire.Signature(name: name, email: email, date: date)
    }
    static let file = zip(text, text.optional, text.optional, text.optional, text.optional)
        .map { path, content, encoding, action, mode in
            FileOperation(path: path, content: content, encoding: encoding, action: action, mode: mode)
        }
    static let resolution = zip(text, text.optional, text.optional).map { path, content, take in
        Resolution(path: path, content: content, take: take)
    }

    /// Any JSON value, nested a few levels, whose objects mostly use the keys of the request bodies.
    static let json = Generator<JSONValue, Shrink.None<JSONValue>> { rng in randomJSON(depth: 3, using: &rng) }

    private static let keyNames = [
        "revisions", "revision", "path", "inline_max_bytes", "roots", "depth", "have", "keys", "subtree", "tree",
        "max_bytes", "max_file_bytes", "changes", "bookmarks", "change_id", "expected_commit", "commit", "parents",
        "name", "expected_change", "change", "base_change_id", "message", "author", "committer", "files", "content",
        "encoding", "action", "mode", "email", "date", "base_commit_oid", "resolutions", "take", "default_bookmark",
        "tags", "target", "source", "delete_source", "allow_conflicted", "scopes", "repo_ids", "expires_in_seconds",
        "allow_backwards", "error", "code", "details", "trace_id", "upstream",
    ]

    private static func randomJSON(depth: Int, using rng: inout some RandomNumberGenerator) -> JSONValue {
        switch Int.random(in: 0...(depth > 0 ? 6 : 3), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2:
            let choices: [Double] = [0, -1, 1.5, 1e300, -1e-300, 4_294_967_296, 9_007_199_254_740_992]
            return .number(
                Bool.random(using: &rng)
                    ? choices.randomElement(using: &rng)! : Double(Int32.random(in: .min ... .max, using: &rng))
            )
        case 3:
            let characters = Array("ab:/.\\\"\n\u{0}é😀")
            return .string(
                String((0..<Int.random(in: 0...8, using: &rng)).map { _ in characters.randomElement(using: &rng)! })
            )
        case 4:
            var items: [JSONValue] = []
            for _ in 0..<Int.random(in: 0...3, using: &rng) { items.append(randomJSON(depth: depth - 1, using: &rng)) }
            return .array(items)
        default:
            var object: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                object[keyNames.randomElement(using: &rng)!] = randomJSON(depth: depth - 1, using: &rng)
            }
            return .object(object)
        }
    }
}

/// Generators of whole bodies.
private enum BodyGen {
    static let resolve = zip(FieldGen.text.array(of: 0...4), Gen.int()).map { revisions, wait in
        ResolveRequest(revisions: revisions, waitMilliseconds: wait)
    }
    static let lookup = zip(FieldGen.text, FieldGen.text, Gen.int()).map { revision, path, inline in
        LookupRequest(revision: revision, path: path, inlineMaxBytes: inline)
    }
    static let trees = zip(
        FieldGen.objectID.array(of: 0...3),
        Gen.int().optional,
        FieldGen.objectID.array(of: 0...3).optional
    )
    .map { roots, depth, have in TreesRequest(roots: roots, depth: depth, have: have) }
    static let subtree = zip(FieldGen.objectID, Gen.int64(), Gen.int64(), FieldGen.keys.optional)
        .map { tree, maxBytes, maxFileBytes, have in
            SubtreeContent(tree: tree, maxBytes: maxBytes, maxFileBytes: maxFileBytes, have: have)
        }
    static let objects = zip(FieldGen.keys, subtree.optional).map { keys, subtree in
        ObjectsRequest(keys: keys, subtree: subtree)
    }
    static let have = FieldGen.keys.map(HaveRequest.init)
    static let changeUpdate = zip(
        FieldGen.text,
        FieldGen.objectID.optional,
        FieldGen.objectID,
        FieldGen.text.array(of: 0...2)
    )
    .map { id, expected, commit, parents in
        ChangeUpdate(changeID: id, expectedCommit: expected, commit: commit, parents: parents)
    }
    static let bookmarkUpdate = zip(FieldGen.text, FieldGen.text.optional, FieldGen.text)
        .map { name, expected, change in BookmarkUpdate(name: name, expectedChange: expected, change: change) }
    static let push = zip(changeUpdate.array(of: 0...3), bookmarkUpdate.array(of: 0...3)).map(PushTransaction.init)
    static let createChange = zip(
        FieldGen.text,
        FieldGen.text.optional,
        FieldGen.signature.optional,
        FieldGen.signature.optional,
        FieldGen.file.array(of: 0...3).optional
    ).map { base, message, author, committer, files in
        CreateChangeRequest(baseChangeID: base, message: message, author: author, committer: committer, files: files)
    }
    static let updateChange = zip(
        FieldGen.text.optional,
        FieldGen.signature.optional,
        FieldGen.signature.optional,
        FieldGen.file.array(of: 0...3).optional,
        FieldGen.objectID.optional,
        FieldGen.resolution.array(of: 0...2).optional
    ).map { message, author, committer, files, base, resolutions in
        UpdateChangeRequest(
            message: message,
            author: author,
            committer: committer,
            files: files,
            baseCommitOID: base,
            resolutions: resolutions
        )
    }
    static let createRepo = zip(FieldGen.text.optional, FieldGen.text.optional, FieldGen.tags.optional)
        .map { name, bookmark, tags in CreateRepoRequest(name: name, defaultBookmark: bookmark, tags: tags) }
    static let updateRepo = zip(
        FieldGen.text.optional,
        FieldGen.text.optional,
        zip(FieldGen.text, FieldGen.text.optional).dictionary(ofAtMost: 0...4).optional
    ).map { name, bookmark, tags in UpdateRepoRequest(name: name, defaultBookmark: bookmark, tags: tags) }
    static let merge = zip(
        FieldGen.text,
        FieldGen.text,
        Gen.bool.optional,
        Gen.bool.optional,
        FieldGen.text.optional,
        FieldGen.resolution.array(of: 0...2).optional
    ).map { target, source, delete, conflicted, message, resolutions in
        MergeRequest(
            target: target,
            source: source,
            deleteSource: delete,
            allowConflicted: conflicted,
            message: message,
            resolutions: resolutions
        )
    }
    static let createAPIKey = zip(
        FieldGen.text.optional,
        Gen<Scope>.case.array(of: 0...3).optional,
        FieldGen.text.array(of: 0...2).optional,
        Gen.int().optional,
        FieldGen.tags.optional
    ).map { name, scopes, repos, expires, tags in
        CreateAPIKeyRequest(name: name, scopes: scopes, repoIDs: repos, expiresInSeconds: expires, tags: tags)
    }
    static let createBookmark = zip(FieldGen.text, FieldGen.text).map(CreateBookmarkRequest.init)
    static let moveBookmark = zip(FieldGen.text, Gen.bool).map { change, backwards in
        MoveBookmarkRequest(changeID: change, allowBackwards: backwards)
    }
    static let errorBody = zip(
        FieldGen.text,
        FieldGen.text,
        zip(FieldGen.text, FieldGen.json).dictionary(ofAtMost: 0...3).optional,
        FieldGen.text.optional
    )
    .map { code, message, details, trace in ErrorBody(code: code, message: message, details: details, traceID: trace) }
}

/// The bodies under test.
enum WireBody: String, CaseIterable, Sendable {
    case resolve, lookup, trees, objects, have, push
    case createChange, updateChange, createRepo, updateRepo, merge, createAPIKey, createBookmark, moveBookmark
    case errorBody

    /// Runs `check` with this body's type and generator.
    func run(_ check: some BodyCheck) async {
        switch self {
        case .resolve: await check.run(BodyGen.resolve)
        case .lookup: await check.run(BodyGen.lookup)
        case .trees: await check.run(BodyGen.trees)
        case .objects: await check.run(BodyGen.objects)
        case .have: await check.run(BodyGen.have)
        case .push: await check.run(BodyGen.push)
        case .createChange: await check.run(BodyGen.createChange)
        case .updateChange: await check.run(BodyGen.updateChange)
        case .createRepo: await check.run(BodyGen.createRepo)
        case .updateRepo: await check.run(BodyGen.updateRepo)
        case .merge: await check.run(BodyGen.merge)
        case .createAPIKey: await check.run(BodyGen.createAPIKey)
        case .createBookmark: await check.run(BodyGen.createBookmark)
        case .moveBookmark: await check.run(BodyGen.moveBookmark)
        case .errorBody: await check.run(BodyGen.errorBody)
        }
    }
}

/// A property checked for each body type.
protocol BodyCheck {
    func run<Body: Codable & Equatable & Sendable>(_ values: Generator<Body, some Sequence>) async
}

/// Encoding then decoding gives the value back.
private struct RoundTrip: BodyCheck {
    func run<Body: Codable & Equatable & Sendable>(_ values: Generator<Body, some Sequence>) async {
        await propertyCheck(count: 200, input: values) { value in
            let data = try JSONEncoder().encode(value)
            #expect(
                try JSONDecoder().decode(Body.self, from: data) == value,
                "\(String(decoding: data, as: UTF8.self))"
            )
        }
    }
}

/// Hostile input is refused with an error, or decodes to a value that round-trips.
private struct HostileInput: BodyCheck {
    func run<Body: Codable & Equatable & Sendable>(_ values: Generator<Body, some Sequence>) async {
        let noise = zip(Gen.bool, Gen.uint8().array(of: 0...64)).map { json, bytes in
            // Half of the noise opens like a JSON object, so the decoder gets past the first byte.
            json ? Array("{\"".utf8) + bytes : bytes
        }
        let edits = zip(Gen.int(in: 0...Int.max), Gen.uint8()).array(of: 1...3)
        await propertyCheck(count: 150, input: zip(values, noise, FieldGen.json), edits, Gen.int(in: 0...Int.max)) {
            inputs,
            edits,
            cut in
            let (value, noise, shape) = inputs
            let encoded = Array(try JSONEncoder().encode(value))

            // Random bytes, and valid JSON of random shapes.
            expectRefusedOrStable(Body.self, noise)
            expectRefusedOrStable(Body.self, Array(try JSONEncoder().encode(shape)))

            // Every body is a JSON object, so every strict prefix of an encoding is incomplete JSON.
            let truncated = Array(encoded.prefix(cut % encoded.count))
            #expect(throws: (any Error).self, "\(String(decoding: truncated, as: UTF8.self))") {
                try JSONDecoder().decode(Body.self, from: Data(truncated))
            }

            // An encoding with a few bytes replaced.
            var mutated = encoded
            for (position, byte) in edits { mutated[position % mutated.count] = byte }
            expectRefusedOrStable(Body.self, mutated)

            // A field given a value of another JSON type (not null: optional fields accept it) is refused.
            let fields = try JSONDecoder().decode([String: JSONValue].self, from: Data(encoded))
            if !fields.isEmpty {
                let names = fields.keys.sorted()
                let name = names[cut % names.count]
                var wrong = fields
                wrong[name] = otherKind(than: fields[name] ?? .null, pick: cut)
                let bytes = try JSONEncoder().encode(wrong)
                #expect(throws: (any Error).self, "\(String(decoding: bytes, as: UTF8.self))") {
                    try JSONDecoder().decode(Body.self, from: bytes)
                }
            }
        }
    }

    /// A non-null value of another JSON kind than `value`.
    private func otherKind(than value: JSONValue, pick: Int) -> JSONValue {
        let candidates: [JSONValue] = [.bool(true), .number(7), .string("x"), .array([]), .object([:])].filter {
            candidate in
            switch (candidate, value) {
            case (.bool, .bool), (.number, .number), (.string, .string), (.array, .array), (.object, .object): false
            default: true
            }
        }
        return candidates[pick % candidates.count]
    }
}

/// `bytes` either fails to decode as `Body`, or decodes to a value that encodes and decodes back equal.
private func expectRefusedOrStable<Body: Codable & Equatable>(
    _ type: Body.Type,
    _ bytes: [UInt8],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let value = try? JSONDecoder().decode(Body.self, from: Data(bytes)) else { return }
    do {
        let again = try JSONDecoder().decode(Body.self, from: try JSONEncoder().encode(value))
        #expect(again == value, "accepted \(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
    } catch {
        Issue.record(
            "accepted \(String(decoding: bytes, as: UTF8.self)) but cannot round-trip it: \(error)",
            sourceLocation: sourceLocation
        )
    }
}

@Suite struct JSONBodyPropertyTests {
    @Test(arguments: WireBody.allCases) func bodiesEncodeAndDecodeBackEqual(_ body: WireBody) async {
        await body.run(RoundTrip())
    }

    @Test(arguments: WireBody.allCases) func hostileJSONIsRefusedOrDecodesToAStableValue(_ body: WireBody) async {
        await body.run(HostileInput())
    }
}
