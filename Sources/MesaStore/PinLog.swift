import MesaCore

// Pins persist in an append-only log, `pins.log`, replayed on open:
//
//   header: "MESAPINS" (8 bytes), u32 format version (1)
//   entry:  u8 operation (1 pin, 2 unpin), u8 record kind, 32 id bytes (20-byte ids padded with zeros),
//           u32 CRC-32C of the previous 34 bytes
//
// A torn last entry fails its checksum and is cut off. The log is rewritten compactly on open when it holds many
// more entries than live pins. Appends become durable with the store's `sync`.

/// The durable set of pinned record keys.
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

    /// Opens (or creates) the log in `directory` and replays it.
    init(directory: String) throws(StoreError) {
        self.directory = directory
        path = directory + "/pins.log"
        file = try StoreFile(path: path, create: true)
        var pins = Set<RecordKey>()
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
                guard let (pin, key) = Self.decode(entry) else { break }
                if pin { pins.insert(key) } else { pins.remove(key) }
                offset += Self.entrySize
                entries += 1
            }
            end = Int64(offset)
            if end < size { try file.truncate(to: end) }
        }
        self.pins = pins
        if entries > 2 * pins.count + 1024 { try rewrite() }
    }

    /// Records pins or unpins of `keys`; returns the keys whose state changed.
    mutating func set(_ keys: some Sequence<RecordKey>, pinned: Bool) throws(StoreError) -> [RecordKey] {
        var changed: [RecordKey] = []
        var bytes: [UInt8] = []
        for key in keys where pins.contains(key) != pinned {
            if pinned { pins.insert(key) } else { pins.remove(key) }
            changed.append(key)
            bytes += Self.encode(key, pin: pinned)
        }
        guard !bytes.isEmpty else { return [] }
        try file.write(bytes, at: end)
        end += Int64(bytes.count)
        return changed
    }

    private mutating func rewrite() throws(StoreError) {
        var bytes = Self.header()
        for key in pins.sorted() { bytes += Self.encode(key, pin: true) }
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

    private static func encode(_ key: RecordKey, pin: Bool) -> [UInt8] {
        let id = key.idBytes
        var writer = ByteWriter(capacity: entrySize)
        writer.append(UInt8(pin ? 1 : 2))
        writer.append(key.kind.rawValue)
        writer.append(bytes: id)
        writer.append(bytes: [UInt8](repeating: 0, count: 32 - id.count))
        writer.append(CRC32C.checksum(writer.bytes))
        return writer.bytes
    }

    private static func decode(_ entry: [UInt8]) -> (Bool, RecordKey)? {
        let stored = entry.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 34, as: UInt32.self)) }
        guard CRC32C.checksum(Array(entry[0..<34])) == stored, entry[0] == 1 || entry[0] == 2,
            let kind = RecordKind(rawValue: entry[1]), let key = RecordKey(kind: kind, idBytes: entry[2..<2 + kind.idLength])
        else { return nil }
        return (entry[0] == 1, key)
    }
}
