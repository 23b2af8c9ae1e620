import MesaCore

// Pins and manifest claims persist in an append-only log, `pins.log`, replayed on open:
//
//   header: "MESAPINS" (8 bytes), u32 format version (1)
//   entry:  u8 operation (1 pin, 2 unpin, 3 claim, 4 confirm or drop a claim), u8 record kind, 32 id bytes (20-byte
//           ids padded with zeros), u32 CRC-32C of the previous 34 bytes
//
// A claim marks a manifest stored under a blob id that nobody recomputed (ContentStore+Claims.swift).
// A torn last entry fails its checksum and is cut off. The log is rewritten compactly on open when it holds many
// more entries than live pins. Appends become durable with the store's `sync`.

/// The durable sets of pinned record keys and of claimed manifest keys.
struct PinLog {
    static let magic: [UInt8] = Array("MESAPINS".utf8)
    static let version: UInt32 = 1
    static let headerSize: Int64 = 12
    static let entrySize = 38

    private(set) var file: StoreFile
    private var end: Int64
    private let path: String
    private let directory: String
    /// The pinned keys.
    private(set) var pins: Set<RecordKey>
    /// The claimed manifest keys.
    private(set) var claims: Set<RecordKey>
    /// Entries not written yet (``dropClaimLater(_:)``).
    private var pending: [UInt8] = []

    /// Opens (or creates) the log in `directory` and replays it.
    init(directory: String) throws(StoreError) {
        self.directory = directory
        path = directory + "/pins.log"
        file = try StoreFile(path: path, create: true)
        var pins = Set<RecordKey>()
        var claims = Set<RecordKey>()
        let size = try file.size()
        var entries = 0
        if size == 0 {
            try file.write(Self.header(), at: 0)
            end = Self.headerSize
        } else {
            let bytes = try file.read(count: Int(size), at: 0)
            guard bytes.count >= Self.headerSize, Array(bytes[0..<8]) == Self.magic,
                bytes.withUnsafeBytes({ UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) })
                    == Self.version
            else { throw .badFormat(path: path, reason: "not a mesa pin log of a supported version") }
            var offset = Int(Self.headerSize)
            while offset + Self.entrySize <= bytes.count {
                let entry = Array(bytes[offset..<offset + Self.entrySize])
                guard let (operation, key) = Self.decode(entry) else { break }
                switch operation {
                case .pin: pins.insert(key)
                case .unpin: pins.remove(key)
                case .claim: claims.insert(key)
                case .unclaim: claims.remove(key)
                }
                offset += Self.entrySize
                entries += 1
            }
            end = Int64(offset)
            if end < size { try file.truncate(to: end) }
        }
        self.pins = pins
        self.claims = claims
        if entries > 2 * (pins.count + claims.count) + 1024 { try rewrite() }
    }

    /// Records pins or unpins of `keys`; returns the keys whose state changed.
    mutating func set(_ keys: some Sequence<RecordKey>, pinned: Bool) throws(StoreError) -> [RecordKey] {
        try flush()
        var changed: [RecordKey] = []
        var bytes: [UInt8] = []
        for key in keys where pins.contains(key) != pinned {
            if pinned { pins.insert(key) } else { pins.remove(key) }
            changed.append(key)
            bytes += Self.encode(key, pinned ? .pin : .unpin)
        }
        try append(bytes)
        return changed
    }

    /// Records claims of `keys`, or drops them.
    mutating func setClaimed(_ keys: some Sequence<RecordKey>, claimed: Bool) throws(StoreError) {
        var bytes: [UInt8] = []
        for key in keys where claims.contains(key) != claimed {
            if claimed { claims.insert(key) } else { claims.remove(key) }
            bytes += Self.encode(key, claimed ? .claim : .unclaim)
        }
        try append(bytes)
    }

    /// Drops the claim of a record being removed, writing the entry with the next append or ``flush()`` (removal
    /// cannot fail; a claim left behind by a crash names an absent record and is dropped when the store opens).
    mutating func dropClaimLater(_ key: RecordKey) {
        guard claims.remove(key) != nil else { return }
        pending += Self.encode(key, .unclaim)
    }

    /// Writes entries held back by ``dropClaimLater(_:)``.
    mutating func flush() throws(StoreError) { try append([]) }

    private mutating func append(_ bytes: [UInt8]) throws(StoreError) {
        let all = pending + bytes
        guard !all.isEmpty else { return }
        try file.write(all, at: end)
        end += Int64(all.count)
        pending = []
    }

    private mutating func rewrite() throws(StoreError) {
        var bytes = Self.header()
        for key in pins.sorted() { bytes += Self.encode(key, .pin) }
        for key in claims.sorted() { bytes += Self.encode(key, .claim) }
        try StoreDirectory.writeAtomically(bytes, to: path, directory: directory)
        file = try StoreFile(path: path)
        end = Int64(bytes.count)
    }

    private static func header() -> [UInt8] {
        var writer = ByteWriter()
        writer.append(bytes: magic)
        writer.append(version)
        return writer.bytes
    }

    /// What an entry records.
    enum Operation: UInt8 {
        case pin = 1, unpin, claim, unclaim
    }

    private static func encode(_ key: RecordKey, _ operation: Operation) -> [UInt8] {
        let id = key.idBytes
        var writer = ByteWriter(capacity: entrySize)
        writer.append(operation.rawValue)
        writer.append(key.kind.rawValue)
        writer.append(bytes: id)
        writer.append(bytes: [UInt8](repeating: 0, count: 32 - id.count))
        writer.append(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    private static func decode(_ entry: [UInt8]) -> (Operation, RecordKey)? {
        let stored = entry.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 34, as: UInt32.self)) }
        guard CRC32C.checksum(Array(entry[0..<34])) == stored, let operation = Operation(rawValue: entry[0]),
            let kind = RecordKind(rawValue: entry[1]), let key = RecordKey(kind: kind, idBytes: entry[2..<2 + kind.idLength])
        else { return nil }
        return (operation, key)
    }
}
