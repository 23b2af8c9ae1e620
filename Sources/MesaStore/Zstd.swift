import CZstd
#if canImport(Glibc)
import Glibc
#endif

/// zstd compression with one reusable compression and decompression context per thread.
///
/// Contexts live in thread-specific storage (`pthread_key_create` with a destructor), so a worker that compresses
/// thousands of chunks allocates its context once and no lock is taken per call.
package enum Zstd {
    /// Checks a zstd return value.
    /// - Throws: ``StoreError/compression(operation:message:)`` naming the zstd function.
    @discardableResult
    package static func check(_ code: Int, operation: String) throws(StoreError) -> Int {
        if ZSTD_isError(code) != 0 {
            throw .compression(operation: operation, message: String(cString: ZSTD_getErrorName(code)))
        }
        return code
    }

    /// The largest compressed size of `count` input bytes.
    package static func compressBound(_ count: Int) -> Int { ZSTD_compressBound(count) }

    /// Compresses `source` into `destination` at `level`.
    /// - Returns: the compressed length.
    /// - Throws: when `destination` is too small or zstd fails.
    package static func compress(
        _ source: UnsafeRawBufferPointer,
        into destination: UnsafeMutableRawBufferPointer,
        level: Int32
    ) throws(StoreError) -> Int {
        let context = ThreadContexts.current.compression
        let written = ZSTD_compressCCtx(
            context, destination.baseAddress, destination.count, source.baseAddress, source.count, level)
        return try check(written, operation: "ZSTD_compressCCtx")
    }

    /// Calls `body` with this thread's scratch buffer of at least `capacity` bytes (reused across calls).
    ///
    /// The buffer is valid only during the call and must not be handed to another thread.
    package static func withScratch<R>(
        capacity: Int,
        _ body: (UnsafeMutableRawBufferPointer) throws(StoreError) -> R
    ) throws(StoreError) -> R {
        let contexts = ThreadContexts.current
        if contexts.scratch.count < capacity {
            contexts.scratch.deallocate()
            contexts.scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 16)
        }
        return try body(UnsafeMutableRawBufferPointer(rebasing: contexts.scratch[0..<capacity]))
    }

    /// Decompresses `source` into `destination`, which must be exactly the raw length.
    /// - Throws: when the output length differs from `destination.count` or the input is not valid zstd.
    package static func decompress(
        _ source: UnsafeRawBufferPointer,
        into destination: UnsafeMutableRawBufferPointer
    ) throws(StoreError) {
        let context = ThreadContexts.current.decompression
        let written = ZSTD_decompressDCtx(
            context, destination.baseAddress, destination.count, source.baseAddress, source.count)
        try check(written, operation: "ZSTD_decompressDCtx")
        guard written == destination.count else {
            throw .compression(
                operation: "ZSTD_decompressDCtx",
                message: "decompressed \(written) bytes, expected \(destination.count)")
        }
    }
}

/// One thread's zstd contexts, freed by the thread-specific-storage destructor when the thread exits.
private final class ThreadContexts {
    let compression: OpaquePointer
    let decompression: OpaquePointer
    /// Per-thread working memory for assembling and reading records.
    var scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 16)

    private init() {
        // ZSTD_createCCtx and ZSTD_createDCtx return NULL only when malloc fails, which Swift treats as fatal too.
        guard let compression = ZSTD_createCCtx(), let decompression = ZSTD_createDCtx() else {
            fatalError("zstd could not allocate a context: out of memory")
        }
        self.compression = compression
        self.decompression = decompression
    }

    deinit {
        ZSTD_freeCCtx(compression)
        ZSTD_freeDCtx(decompression)
        scratch.deallocate()
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let result = pthread_key_create(&key) { pointer in
            guard let pointer else { return }
            // SAFETY: the value was stored by `current` as a retained `ThreadContexts`; the destructor runs once per
            // thread, after which the slot is empty.
            Unmanaged<ThreadContexts>.fromOpaque(pointer).release()
        }
        // pthread_key_create fails only when the process ran out of keys (PTHREAD_KEYS_MAX), a fatal condition.
        precondition(result == 0, "pthread_key_create failed: \(result)")
        return key
    }()

    static var current: ThreadContexts {
        if let existing = pthread_getspecific(key) {
            // SAFETY: this thread stored a retained `ThreadContexts` in its own slot below; only this thread reads it.
            return Unmanaged<ThreadContexts>.fromOpaque(existing).takeUnretainedValue()
        }
        let contexts = ThreadContexts()
        pthread_setspecific(key, Unmanaged.passRetained(contexts).toOpaque())
        return contexts
    }
}
