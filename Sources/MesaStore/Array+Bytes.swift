extension Array where Element == UInt8 {
    /// `withUnsafeBytes` with a typed error (the standard library's version rethrows untyped errors).
    package func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(StoreError) -> R) throws(StoreError) -> R {
        let result = withUnsafeBytes { raw in Result { () throws(StoreError) in try body(raw) } }
        return try result.get()
    }
}
