import MesaKit
import MesaTesting
import MesaWire

/// JSON bodies as a Mesa server writes them.
enum Fixture {
    static let org = "acme"
    static let apiKey = "mesa_k1_secretsecret"
    static let virtualRoot = String(repeating: "z", count: 32)

    static func repo(_ name: String) -> String {
        #"{"id":"repo-\#(name)","org":"acme","name":"\#(name)","default_bookmark":"main","#
            + #""head_change_id":"\#(virtualRoot)","upstream":null,"created_at":"2024-01-02T03:04:05+00:00","tags":{}}"#
    }

    static func whoami(keyID: String?) -> String {
        let key = keyID.map { "\"\($0)\"" } ?? "null"
        return #"{"org":{"id":"org-1","slug":"acme","name":"Acme"},"key_id":\#(key),"key_name":"ci","#
            + #""scopes":["read","write","admin"]}"#
    }

    static func bookmark(_ name: String) -> String {
        #"{"name":"\#(name)","change_id":"\#(virtualRoot)","is_default":false}"#
    }

    static let change = #"""
        {"id":"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk","current_commit_oid":"0123456789abcdef0123456789abcdef01234567",
        "is_conflicted":false,"message":"add a",
        "author":{"name":"A","email":"a@example.com","date":"2024-01-02T03:04:05+00:00"},
        "authors":[{"name":"A","email":null}],"authored_at":"2024-01-02T03:04:05+00:00",
        "committer":{"name":"A","email":"a@example.com"},"parents":["zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"],
        "created_at":"2024-01-02T03:04:05+00:00","updated_at":"2024-01-02T03:04:05+00:00",
        "files":["a.txt"],"conflicts":[]}
        """#
}

extension RetryPolicy {
    /// Retries with delays of a few milliseconds, so retry tests run fast.
    static let fast = RetryPolicy(maxAttempts: 4, initialDelay: .milliseconds(5), maxDelay: .milliseconds(20))
}

/// A client of `server` for org `acme`.
func makeClient(
    _ server: LoopbackHTTPServer,
    org: String? = Fixture.org,
    apiKey: String = Fixture.apiKey,
    retry: RetryPolicy = .fast
) -> Mesa {
    Mesa(apiKey: apiKey, org: org, baseURL: server.baseURL, configuration: Mesa.Configuration(retry: retry))
}

/// Waits until `condition` holds, checking it every 10 ms up to `checks` times (30 s when it runs freely). The bound
/// counts checks, not wall-clock time: while other suites hold both threads of the cooperative pool (2 cores), a
/// deadline could pass before this task, or the work it waits for, ran at all. A passing check returns at once.
func eventually(checks: Int = 3_000, _ condition: () -> Bool) async -> Bool {
    for _ in 0..<checks {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
