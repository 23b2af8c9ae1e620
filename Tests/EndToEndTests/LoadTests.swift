import Foundation
import MesaKit
import MesaTesting
import Synchronization
import Testing

/// A bounded load test: 64 concurrent SDK clients create changes and read them back from a real `mesa serve` for
/// `MESA_LOAD_SECONDS` (30 by default) on loopback, with zero errors and no lost change.
@Suite struct LoadTests {
    @Test func sixtyFourClientsCreateAndReadChangesWithoutErrorsOrLoss() async throws {
        let seconds = Double(ProcessInfo.processInfo.environment["MESA_LOAD_SECONDS"] ?? "") ?? 30
        let server = try ServerProcess()
        let admin = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
        _ = try await admin.repos.create(name: "load")
        let root = String(repeating: "z", count: 32)
        let shared = try await admin.changes("load").create(
            base: root, message: "shared", files: [.upsert("shared.txt", text: "shared\n")])

        let results = LoadResults()
        let deadline = ContinuousClock.now + .seconds(seconds)
        await withTaskGroup(of: Void.self) { group in
            for clientIndex in 0..<64 {
                group.addTask {
                    let mesa = Mesa(apiKey: server.adminKey, org: "local", baseURL: server.url)
                    var round = 0
                    while ContinuousClock.now < deadline {
                        let text = "client \(clientIndex) round \(round)\n"
                        do {
                            let change = try await mesa.changes("load").create(
                                base: shared.id, message: text, files: [.upsert("c\(clientIndex)/r\(round).txt", text: text)])
                            results.created.withLock { $0.append(change.id) }
                            let read = try await mesa.content("load").bytes(path: "c\(clientIndex)/r\(round).txt", changeID: change.id)
                            if read != Array(text.utf8) {
                                results.errors.withLock { $0.append("read back wrong bytes: \(change.id)") }
                            }
                            let sharedBytes = try await mesa.content("load").bytes(path: "shared.txt", changeID: change.id)
                            if sharedBytes != Array("shared\n".utf8) { results.errors.withLock { $0.append("shared file wrong") } }
                        } catch {
                            results.errors.withLock { $0.append("\(error)") }
                        }
                        round += 1
                    }
                }
            }
        }
        let failures = results.errors.withLock { $0 }
        #expect(failures.isEmpty, "\(failures.count) errors, first: \(failures.first ?? "")")
        let ids = results.created.withLock { $0 }
        #expect(ids.count > 64, "only \(ids.count) changes in \(seconds) s")

        // No lost change: every acknowledged change is listed, with its own content.
        let listed = Set(try await admin.changes("load").all(pageSize: 100).collect().map(\.id))
        #expect(listed.isSuperset(of: ids), "\(Set(ids).subtracting(listed).count) acknowledged changes are missing")
        #expect(listed.count == ids.count + 1)
        print("load: \(ids.count) changes created and read back by 64 clients in \(seconds) s")
    }
}

/// What the load test's clients report.
private final class LoadResults: Sendable {
    let created = Mutex<[String]>([])
    let errors = Mutex<[String]>([])
}
