import MesaKit
import MesaServer

/// Sends `mesa serve`'s webhook deliveries with MesaKit's libcurl transport (http and https), which MesaServer does
/// not import (DESIGN.md section 2): the server sees only ``WebhookSender``.
struct CurlWebhookSender: WebhookSender {
    private let transport: CurlTransport

    init() {
        var configuration = TransportConfiguration.default
        configuration.userAgent = "mesa-webhooks"
        transport = CurlTransport(configuration: configuration)
    }

    func post(url: String, headers: [(name: String, value: String)], body: [UInt8], timeout: Duration) async throws
        -> Int
    {
        let request = HTTPRequest(
            method: .post, url: url, headers: headers.map { HTTPField($0.name, $0.value) }, body: body, timeout: timeout)
        let response = try await transport.send(request)
        // The answer's body is read to its end (and dropped), so the connection can be reused.
        for try await _ in response.body {}
        return response.status
    }
}
