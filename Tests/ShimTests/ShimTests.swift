import CCurl
import CFuse
import CGit2
import CZstd
import Testing

/// One smoke test per C shim that really calls its library.
@Suite struct ShimTests {
    @Test func zstdRoundTrips() {
        let input = [UInt8](repeating: 65, count: 10_000)
        var compressed = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let written = ZSTD_compress(&compressed, compressed.count, input, input.count, 1)
        #expect(ZSTD_isError(written) == 0)
        #expect(written < 100)
        var output = [UInt8](repeating: 0, count: input.count)
        let read = ZSTD_decompress(&output, output.count, compressed, written)
        #expect(read == input.count)
        #expect(output == input)
    }

    @Test func libgit2HashesABlobLikeGit() {
        #expect(git_libgit2_init() >= 1)
        defer { git_libgit2_shutdown() }
        var oid = git_oid()
        let content = Array("hello\n".utf8)
        #expect(git_odb_hash(&oid, content, content.count, GIT_OBJECT_BLOB) == 0)
        var text = [CChar](repeating: 0, count: 41)
        git_oid_tostr(&text, text.count, &oid)
        #expect(String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            == "ce013625030ba8dba906f756967f9e9ca394464a")
    }

    @Test func curlSetsOptionsThroughTheTypedWrappers() throws {
        #expect(curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK)
        let handle = try #require(curl_easy_init())
        defer { curl_easy_cleanup(handle) }
        #expect(CCurl_easy_setopt_string(handle, CURLOPT_URL, "http://127.0.0.1:9/") == CURLE_OK)
        #expect(CCurl_easy_setopt_long(handle, CURLOPT_TIMEOUT_MS, 100) == CURLE_OK)
        var code: Int = -1
        #expect(CCurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK)
        #expect(code == 0)
        let version = String(cString: curl_version())
        #expect(version.hasPrefix("libcurl/"))
    }

    @Test func fuseParsesArgumentsThroughTheShim() {
        #expect(fuse_version() >= 312)
        var args = CFuse_fuse_args_init(0, nil)
        #expect(fuse_opt_add_arg(&args, "mesa") == 0)
        #expect(fuse_opt_add_arg(&args, "-odebug") == 0)
        #expect(args.argc == 2)
        fuse_opt_free_args(&args)
        #expect(args.argc == 0)
    }
}
