#!/usr/bin/env bash
# Installs what building and testing Mesa for Swift needs on Debian 12, idempotently: the C libraries behind the
# shims, SQLite for the metadata store, and the tools the tests, benchmarks and scripts drive (scripts/package.sh
# strips with binutils; scripts/sandbox-e2e.sh builds a root with mmdebstrap and enters it with unshare). Needs root
# (or sudo).
set -euo pipefail

packages=(
    libfuse3-dev fuse3 libgit2-dev libzstd-dev libcurl4-openssl-dev libsqlite3-dev pkg-config
    git zstd coreutils hyperfine
    curl binutils mmdebstrap util-linux
)

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "bootstrap: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    if [[ -x /opt/swift/usr/bin/swift ]]; then
        echo "bootstrap: add /opt/swift/usr/bin to PATH" >&2
    else
        echo "bootstrap: Swift 6.2 or newer is required (https://swift.org/install)" >&2
    fi
    exit 1
fi
