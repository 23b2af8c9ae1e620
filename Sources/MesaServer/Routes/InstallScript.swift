import Foundation

// The installer `GET /install.sh` answers (InstallRoutes.swift). POSIX sh (dash runs it), idempotent: a second run
// with the same build on the server downloads nothing and installs nothing. Steps: find the architecture; fetch the
// checksum, then the binary, and refuse it unless they agree; put it in place by rename (never a half-written
// `mesa`); find the shared libraries it lacks with `ldd` (or the loader's own message) and install their packages
// with apt-get or dnf when it may (root, or sudo without a password), else name them and the command to run; check
// that `mesa version` runs; print what is left: PATH, FUSE settings, the mount command.

/// The text of `install.sh`.
enum InstallScript {
    /// The script, downloading from `server` (`http://HOST:PORT`; `MESA_SERVER` overrides it when it runs).
    static func text(server: String) -> String {
        template.replacingOccurrences(of: "@MESA_SERVER@", with: server)
    }

    private static let template = #"""
        #!/bin/sh
        # Installs the mesa CLI from the Mesa server that served this script:
        #   curl -fsSL @MESA_SERVER@/install.sh | sh
        # Settings: MESA_SERVER (where to download from), MESA_INSTALL_DIR (default /usr/local/bin as root, else
        # ~/.local/bin), MESA_INSTALL_NO_PACKAGES=1 (never run apt-get or dnf). Running it again is harmless.
        set -eu

        server=${MESA_SERVER:-@MESA_SERVER@}
        server=${server%/}

        say() { printf 'mesa install: %s\n' "$*" >&2; }
        fail() {
            say "error: $*"
            exit 1
        }

        [ "$(uname -s)" = Linux ] || fail "mesa runs on Linux; this system is $(uname -s)"
        case $(uname -m) in
        x86_64 | amd64) arch=x86_64 ;;
        aarch64 | arm64) arch=aarch64 ;;
        *) fail "there is no mesa build for $(uname -m)" ;;
        esac
        asset=mesa-linux-$arch
        command -v curl >/dev/null 2>&1 || fail "curl is needed to download mesa"

        work=$(mktemp -d)
        trap 'rm -rf "$work"' EXIT
        trap 'exit 130' INT TERM

        # Downloads $1 to $2; on a refusal, shows the server's message.
        fetch() {
            status=$(curl -sS -L -o "$2" -w '%{http_code}' "$1") || fail "cannot download $1 (is $server reachable?)"
            if [ "$status" != 200 ]; then
                message=$(sed -n 's/.*"message":"\([^"]*\)".*/\1/p' "$2" 2>/dev/null | head -n 1)
                fail "$1 answered HTTP $status${message:+: $message}"
            fi
        }

        sha256_of() {
            if command -v sha256sum >/dev/null 2>&1; then
                sha256sum "$1" | cut -d ' ' -f 1
            elif command -v shasum >/dev/null 2>&1; then
                shasum -a 256 "$1" | cut -d ' ' -f 1
            elif command -v openssl >/dev/null 2>&1; then
                openssl dgst -sha256 -r "$1" | cut -d ' ' -f 1
            else
                fail "no sha256sum, shasum or openssl to verify the download with"
            fi
        }

        fetch "$server/download/$asset.sha256" "$work/checksum"
        expected=$(cut -d ' ' -f 1 "$work/checksum")
        case $expected in
        *[!0-9a-f]* | "") fail "the server's checksum of $asset is malformed" ;;
        esac
        [ ${#expected} -eq 64 ] || fail "the server's checksum of $asset is malformed"

        if [ -n "${MESA_INSTALL_DIR:-}" ]; then
            directory=$MESA_INSTALL_DIR
        elif [ "$(id -u)" -eq 0 ]; then
            directory=/usr/local/bin
        else
            directory=${HOME:?HOME is not set}/.local/bin
        fi
        target=$directory/mesa

        if [ -f "$target" ] && [ "$(sha256_of "$target")" = "$expected" ]; then
            say "$target is already this server's build ($expected)"
        else
            fetch "$server/download/$asset" "$work/mesa"
            actual=$(sha256_of "$work/mesa")
            [ "$actual" = "$expected" ] || fail "the download of $asset has SHA-256 $actual, not $expected: nothing installed"
            mkdir -p "$directory"
            # Copied beside the target, then renamed over it: a running mesa keeps its file, and no half-written binary
            # is ever at $target.
            cp "$work/mesa" "$target.partial.$$"
            chmod 755 "$target.partial.$$"
            mv -f "$target.partial.$$" "$target"
            say "installed $target ($expected)"
        fi

        # The shared libraries mesa lacks, one soname a line.
        missing_libraries() {
            if command -v ldd >/dev/null 2>&1; then
                ldd "$target" 2>/dev/null | awk '/=> not found/ { print $1 }'
            else
                "$target" version 2>&1 | sed -n 's/.*error while loading shared libraries: \([^:]*\):.*/\1/p'
            fi
        }

        # The Debian package of a soname mesa links.
        debian_package() {
            case $1 in
            libfuse3.so.*) echo libfuse3-3 ;;
            libgit2.so.*) echo "libgit2-${1#libgit2.so.}" ;;
            libcurl.so.4) echo libcurl4 ;;
            libzstd.so.1) echo libzstd1 ;;
            libsqlite3.so.0) echo libsqlite3-0 ;;
            *) echo "" ;;
            esac
        }

        if [ "$(id -u)" -eq 0 ]; then
            as_root=""
        elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            as_root="sudo -n"
        else
            as_root=none
        fi

        missing=$(missing_libraries)
        needs_fuse=""
        command -v fusermount3 >/dev/null 2>&1 || [ -x /usr/bin/fusermount3 ] || needs_fuse=yes
        if [ -n "$missing$needs_fuse" ] && [ "$as_root" != none ] && [ "${MESA_INSTALL_NO_PACKAGES:-0}" != 1 ]; then
            if command -v apt-get >/dev/null 2>&1; then
                packages=${needs_fuse:+fuse3}
                for library in $missing; do packages="$packages $(debian_package "$library")"; done
                say "installing ${packages# } (apt-get)"
                # A fresh image has no package lists: update once, then install.
                $as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 ||
                    fail "apt-get update failed"
                # shellcheck disable=SC2086
                $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages >&2 ||
                    fail "apt-get install$packages failed"
            elif command -v dnf >/dev/null 2>&1; then
                packages=${needs_fuse:+fuse3}
                for library in $missing; do packages="$packages $library()(64bit)"; done
                say "installing ${packages# } (dnf)"
                # shellcheck disable=SC2086
                $as_root dnf install -y -q $packages >&2 || fail "dnf install$packages failed"
            fi
            missing=$(missing_libraries)
            if command -v fusermount3 >/dev/null 2>&1 || [ -x /usr/bin/fusermount3 ]; then needs_fuse=""; fi
        fi
        if [ -n "$missing" ]; then
            say "mesa cannot run: these shared libraries are missing:"
            for library in $missing; do
                package=$(debian_package "$library")
                say "  $library${package:+ (Debian and Ubuntu: $package; Fedora: dnf install '$library()(64bit)')}"
            done
            fail "install them as root (apt-get install or dnf install), then run this script again"
        fi

        version=$("$target" version 2>&1) || fail "$target does not run: $version"
        say "$version is ready at $target"

        # What is left to do.
        echo "next steps:"
        case ":${PATH:-}:" in
        *":$directory:"*) ;;
        *) echo "  export PATH=\"$directory:\$PATH\"" ;;
        esac
        if [ -n "$needs_fuse" ]; then
            echo "  as root: apt-get install fuse3 (or dnf install fuse3), for fusermount3"
        fi
        if [ "$(id -u)" -ne 0 ] && ! grep -qs '^[[:space:]]*user_allow_other' /etc/fuse.conf; then
            echo "  as root: echo user_allow_other >> /etc/fuse.conf"
        fi
        if ! [ -r /dev/fuse ] || ! [ -w /dev/fuse ]; then
            echo "  as root: chmod 666 /dev/fuse (the sandbox must expose /dev/fuse)"
        fi
        echo "  MESA_SERVICE_DOMAIN=$server MESA_ORG=<org> MESA_API_KEY=<token> mesa mount -y"
        echo "  (your repositories then appear under \${MESA_MOUNT_POINT:-\$HOME/.local/share/mesa/mnt}/<org>/<repo>)"
        """#
}
