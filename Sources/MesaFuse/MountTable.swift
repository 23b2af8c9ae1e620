import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Reads `/proc/self/mountinfo` (proc(5)), without touching the mounted filesystem itself.
package enum MountTable {
    /// One mount.
    package struct Mount: Sendable, Hashable {
        /// The device's major number (0 for FUSE).
        package var major: UInt32
        /// The device's minor number: the FUSE connection's number in `/sys/fs/fuse/connections`.
        package var minor: UInt32
        /// The mount point, unescaped.
        package var mountPoint: String
        /// The filesystem type (`fuse.mesa`).
        package var type: String
        /// The per-mount options (`rw` or `ro`, `nosuid`, `noatime`, ...).
        package var options: [String]
    }

    /// Every mount of the calling process's namespace.
    package static func mounts() -> [Mount] {
        guard let text = readFile("/proc/self/mountinfo") else { return [] }
        return text.split(separator: "\n").compactMap(parse)
    }

    /// The last mount at `path` (the one visible), if any.
    package static func mount(at path: String) -> Mount? {
        mounts().last { $0.mountPoint == path }
    }

    private static func parse(_ line: Substring) -> Mount? {
        let fields = line.split(separator: " ")
        guard fields.count > 6, let separator = fields.firstIndex(of: "-"), separator + 1 < fields.count else {
            return nil
        }
        let device = fields[2].split(separator: ":")
        guard device.count == 2, let major = UInt32(device[0]), let minor = UInt32(device[1]) else { return nil }
        return Mount(
            major: major, minor: minor, mountPoint: unescape(fields[4]), type: String(fields[separator + 1]),
            options: fields[5].split(separator: ",").map(String.init))
    }

    /// Undoes the octal escapes of mountinfo (`\040` for a space).
    private static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count,
                let value = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A small text file's content (proc and sysfs files report size 0, so read until the end).
    static func readFile(_ path: String) -> String? {
        guard let descriptor = try? FileDescriptor.open(path, .readOnly) else { return nil }
        defer { try? descriptor.close() }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = (try? buffer.withUnsafeMutableBytes { try descriptor.read(into: $0) }) ?? 0
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes a short value to a sysfs or proc file.
    /// - Throws: the `Errno` of `open` or `write`.
    static func writeFile(_ path: String, _ text: String) throws(Errno) {
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(path, .writeOnly)
        } catch {
            throw error as? Errno ?? .ioError
        }
        defer { try? descriptor.close() }
        do {
            _ = try descriptor.writeAll(Array(text.utf8))
        } catch {
            throw error as? Errno ?? .ioError
        }
    }
}
