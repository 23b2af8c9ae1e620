// The FastCDC gear table: 256 pseudo-random 64-bit words, one per byte value.
//
// It is generated, not pasted: SplitMix64 (Steele, Lea and Flood 2014) seeded with 0x4D45534143444331, the ASCII
// bytes "MESACDC1", yields entries 0 through 255 in order. Chunk boundaries, and therefore every chunk id in every
// store, depend on this table: changing the seed or the generator is a format change (bump the store format version).

/// The gear table used by ``FastCDC``.
package enum GearTable {
    /// The documented seed: ASCII "MESACDC1".
    package static let seed: UInt64 = 0x4D45_5341_4344_4331

    /// The 256 entries, generated from ``seed``.
    package static let entries: [UInt64] = {
        var state = seed
        return (0..<256).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }()

    /// A pointer to the entries that lives as long as the process (the table is immutable once built).
    nonisolated(unsafe) package static let pointer: UnsafePointer<UInt64> = {
        // SAFETY: allocated once, initialized before publication by the `static let` initializer, never freed
        // or written again, so concurrent readers see a fully built, immutable table.
        let storage = UnsafeMutablePointer<UInt64>.allocate(capacity: 256)
        storage.initialize(from: entries, count: 256)
        return UnsafePointer(storage)
    }()
}
