#!/usr/bin/env bash
# The lazy-fetch benchmark: a `mesa mount` of a large repository behind a delay proxy, side by side with git
# (`git daemon`: blobless clone + checkout of one file, shallow clone + grep), `rclone mount` over
# `rclone serve webdav` with `--vfs-cache-mode full`, and the native disk, all in one run.
#
#   Benchmarks/lazy-fetch-bench.sh [--files N] [--directories N] [--large-mib N] [--delay-ms D] [--repo GIT_DIR]
#                                  [--timeout S] [--json FILE] [--peers native,mesa,git,rclone]
#
# Defaults: a generated repository of 100,000 files in 10,000 directories with a 1 GiB file (kept in
# /var/tmp/mesa-lazy-bench between runs), 10 ms each way (20 ms round trip), 180 s at most per step. Needs root
# (FUSE, dropping the page cache), git and rclone (installed here when missing). Prints a markdown table and writes
# JSON (default bench-out/lazy-fetch-bench.json). See docs/Benchmarking.md for the latest figures.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/bootstrap.sh
command -v rclone >/dev/null || { apt-get install -y -qq rclone >/dev/null 2>&1 || echo "lazy-fetch-bench: rclone unavailable; its column stays empty" >&2; }
swift build -c release --product mesa >/dev/null
exec python3 Benchmarks/lazy_fetch_bench.py --mesa "$PWD/.build/release/mesa" "$@"
