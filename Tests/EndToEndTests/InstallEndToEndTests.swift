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

    /// The package-manager paths as the script meets them on other systems, with stand-ins for the system's tools
    /// on a `PATH` of their own: `ldd` names two missing libraries until a package manager "installs" them, `id -u`
    /// says root or a user, and `apt-get` or `dnf` record what they were asked. The release is a small script that
    /// prints a version (the installer checks `mesa version` runs).
    @Test(arguments: ["apt-get", "dnf", "no root"])
    func missingLibrariesAreInstalledWithTheSystemsPackageManagerOrNamed(_ system: String) throws {
        let release = try TemporaryDirectory(prefix: "mesa-release")
        let name = "mesa-linux-\(Self.architecture)"
        let work = try TemporaryDirectory(prefix: "mesa-install-pm")
        let tools = work.appending("tools")
        var script = """
            set -e
            printf '#!/bin/sh\\necho mesa 0.0-test\\n' > '\(release.appending(name))'
            chmod 755 '\(release.appending(name))'
            cd '\(release.path)' && sha256sum \(name) > \(name).sha256
            mkdir -p '\(tools)'
            for tool in sh curl sha256sum cut mktemp uname sed awk head cp chmod mv mkdir rm cat env grep; do
                ln -s "$(command -v $tool)" '\(tools)'/$tool
            done
            cat > '\(tools)/ldd' <<'LDD'
            #!/bin/sh
            [ -e "$MARKER" ] || printf '\\tlibfuse3.so.3 => not found\\n\\tlibgit2.so.1.5 => not found\\n'
            LDD
            cat > '\(tools)/id' <<ID
            #!/bin/sh
            echo \(system == "no root" ? 1000 : 0)
            ID
            chmod 755 '\(tools)/ldd' '\(tools)/id'

            """
        if system != "no root" {
            script += """
                cat > '\(tools)/\(system)' <<'PM'
                #!/bin/sh
                echo "$*" >> "$LOG"
                case "$*" in *install*) : > "$MARKER" ;; esac
                PM
                chmod 755 '\(tools)/\(system)'

                """
        }
        #expect(try Shell.run(script).status == 0)
        let server = try ServerProcess(extraArguments: ["--release-dir", release.path])
        defer { server.stop() }
        let fetched = try Shell.run("curl -fsS '\(server.url)/install.sh' > '\(work.appending("install.sh"))'")
        #expect(fetched.status == 0, "\(fetched.error)")
        let run = try ProcessRunner.run(
            tools + "/sh", [work.appending("install.sh")],
            environment: [
                "PATH": tools, "HOME": work.path, "MESA_INSTALL_DIR": work.appending("bin"), "MESA_SERVER": "",
                "LOG": work.appending("log"), "MARKER": work.appending("installed"),
            ])
        let log = (try? String(contentsOfFile: work.appending("log"), encoding: .utf8)) ?? ""
        switch system {
        case "apt-get":
            #expect(run.status == 0, "\(run.error)")
            #expect(log.contains("update -qq") && log.contains("install -y -qq --no-install-recommends"), "\(log)")
            #expect(log.contains("libfuse3-3") && log.contains("libgit2-1.5"), "\(log)")
            #expect(run.error.contains("mesa 0.0-test is ready"), "\(run.error)")
        case "dnf":
            #expect(run.status == 0, "\(run.error)")
            #expect(log.contains("install -y -q") && log.contains("libfuse3.so.3()(64bit) libgit2.so.1.5()(64bit)"), "\(log)")
            #expect(run.error.contains("mesa 0.0-test is ready"), "\(run.error)")
        default:
            // No root and no sudo: nothing is run; the libraries are named with their packages and what to do.
            #expect(run.status != 0)
            #expect(log.isEmpty)
            #expect(run.error.contains("libfuse3.so.3 (Debian and Ubuntu: libfuse3-3; Fedora: dnf install 'libfuse3.so.3()(64bit)')"), "\(run.error)")
            #expect(run.error.contains("install them as root"), "\(run.error)")
        }
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
