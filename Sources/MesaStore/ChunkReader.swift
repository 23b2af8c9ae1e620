#if canImport(Glibc)
import Glibc
#endif
import MesaCore
package import SystemPackage

/// Where a ``ChunkReader`` gets its bytes.
package protocol ByteSource {
    /// Reads up to `buffer.count` bytes into `buffer`.
    /// - Returns: the number of bytes read; 0 means the end of input.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) -> Int
}

/// Reads a file descriptor from its current position, `readSize` bytes per `read(2)` at most.
package struct FileByteSource: ByteSource {
    /// The descriptor; the caller owns it and closes it.
    package let descriptor: FileDescriptor
    /// The largest read request.
    package let readSize: Int
    /// The path, for error messages.
    package let path: String

    /// Creates a source over an open descriptor.
    package init(descriptor: FileDescriptor, path: String, readSize: Int = 1 << 20) {
        self.descriptor = descriptor
        self.path = path
        self.readSize = readSize
    }

    package mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) -> Int {
        let request = UnsafeMutableRawBufferPointer(rebasing: buffer.prefix(readSize))
        do {
            return try descriptor.read(into: request, retryOnInterrupt: true)
        } catch {
            throw .io(operation: "read", path: path, errno: error as? Errno ?? .ioError)
        }
    }
}

/// Serves an in-memory byte array, `readSize` bytes per read at most (tests use it to vary read sizes).
package struct MemoryByteSource: ByteSource {
    private let bytes: [UInt8]
    private var position = 0
    /// The largest read.
    package let readSize: Int

    /// Creates a source over `bytes`.
    package init(_ bytes: [UInt8], readSize: Int = .max) {
        self.bytes = bytes
        self.readSize = max(1, readSize)
    }

    package mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws(StoreError) -> Int {
        let count = min(buffer.count, readSize, bytes.count - position)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBytes { source in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[position..<position + count]))
        }
        position += count
        return count
    }
}

/// Splits a stream into FastCDC chunks without holding more than a bounded window in memory.
///
/// The reader keeps at least ``FastCDC/Sizes/maximum`` bytes ahead of the current position (or everything up to
/// the end of input) before asking for a cut, so boundaries do not depend on the source's read sizes.
package struct ChunkReader<Source: ByteSource>: ~Copyable {
    private var source: Source
    private let chunker: FastCDC
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var atEnd = false
    /// The stream offset of the next chunk.
    package private(set) var offset: Int64 = 0

    /// Creates a reader.
    /// - Parameters:
    ///   - source: the bytes to chunk.
    ///   - chunker: the boundary finder.
    ///   - bufferSize: the window; raised to at least twice the maximum chunk size.
    package init(source: Source, chunker: FastCDC = FastCDC(), bufferSize: Int = 4 << 20) {
        self.source = source
        self.chunker = chunker
        let capacity = max(bufferSize, 2 * chunker.sizes.maximum)
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Calls `body` with the next chunk's offset and bytes (valid only during the call).
    /// - Returns: `false` at the end of input, when `body` was not called.
    package mutating func next(
        _ body: (Int64, UnsafeRawBufferPointer) throws(StoreError) -> Void
    ) throws(StoreError) -> Bool {
        try fill()
        guard end > start else { return false }
        let window = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
        let length = chunker.cut(window)
        try body(offset, UnsafeRawBufferPointer(rebasing: window.prefix(length)))
        start += length
        offset += Int64(length)
        return true
    }

    private mutating func fill() throws(StoreError) {
        let needed = chunker.sizes.maximum
        guard !atEnd, end - start < needed else { return }
        if start > 0 {
            let pending = end - start
            if pending > 0, let base = buffer.baseAddress {
                memmove(base, base + start, pending)
            }
            start = 0
            end = pending
        }
        while end - start < needed {
            let read = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end...]))
            if read == 0 {
                atEnd = true
                return
            }
            end += read
        }
    }
}
