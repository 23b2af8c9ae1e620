import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import MesaServer
import MesaTesting
import MesaWire
import NIOCore
import Testing

/// A server over a temporary data directory, driven through the router without sockets.
final class ServerHarness: Sendable {
    let directory: TemporaryDirectory
    let opened: MesaServerApplication.Opened
    let adminKey: String

    init(org: String = "local", configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
        directory = try TemporaryDirectory(prefix: "mesa-server")
        var configuration = ServerConfiguration.default
        configuration.dataDirectory = directory.path
        configuration.orgSlug = org
        configuration.blockingThreads = 4
        configure(&configuration)
        var logger = Logger(label: "mesa.server.test")
        logger.logLevel = .critical
        opened = try MesaServerApplication.open(configuration, logger: logger)
        adminKey = try #require(opened.newAdminKey)
    }

    var services: ServerServices { opened.services }

    /// The id of the repo `name` of the harness's org.
    func repoID(_ name: String, org: String = "local") throws -> String {
        let orgID = try #require(try services.metadata.org(slug: org)).id
        return try #require(try services.metadata.repo(orgID: orgID, name: name)).id
    }

    /// Runs `body` with a router-level test client.
    func test(_ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let app = Application(router: MesaServerApplication.router(services: services))
        try await app.test(.router, body)
    }

    deinit {
        try? services.closeSynchronously()
    }
}

/// A decoded response.
struct Reply: Sendable {
    var status: HTTPResponse.Status
    var body: Data
    var headers: HTTPFields

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONDecoder().decode(T.self, from: body) }

    /// The Mesa error code of an error response.
    var errorCode: String? { (try? decode(ErrorBody.self))?.error.code }

    var text: String { String(decoding: body, as: UTF8.self) }
}

extension TestClientProtocol {
    /// Sends a request with an optional bearer credential and JSON body.
    func send(
        _ method: HTTPRequest.Method, _ uri: String, credential: String?, json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if let credential { headers[.authorization] = "Bearer \(credential)" }
        if json != nil { headers[.contentType] = "application/json" }
        let body = json.map { ByteBuffer(string: $0) }
        return try await execute(uri: uri, method: method, headers: headers, body: body) { response in
            Reply(status: response.status, body: Data(response.body.readableBytesView), headers: response.headers)
        }
    }
}
