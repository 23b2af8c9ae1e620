#if arch(x86_64)
internal import _Builtin_intrinsics.intel
#endif
import MesaCore

// Record payload checksums on the hot paths (every stored record is checksummed when written and when read).
//
// On x86-64 this uses the SSE4.2 `crc32` instruction through the compiler's own intrinsics module (no C shim):
// MesaStore alone is compiled with `-Xcc -msse4.2` (Package.swift), and the intrinsic stays in a private function
// of this module, so no other module inlines it. Every x86-64 CPU since 2008 has SSE4.2. Elsewhere, and for the
// small header checksums, MesaCore's software CRC32C serves; both give the same values (tested).

/// CRC-32C of record payloads.
enum PayloadChecksum {
    /// The CRC-32C of `bytes` (the value `CRC32C.checksum` gives).
    @inline(never)
    static func of(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        #if arch(x86_64)
        hardware(bytes)
        #else
        CRC32C.checksum(bytes)
        #endif
    }

    /// The CRC-32C of a byte array.
    static func of(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { of($0) }
    }

    #if arch(x86_64)
    private static func hardware(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard var pointer = bytes.baseAddress else { return 0 }
        var remaining = bytes.count
        var crc = UInt64(UInt32.max)
        while remaining >= 8 {
            crc = _mm_crc32_u64(crc, UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self)))
            pointer += 8
            remaining -= 8
        }
        var crc32 = UInt32(truncatingIfNeeded: crc)
        while remaining > 0 {
            crc32 = _mm_crc32_u8(crc32, pointer.load(as: UInt8.self))
            pointer += 1
            remaining -= 1
        }
        return ~crc32
    }
    #endif
}
