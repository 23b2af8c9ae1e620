#!/usr/bin/env bash
# Builds the release binary that runs where Swift is not installed: `mesa` with the Swift runtime and standard
# library linked in (--static-swift-stdlib), stripped, as dist/mesa-linux-<arch> with dist/mesa-linux-<arch>.sha256.
# It then needs only the system libraries listed in README.md ("Run it in a sandbox"); this script refuses a binary
# that needs anything else. `mesa serve --release-dir dist` serves it to `install.sh`.
#
# Usage: scripts/package.sh [--scratch-path DIR]   (default .build-release, so the debug build in .build is kept)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

scratch=.build-release
if [[ ${1:-} == --scratch-path ]]; then scratch=$2; fi

case $(uname -m) in
x86_64 | amd64) arch=x86_64 ;;
aarch64 | arm64) arch=aarch64 ;;
*) echo "package: no release build for $(uname -m)" >&2; exit 1 ;;
esac
name=mesa-linux-$arch

started=$(date +%s)
swift build -c release --static-swift-stdlib --product mesa --scratch-path "$scratch"
built=$(swift build -c release --static-swift-stdlib --scratch-path "$scratch" --show-bin-path)/mesa
seconds=$(($(date +%s) - started))

mkdir -p dist
# Symbols only serve debuggers; stripping halves the download. The Swift metadata sections stay.
strip -o "dist/$name.partial" "$built"

# The libraries it may need at run time: the five of the shims and SQLite, and glibc's and GCC's run-time libraries
# (every Linux system has them). Anything else, a Swift library above all, means the build is not self-contained.
allowed='^(libfuse3\.so\.3|libgit2\.so\.[0-9.]+|libcurl\.so\.4|libzstd\.so\.1|libsqlite3\.so\.0|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libutil\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1|ld-linux[-a-z0-9_.]*\.so\.[0-9]+)$'
needed=$(readelf -d "dist/$name.partial" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
unexpected=$(grep -Ev "$allowed" <<<"$needed" || true)
if [[ -n $unexpected ]]; then
    rm -f "dist/$name.partial"
    echo "package: the binary needs libraries a sandbox does not have: $unexpected" >&2
    exit 1
fi
mv -f "dist/$name.partial" "dist/$name"
(cd dist && sha256sum "$name" >"$name.sha256")

echo "package: dist/$name ($(du -m "dist/$name" | cut -f 1) MiB stripped, built in ${seconds} s)"
echo "package: needs $(tr '\n' ' ' <<<"$needed")"
echo "package: $(cat "dist/$name.sha256")"
