/// What a store record holds. The raw value is written to disk: never renumber a case.
public enum RecordKind: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// A content chunk, keyed by its 32-byte SHA-256 ``ChunkID``.
    case chunk = 1
    /// A file's manifest (the ordered chunks of its content), keyed by the 20-byte git blob id.
    case manifest = 2
    /// A git tree object in git's byte format, keyed by its 20-byte id.
    case tree = 3
    /// A git commit object in git's byte format, keyed by its 20-byte id.
    case commit = 4
    /// A git annotated tag object, keyed by its 20-byte id.
    case tag = 5

    /// The length in bytes of the ids of this kind.
    public var idLength: Int {
        switch self {
        case .chunk: ChunkID.byteCount
        case .manifest, .tree, .commit, .tag: ObjectID.byteCount
        }
    }

    public var description: String {
        switch self {
        case .chunk: "chunk"
        case .manifest: "manifest"
        case .tree: "tree"
        case .commit: "commit"
        case .tag: "tag"
        }
    }

    /// Parses the lower-case name printed by ``description``.
    public init?(name: String) {
        guard let kind = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = kind
    }
}

/// The key of a store record: its kind and its id (32 bytes for chunks, 20 for git objects).
public struct RecordKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The kind of record.
    public let kind: RecordKind
    @usableFromInline let w0: UInt64
    @usableFromInline let w1: UInt64
    @usableFromInline let w2: UInt64
    @usableFromInline let w3: UInt64

    /// The key of a chunk.
    public init(chunk id: ChunkID) {
        kind = .chunk
        (w0, w1, w2, w3) = (id.w0, id.w1, id.w2, id.w3)
    }

    /// The key of a git-keyed record (manifest, tree, commit, tag).
    /// - Precondition: `kind` is not ``RecordKind/chunk``.
    public init(_ kind: RecordKind, object id: ObjectID) {
        precondition(kind != .chunk, "chunks are keyed by ChunkID")
        self.kind = kind
        (w0, w1, w2, w3) = (id.w0, id.w1, id.w2, 0)
    }

    /// Creates a key from a kind and the id's bytes.
    /// - Returns: `nil` when the byte count does not match the kind's id length.
    public init?(kind: RecordKind, idBytes: some Collection<UInt8>) {
        switch kind {
        case .chunk:
            guard let id = ChunkID(bytes: idBytes) else { return nil }
            self.init(chunk: id)
        case .manifest, .tree, .commit, .tag:
            guard let id = ObjectID(bytes: idBytes) else { return nil }
            self.init(kind, object: id)
        }
    }

    /// The chunk id, when this is a chunk's key.
    public var chunkID: ChunkID? {
        kind == .chunk ? ChunkID(bytes: WordPacker.bytes(of: [w0, w1, w2, w3], count: 32)) : nil
    }

    /// The git object id, when this is a git-keyed record.
    public var objectID: ObjectID? {
        kind == .chunk ? nil : ObjectID(bytes: WordPacker.bytes(of: [w0, w1, w2], count: 20))
    }

    /// The id's bytes (32 for chunks, 20 otherwise).
    public var idBytes: [UInt8] { WordPacker.bytes(of: [w0, w1, w2, w3], count: kind.idLength) }

    /// `kind:hex`, as the CLI prints and parses it.
    public var description: String { "\(kind):\(Hex.encode(idBytes))" }

    /// Parses `kind:hex` or, for chunks, a bare 64-digit hex id.
    public init?(parsing text: String) {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty else { return nil }
        if parts.count == 1 {
            guard let id = ChunkID(hex: parts[0]) else { return nil }
            self.init(chunk: id)
            return
        }
        guard let kind = RecordKind(name: String(parts[0])), let bytes = Hex.decode(parts[1]) else { return nil }
        self.init(kind: kind, idBytes: bytes)
    }

    public static func < (lhs: RecordKey, rhs: RecordKey) -> Bool {
        (lhs.kind.rawValue, lhs.w0, lhs.w1, lhs.w2, lhs.w3) < (rhs.kind.rawValue, rhs.w0, rhs.w1, rhs.w2, rhs.w3)
    }
}
