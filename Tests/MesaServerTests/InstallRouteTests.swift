import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MesaServer
import MesaTesting
import MesaWire
import Testing

/// `GET /install.sh` and `GET /download/...` (InstallRoutes.swift), through the router.
@Suite struct InstallRouteTests {
    /// A release directory with one binary of seeded bytes and, unless told otherwise, its correct `.sha256`.
    private struct Release {
        let directory: TemporaryDirectory
        let bytes: [UInt8]
        let name: String
        var path: String { directory.appending(name) }

        init(architecture: String = ReleaseCatalog.hostArchitecture, seed: UInt64 = 12, checksumFile: String? = nil) throws {
            directory = try TemporaryDirectory(prefix: "mesa-release")
            name = ReleaseCatalog.fileName(architecture: architecture)
            var random = SeededBytes(seed: seed)
            bytes = random.bytes(300_000)
            try Data(bytes).write(to: URL(fileURLWithPath: directory.appending(name)))
            let checksum = try checksumFile ?? Self.sha256sum(directory.appending(name))
            try "\(checksum)  \(name)\n".write(toFile: directory.appending(name + ".sha256"), atomically: true, encoding: .utf8)
        }

        /// coreutils' answer, independent of the server's hashing.
        static func sha256sum(_ path: String) throws -> String {
            let result = try Shell.run("sha256sum '\(path)'")
            return String(result.output.prefix(64))
        }
    }

    private func test(
        _ releases: ReleaseCatalog, _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let harness = try ServerHarness()
        let app = Application(router: MesaServerApplication.router(services: harness.services, releases: releases))
        try await app.test(.router, body)
    }

    @Test func theInstallScriptNamesTheServerItCameFromAndIsValidSh() async throws {
        try await test(ReleaseCatalog(directory: nil)) { client in
            let reply = try await client.send(.get, "/install.sh", credential: nil)
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType]?.hasPrefix("text/x-shellscript") == true)
            #expect(reply.text.hasPrefix("#!/bin/sh\n"))
            // The router test client's requests carry the authority `localhost`.
            #expect(reply.text.contains("server=${MESA_SERVER:-http://localhost}\n"))
            #expect(!reply.text.contains("@MESA_SERVER@"))
            let scratch = try TemporaryDirectory(prefix: "mesa-install-sh")
            try reply.text.write(toFile: scratch.appending("install.sh"), atomically: true, encoding: .utf8)
            let syntax = try Shell.run("sh -n '\(scratch.appending("install.sh"))'")
            #expect(syntax.status == 0, "\(syntax.error)")
        }
    }

    @Test func aReleaseDirectoryBinaryIsServedWithItsChecksum() async throws {
        let release = try Release()
        let expected = try Release.sha256sum(release.path)
        try await test(ReleaseCatalog(directory: release.directory.path, ownExecutable: nil)) { client in
            let binary = try await client.send(.get, "/download/\(release.name)", credential: nil)
            #expect(binary.status == .ok)
            #expect(binary.body == Data(release.bytes))
            #expect(binary.headers[HTTPField.Name("x-checksum-sha256")!] == expected)
            #expect(binary.headers[.contentType] == "application/octet-stream")
            let checksum = try await client.send(.get, "/download/\(release.name).sha256", credential: nil)
            #expect(checksum.status == .ok)
            #expect(checksum.text == "\(expected)  \(release.name)\n")
        }
    }

    @Test func aChangedReleaseFileGetsItsNewChecksum() async throws {
        let release = try Release()
        let catalog = ReleaseCatalog(directory: release.directory.path, ownExecutable: nil)
        let first = try catalog.artifact(architecture: ReleaseCatalog.hostArchitecture)
        #expect(first.sha256 == (try Release.sha256sum(release.path)))
        try Data(release.bytes.reversed() + [1]).write(to: URL(fileURLWithPath: release.path))
        try FileManager.default.removeItem(atPath: release.path + ".sha256")
        let second = try catalog.artifact(architecture: ReleaseCatalog.hostArchitecture)
        #expect(second.size == Int64(release.bytes.count + 1))
        #expect(second.sha256 == (try Release.sha256sum(release.path)))
        #expect(second.sha256 != first.sha256)
    }

    @Test func aChecksumFileThatDisagreesWithItsBinaryIsRefused() async throws {
        let release = try Release(checksumFile: String(repeating: "0", count: 64))
        try await test(ReleaseCatalog(directory: release.directory.path, ownExecutable: nil)) { client in
            for path in ["/download/\(release.name)", "/download/\(release.name).sha256"] {
                let reply = try await client.send(.get, path, credential: nil)
                #expect(reply.status == .internalServerError, "\(path)")
                #expect(reply.text.contains("package the release again"), "\(reply.text)")
            }
        }
    }

    @Test(arguments: ["mesa-linux-sparc64", "mesa-linux-sparc64.sha256", "mesa-darwin-arm64", "mesa-linux-"])
    func anUnknownArchitectureOrNameIsNotFound(file: String) async throws {
        let release = try Release()
        try await test(ReleaseCatalog(directory: release.directory.path, ownExecutable: nil)) { client in
            let reply = try await client.send(.get, "/download/\(file)", credential: nil)
            #expect(reply.status == .notFound)
            #expect(reply.errorCode == "NOT_FOUND", "\(reply.text)")
        }
    }

    /// This test process is a development build: it maps the toolchain's `libswiftCore.so`, so with no release
    /// directory there is nothing to offer, and the answer says how to get a release rather than send this binary.
    @Test func aDevelopmentBuildWithoutAReleaseDirectoryOffersNoBinary() async throws {
        #expect(!ReleaseCatalog.isRunningSelfContained)
        #expect(ReleaseCatalog.defaultOwnExecutable == nil)
        try await test(ReleaseCatalog(directory: nil)) { client in
            for suffix in ["", ".sha256"] {
                let name = ReleaseCatalog.fileName(architecture: ReleaseCatalog.hostArchitecture) + suffix
                let reply = try await client.send(.get, "/download/\(name)", credential: nil)
                #expect(reply.status == .notFound)
                #expect(reply.errorCode == "RELEASE_NOT_AVAILABLE")
                #expect(reply.text.contains("scripts/package.sh"), "\(reply.text)")
            }
        }
    }

    /// A packaged build offers itself for its own architecture only; a release directory's file comes first.
    @Test func aPackagedExecutableIsOfferedForItsOwnArchitecture() async throws {
        let own = try Release(seed: 99)
        let otherArchitecture = ReleaseCatalog.architectures.first { $0 != ReleaseCatalog.hostArchitecture } ?? "aarch64"
        try await test(ReleaseCatalog(directory: nil, ownExecutable: own.path)) { client in
            let binary = try await client.send(
                .get, "/download/\(ReleaseCatalog.fileName(architecture: ReleaseCatalog.hostArchitecture))",
                credential: nil)
            #expect(binary.status == .ok)
            #expect(binary.body == Data(own.bytes))
            let other = try await client.send(
                .get, "/download/\(ReleaseCatalog.fileName(architecture: otherArchitecture))", credential: nil)
            #expect(other.status == .notFound)
            #expect(other.errorCode == "RELEASE_NOT_AVAILABLE")
        }
        let release = try Release(seed: 5)
        let catalog = ReleaseCatalog(directory: release.directory.path, ownExecutable: own.path)
        #expect(try catalog.artifact(architecture: ReleaseCatalog.hostArchitecture).path == release.path)
    }
}
