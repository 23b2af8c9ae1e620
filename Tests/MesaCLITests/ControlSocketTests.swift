import Foundation
import MesaTesting
import Testing

@testable import MesaCLI

@Suite struct ControlSocketTests {
    @Test func requestsReachTheHandlerAndAnswersComeBack() throws {
        let directory = try TemporaryDirectory(prefix: "mesa-ctl")
        let path = directory.appending("control.sock")
        let server = try ControlServer(path: path) { request in
            switch request.command {
            case "status": ControlResponse(ok: true, message: "mounted", details: ["repos": "2"])
            case "set-token": ControlResponse(ok: request.token == "t0k", message: "token replaced", details: nil)
            default: ControlResponse(ok: false, message: "unknown command \(request.command)", details: nil)
            }
        }
        defer { server.stop() }
        var info = stat()
        #expect(stat(path, &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(try ControlClient.send(ControlRequest(command: "status"), to: path) == ControlResponse(ok: true, message: "mounted", details: ["repos": "2"]))
        #expect(try ControlClient.send(ControlRequest(command: "set-token", token: "t0k"), to: path).ok)
        #expect(try ControlClient.send(ControlRequest(command: "bogus"), to: path).ok == false)
        server.stop()
        #expect(throws: ControlError.self) { try ControlClient.send(ControlRequest(command: "status"), to: path) }
    }
}
