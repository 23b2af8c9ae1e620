import Foundation
import MesaTesting
import Testing

/// `curl -fsSL http://SERVER/install.sh | sh` against a real `mesa serve --release-dir`, run by the system's `sh`
/// (dash on Debian, so the script is held to POSIX). The installs go to a temporary directory and never run a package
/// manager (`MESA_INSTALL_NO_PACKAGES=1`): this machine has the libraries.
@Suite(.serialized, .tags(.e2e))
struct InstallEndToEndTests {
    private static var architecture: String {
        #if arch(x86_64)
        "x86_64"
        #else
        "aarch64"
        #endif
    }

    /// A release directory holding this build's `mesa` as `mesa-linux-<arch>` with its `.sha256`.
    private static func releaseDirectory() throws -> (TemporaryDirectory, String) {
        let directory = try TemporaryDirectory(prefix: "mesa-release")
        let name = "mesa-linux-\(architecture)"
        let made = try Shell.run(
            "cp '\(MesaBinary.path)' '\(directory.appending(name))' && cd '\(directory.path)' && sha256sum \(name) > \(name).sha256")
        guard made.status == 0 else { throw ShellFailure(command: "release directory", output: made.error) }
        return (directory, directory.appending(name))
    }

    private static func install(from server: String, into home: TemporaryDirectory) throws -> Shell.Result {
        try Shell.run(
            "set -o pipefail; curl -fsSL '\(server)/install.sh' | sh",
            environment: [
                "HOME": home.path, "MESA_INSTALL_DIR": home.appending("bin"), "MESA_INSTALL_NO_PACKAGES": "1",
                "MESA_SERVER": "",
            ])
    }

    @Test func theInstallerVerifiesInstallsAndIsIdempotent() throws {
        let (release, binary) = try Self.releaseDirectory()
        let server = try ServerProcess(extraArguments: ["--release-dir", release.path])
        defer { server.stop() }
        let home = try TemporaryDirectory(prefix: "mesa-install-home")
        let installed = home.appending("bin/mesa")

        let first = try Self.install(from: server.url, into: home)
        #expect(first.status == 0, "\(first.error)")
        #expect(first.error.contains("installed \(installed)"), "\(first.error)")
        #expect(try Shell.run("cmp '\(binary)' '\(installed)' && test -x '\(installed)'").status == 0)
        #expect(first.output.contains("next steps:"), "\(first.output)")
        #expect(first.output.contains("MESA_SERVICE_DOMAIN=\(server.url) MESA_ORG=<org> MESA_API_KEY=<token> mesa mount -y"))
        #expect(first.output.contains("export PATH=\"\(home.appending("bin")):$PATH\""), "\(first.output)")
        let version = try Shell.run("'\(installed)' version")
        #expect(version.status == 0 && version.output.hasPrefix("mesa "))

        let modified = try FileManager.default.attributesOfItem(atPath: installed)[.modificationDate] as? Date
        let second = try Self.install(from: server.url, into: home)
        #expect(second.status == 0, "\(second.error)")
        #expect(second.error.contains("already this server's build"), "\(second.error)")
        #expect(try FileManager.default.attributesOfItem(atPath: installed)[.modificationDate] as? Date == modified)
    }

    /// A binary that does not match its checksum (changed in place, same size and time, after the server checksummed
    /// it) is refused by the script, and nothing is installed.
    @Test func aBinaryThatFailsItsChecksumIsNotInstalled() throws {
        let (release, binary) = try Self.releaseDirectory()
        let server = try ServerProcess(extraArguments: ["--release-dir", release.path])
        defer { server.stop() }
        let checksum = try Shell.run("curl -fsS '\(server.url)/download/mesa-linux-\(Self.architecture).sha256'")
        #expect(checksum.status == 0, "\(checksum.error)")
        let tampered = try Shell.run(
            "cp -p '\(binary)' '\(binary).time' && printf 'X' | dd of='\(binary)' bs=1 seek=4096 conv=notrunc 2>/dev/null "
                + "&& touch -r '\(binary).time' '\(binary)'")
        #expect(tampered.status == 0, "\(tampered.error)")
        let home = try TemporaryDirectory(prefix: "mesa-install-home")
        let result = try Self.install(from: server.url, into: home)
        #expect(result.status != 0)
        #expect(result.error.contains("nothing installed"), "\(result.error)")
        #expect(!FileManager.default.fileExists(atPath: home.appending("bin/mesa")))
    }

    /// A development server (no release directory, the toolchain's Swift libraries) offers nothing: the script stops
    /// with the server's explanation.
    @Test func aDevelopmentServerExplainsWhyItHasNothingToInstall() throws {
        let server = try ServerProcess()
        defer { server.stop() }
        let home = try TemporaryDirectory(prefix: "mesa-install-home")
        let result = try Self.install(from: server.url, into: home)
        #expect(result.status != 0)
        #expect(result.error.contains("HTTP 404"), "\(result.error)")
        #expect(result.error.contains("scripts/package.sh"), "\(result.error)")
        #expect(!FileManager.default.fileExists(atPath: home.appending("bin/mesa")))
    }

    @Test func aHostHeaderThatIsNotAHostNameIsRefused() throws {
        let server = try ServerProcess()
        defer { server.stop() }
        let refused = try Shell.run(
            "curl -s -o /dev/null -w '%{http_code}' -H 'Host: x;rm -rf ~' '\(server.url)/install.sh'")
        #expect(refused.output == "400")
        let named = try Shell.run("curl -fsS -H 'Host: mesa.internal:7411' '\(server.url)/install.sh'")
        #expect(named.output.contains("server=${MESA_SERVER:-http://mesa.internal:7411}"))
    }
}
