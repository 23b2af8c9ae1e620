#!/usr/bin/env bash
# `mesa import` over loopback: import time and push throughput of a generated git repository.
#
#   Benchmarks/import-bench.sh [FILES] [MEGABYTES] [COMMITS]       (default 2000 files, 50 MB, 10 commits)
#
# Generates a deterministic repository (half source-like text, half incompressible bytes, in nested directories; the
# first commit adds every file, each later one edits a few), starts a release `mesa serve` on a free port with a fresh
# data directory, imports the repository, then imports it again (up to date: nothing is sent). Client and server
# share this machine's cores, so figures are for the pair. Prints the two JSON summaries and a table.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
files=${1:-2000}
megabytes=${2:-50}
commits=${3:-10}
swift build -c release --product mesa >/dev/null
mesa=$PWD/.build/release/mesa
work=$(mktemp -d /tmp/mesa-import-bench.XXXXXX)
trap 'kill $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT

export GIT_AUTHOR_DATE="@1700000000 +0000" GIT_COMMITTER_DATE="@1700000000 +0000" GIT_CONFIG_NOSYSTEM=1
git init -q -b main "$work/src"
python3 - "$work/src" "$files" "$megabytes" <<'PY'
import os, random, sys
root, files, megabytes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(42)
words = [b"let", b"var", b"func", b"return", b"if", b"else", b"for", b"in", b"struct", b"self", b"value", b"{", b"}"]
average = megabytes * 1_000_000 // files
for index in range(files):
    size = rng.randint(average // 10, average * 19 // 10)
    directory = os.path.join(root, f"module{index % 40}", f"part{index % 7}")
    os.makedirs(directory, exist_ok=True)
    if index % 2:
        data = rng.randbytes(size)
        name = f"asset{index}.bin"
    else:
        out = bytearray()
        while len(out) < size:
            out += rng.choice(words) + (b"\n" if rng.random() < 0.1 else b" ")
        data = bytes(out[:size])
        name = f"source{index}.swift"
    with open(os.path.join(directory, name), "wb") as handle:
        handle.write(data)
PY
g() { git -C "$work/src" -c user.name=bench -c user.email=bench@example.com "$@"; }
g add -A && g commit -q -m "initial"
for n in $(seq 2 "$commits"); do
    echo "edit $n" >>"$work/src/module$((n % 40))/part0/notes.txt"
    g add -A && g commit -q -m "edit $n"
done
bytes=$(du -sb --exclude=.git "$work/src" | cut -f1)

"$mesa" serve --data-dir "$work/data" --listen 127.0.0.1:0 --log-level error >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
export MESA_SERVICE_DOMAIN=$(sed -n 's/^listening on //p' "$work/serve.log")
export MESA_API_KEY=$(cat "$work/data/admin.key")

if [[ -x /usr/bin/time ]]; then
    first=$(/usr/bin/time -f "%M" -o "$work/rss" "$mesa" import "$work/src" --repo bench --json)
else
    first=$("$mesa" import "$work/src" --repo bench --json)
fi
rss_kib=$(cat "$work/rss" 2>/dev/null || echo 0)
again=$("$mesa" import "$work/src" --repo bench --json)
echo "$first"
echo "$again"
python3 - "$first" "$again" "$bytes" "$files" "$commits" "$rss_kib" <<'PY'
import json, sys
first, again = json.loads(sys.argv[1]), json.loads(sys.argv[2])
size, files, commits, rss = int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
push = first["push_seconds"]
print("| what | figure |")
print("|---|---:|")
print(f"| repository | {files} files, {size / 1e6:.1f} MB, {commits} commits |")
print(f"| import, whole command | {first['seconds']:.2f} s |")
print(f"| push (one streaming request) | {first['records_sent']} records, {first['bytes_sent'] / 1e6:.1f} MB in {push:.2f} s = {first['bytes_sent'] / 1e6 / push:.1f} MB/s |")
if rss:
    print(f"| peak memory of the import process | {rss / 1024:.0f} MiB |")
print(f"| second import (up to date) | {again['seconds']:.2f} s, {again['records_sent']} records |")
PY
