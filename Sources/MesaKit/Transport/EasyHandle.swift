import CCurl

/// The one Swift owner of a `CURL *` (an easy handle), its header list and its error buffer.
///
/// Created, configured, driven and freed on the event-loop thread only, so it is not `Sendable`.
final class EasyHandle {
    /// The C handle.
    let raw: UnsafeMutableRawPointer
    private var headerList: UnsafeMutablePointer<curl_slist>?
    /// SAFETY: allocated here with `CURL_ERROR_SIZE` bytes, handed to libcurl as `CURLOPT_ERRORBUFFER`, and freed in
    /// `deinit` only after `curl_easy_cleanup`, so libcurl never writes to freed memory.
    private let errorBuffer: UnsafeMutablePointer<CChar>

    /// Creates an unconfigured handle.
    init() throws(CurlError) {
        guard let raw = curl_easy_init() else {
            throw CurlError(function: "curl_easy_init", code: Int(CURLE_FAILED_INIT.rawValue), message: "returned NULL")
        }
        self.raw = raw
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        let code = CCurl_easy_setopt_pointer(raw, CURLOPT_ERRORBUFFER, errorBuffer)
        try CurlError.check(code, operation: "curl_easy_setopt(CURLOPT_ERRORBUFFER)")
    }

    deinit {
        curl_easy_cleanup(raw)
        curl_slist_free_all(headerList)
        errorBuffer.deallocate()
    }

    /// Sets a `long` option. The corresponding C function is `curl_easy_setopt`.
    func set(_ option: CURLoption, _ value: Int, name: @autoclosure () -> String) throws(CurlError) {
        let code = CCurl_easy_setopt_long(raw, option, value)
        try CurlError.check(code, operation: "curl_easy_setopt(\(name()))")
    }

    /// Sets a string option; libcurl copies the string.
    func set(_ option: CURLoption, _ value: String, name: @autoclosure () -> String) throws(CurlError) {
        let code = CCurl_easy_setopt_string(raw, option, value)
        try CurlError.check(code, operation: "curl_easy_setopt(\(name()))")
    }

    /// Sets an `off_t` option.
    func set(_ option: CURLoption, offset value: Int, name: @autoclosure () -> String) throws(CurlError) {
        let code = CCurl_easy_setopt_off_t(raw, option, value)
        try CurlError.check(code, operation: "curl_easy_setopt(\(name()))")
    }

    /// Sets a pointer option (callback data).
    func set(_ option: CURLoption, pointer: UnsafeMutableRawPointer, name: @autoclosure () -> String) throws(CurlError)
    {
        let code = CCurl_easy_setopt_pointer(raw, option, pointer)
        try CurlError.check(code, operation: "curl_easy_setopt(\(name()))")
    }

    /// Sets the request body: libcurl copies `bytes` (`CURLOPT_COPYPOSTFIELDS` after `CURLOPT_POSTFIELDSIZE_LARGE`,
    /// so bytes with NULs are sent whole).
    func setBody(_ bytes: [UInt8]) throws(CurlError) {
        try set(CURLOPT_POSTFIELDSIZE_LARGE, offset: bytes.count, name: "CURLOPT_POSTFIELDSIZE_LARGE")
        let code: CURLcode
        if bytes.isEmpty {
            code = CCurl_easy_setopt_string(raw, CURLOPT_COPYPOSTFIELDS, "")
        } else {
            code = bytes.withUnsafeBufferPointer { buffer in
                // SAFETY: the pointer is used only during this call, in which libcurl copies `count` bytes from it.
                buffer.withMemoryRebound(to: CChar.self) {
                    CCurl_easy_setopt_string(raw, CURLOPT_COPYPOSTFIELDS, $0.baseAddress)
                }
            }
        }
        try CurlError.check(code, operation: "curl_easy_setopt(CURLOPT_COPYPOSTFIELDS)")
    }

    /// Sets the request's header fields (`CURLOPT_HTTPHEADER`); the list lives until `deinit`.
    func setHeaders(_ lines: [String]) throws(CurlError) {
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines {
            guard let appended = curl_slist_append(list, line) else {
                curl_slist_free_all(list)
                throw CurlError(
                    function: "curl_slist_append",
                    code: Int(CURLE_OUT_OF_MEMORY.rawValue),
                    message: "returned NULL"
                )
            }
            list = appended
        }
        curl_slist_free_all(headerList)
        headerList = list
        let code = CCurl_easy_setopt_pointer(raw, CURLOPT_HTTPHEADER, list)
        try CurlError.check(code, operation: "curl_easy_setopt(CURLOPT_HTTPHEADER)")
    }

    /// Installs the write and header callbacks with `context` as their data, and the read callback when the request
    /// streams its body.
    ///
    /// SAFETY: the pointer is `Unmanaged.passUnretained`: the event loop's transfer table holds the context strongly
    /// from before this call until after `curl_multi_remove_handle`, and libcurl calls the callbacks only while the
    /// handle is in the multi handle (inside `curl_multi_perform` or `curl_easy_pause` on the loop thread).
    func setCallbacks(context: TransferContext) throws(CurlError) {
        let pointer = Unmanaged.passUnretained(context).toOpaque()
        let writeCode = CCurl_easy_setopt_write_callback(raw, CURLOPT_WRITEFUNCTION, CurlCallbacks.write)
        try CurlError.check(writeCode, operation: "curl_easy_setopt(CURLOPT_WRITEFUNCTION)")
        try set(CURLOPT_WRITEDATA, pointer: pointer, name: "CURLOPT_WRITEDATA")
        let headerCode = CCurl_easy_setopt_header_callback(raw, CURLOPT_HEADERFUNCTION, CurlCallbacks.header)
        try CurlError.check(headerCode, operation: "curl_easy_setopt(CURLOPT_HEADERFUNCTION)")
        try set(CURLOPT_HEADERDATA, pointer: pointer, name: "CURLOPT_HEADERDATA")
        guard context.request.upload != nil else { return }
        let readCode = CCurl_easy_setopt_read_callback(raw, CURLOPT_READFUNCTION, CurlCallbacks.read)
        try CurlError.check(readCode, operation: "curl_easy_setopt(CURLOPT_READFUNCTION)")
        try set(CURLOPT_READDATA, pointer: pointer, name: "CURLOPT_READDATA")
    }

    /// Reads a `long` piece of information, e.g. `CURLINFO_RESPONSE_CODE`.
    func info(_ info: CURLINFO, name: @autoclosure () -> String) throws(CurlError) -> Int {
        var value = 0
        let code = CCurl_easy_getinfo_long(raw, info, &value)
        try CurlError.check(code, operation: "curl_easy_getinfo(\(name()))")
        return value
    }

    /// What libcurl wrote to the error buffer for the last failure, if anything.
    var errorMessage: String? {
        let text = String(cString: errorBuffer)
        return text.isEmpty ? nil : text
    }
}

/// The C callbacks of every easy handle: non-capturing, they only recover the transfer's context and hand it the
/// bytes (no logic here, STYLE.md section 5.1 by analogy).
enum CurlCallbacks {
    /// `CURLOPT_WRITEFUNCTION`: body bytes, or `CURL_WRITEFUNC_PAUSE` when the reader lags.
    static let write: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data,
        size,
        count,
        userdata in
        guard let userdata else { return 0 }
        // SAFETY: `userdata` is the context set by `EasyHandle.setCallbacks`, alive while the handle is in the multi
        // handle (see there); `data` holds `size * count` bytes for the duration of this call only.
        let context = Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue()
        let bytes = UnsafeRawBufferPointer(start: data, count: size * count)
        return context.receiveBody(bytes) ?? Int(CURL_WRITEFUNC_PAUSE)
    }

    /// `CURLOPT_READFUNCTION`: upload bytes, `CURL_READFUNC_PAUSE` when the producer lags, `CURL_READFUNC_ABORT`
    /// when the body was abandoned.
    static let read: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        buffer,
        size,
        count,
        userdata in
        guard let userdata, let buffer else { return Int(CURL_READFUNC_ABORT) }
        // SAFETY: as for `write`; `buffer` has room for `size * count` bytes for the duration of this call only.
        let context = Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue()
        switch context.readBody(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count)) {
        case .bytes(let copied): return copied
        case .pause: return Int(CURL_READFUNC_PAUSE)
        case .abort: return Int(CURL_READFUNC_ABORT)
        }
    }

    /// `CURLOPT_HEADERFUNCTION`: one header line per call, including the status line and the final blank line.
    static let header: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
        data,
        size,
        count,
        userdata in
        guard let userdata else { return 0 }
        // SAFETY: as for `write`.
        let context = Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue()
        context.receiveHeaderLine(UnsafeRawBufferPointer(start: data, count: size * count))
        return size * count
    }
}
