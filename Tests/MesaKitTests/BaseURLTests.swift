import MesaKit
import Testing

@Suite struct BaseURLTests {
    @Test(
        arguments: [
            (nil, "http://127.0.0.1:7411"),
            ("", "http://127.0.0.1:7411"),
            ("  ", "http://127.0.0.1:7411"),
            ("example.com", "https://api.example.com"),
            ("mesa.dev/", "https://api.mesa.dev"),
            ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
            ("https://mesa.internal:8443/", "https://mesa.internal:8443"),
        ] as [(String?, String)]
    )
    func serviceDomainResolvesAsDocumented(domain: String?, expected: String) {
        #expect(Mesa.baseURL(serviceDomain: domain) == expected)
    }

    @Test func apiRootAppendsV1Once() {
        #expect(Mesa(apiKey: "mesa_k_s", baseURL: "http://127.0.0.1:9000").apiRoot == "http://127.0.0.1:9000/v1")
        #expect(Mesa(apiKey: "mesa_k_s", baseURL: "http://127.0.0.1:9000/v1/").apiRoot == "http://127.0.0.1:9000/v1")
        #expect(Mesa(apiKey: "mesa_k_s", baseURL: "example.com").apiRoot == "https://api.example.com/v1")
    }
}
