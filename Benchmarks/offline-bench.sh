#!/usr/bin/env bash
# The offline benchmark (issue 11): a writable mount against a local `mesa serve` that is stopped and started again.
# Each round stops the server, reads files this mount never fetched (each must fail with EIO: the time to fail is
# measured), edits files, waits out an outage of --outage-s seconds (long enough for the upload back-off to grow),
# starts the server again on the same port and measures from the moment it listens until `mesa status` shows
# nothing pending (no `mesa sync`: the mount notices by itself). The edits are then checked over REST. Prefetch is
# off (MESA_PREFETCH_ENABLED=0): it would fetch the small files of a listed directory, and the files read offline must
# be ones this mount never fetched.
#
#   Benchmarks/offline-bench.sh [--rounds N] [--outage-s S] [--files F] [--build debug|release] [--mesa PATH]
#
# Prints every measurement and a summary table. Needs root (FUSE). Figures in docs/Benchmarking.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
rounds=5 outage_s=20 files=20 build=release mesa=
while [[ $# -gt 0 ]]; do
    case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --outage-s) outage_s=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --mesa) mesa=$2; shift 2 ;;
    *) echo "offline-bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [[ -z $mesa ]]; then
    scripts/bootstrap.sh
    swift build -c "$build" --product mesa >/dev/null
    mesa=$(swift build -c "$build" --show-bin-path)/mesa
fi
work=$(mktemp -d /var/tmp/mesa-offline-bench.XXXXXX)
server=
start_server() {
    "$mesa" serve --data-dir "$work/server" --listen "127.0.0.1:${1:-0}" >"$work/serve.log" 2>&1 &
    server=$!
    for _ in $(seq 1 200); do grep -q "^listening on" "$work/serve.log" && return 0; sleep 0.01; done
    echo "offline-bench: the server did not start" >&2
    exit 1
}
stop_server() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=
}
cleanup() {
    for name in seed measured; do
        MESA_RUNTIME_DIR=$work/run-$name "$mesa" unmount >/dev/null 2>&1 || true
        if mountpoint -q "$work/mnt-$name" 2>/dev/null; then fusermount3 -uz "$work/mnt-$name" || true; fi
    done
    [[ -z $server ]] || stop_server
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
start_server
url=$(sed -n 's/^listening on //p' "$work/serve.log")
port=${url##*:}
export MESA_SERVICE_DOMAIN=$url MESA_API_KEY=$(cat "$work/server/admin.key")
"$mesa" repo create bench >/dev/null
side=seed
mount_env() {
    MESA_MOUNT_POINT=$work/mnt-$side MESA_CACHE_PATH=$work/cache-$side MESA_STATE_DIR=$work/state-$side \
        MESA_RUNTIME_DIR=$work/run-$side MESA_SYNC_QUIET_MS=200 MESA_PREFETCH_ENABLED=0 "$mesa" "$@"
}
now_ns() { date +%s%N; }

# Seed, from a mount of its own: files the measured mount will have cached, and per round $files it never fetched.
mount_env mount -d >/dev/null
repo=$work/mnt-seed/local/bench
for i in $(seq 1 "$files"); do head -c 65536 /dev/urandom >"$repo/cached-$i.bin"; done
for round in $(seq 1 "$rounds"); do
    mkdir -p "$repo/cold-$round"
    for i in $(seq 1 "$files"); do head -c 65536 /dev/urandom >"$repo/cold-$round/$i.bin"; done
done
mount_env sync --timeout 120 >/dev/null
mount_env unmount >/dev/null
side=measured
mount_env mount -d >/dev/null
repo=$work/mnt-measured/local/bench
for i in $(seq 1 "$files"); do cat "$repo/cached-$i.bin" >/dev/null; done

pending() {
    mount_env status --json | python3 -c '
import json, sys
status = json.load(sys.stdin)
print(sum(int(value) for key, value in status.items() if key.endswith(".pending_files")))'
}
eio=() synced=()
for round in $(seq 1 "$rounds"); do
    stop_server
    for i in $(seq 1 "$files"); do
        begin=$(now_ns)
        if cat "$repo/cold-$round/$i.bin" >/dev/null 2>"$work/err"; then
            echo "offline-bench: an uncached read succeeded with the server down" >&2
            exit 1
        fi
        grep -q "Input/output error" "$work/err" || { cat "$work/err" >&2; exit 1; }
        eio+=($((($(now_ns) - begin) / 1000)))
    done
    for i in $(seq 1 "$files"); do echo "round $round file $i" >"$repo/edit-$i.txt"; done
    cat "$repo/cached-1.bin" >/dev/null
    sleep "$outage_s"
    [[ $(pending) -ge $files ]] || { echo "offline-bench: the edits are not pending" >&2; exit 1; }
    start_server "$port"
    begin=$(now_ns)
    until [[ $(pending) == 0 ]]; do
        if (($(now_ns) - begin > 120000000000)); then echo "offline-bench: not synced within 120 s" >&2; exit 1; fi
        sleep 0.02
    done
    synced+=($((($(now_ns) - begin) / 1000)))
    for i in 1 "$files"; do
        got=$(curl -sf -H "Authorization: Bearer $MESA_API_KEY" -H 'Accept: application/octet-stream' \
            "$url/v1/local/bench/content?path=edit-$i.txt")
        [[ $got == "round $round file $i" ]] || { echo "offline-bench: edit-$i.txt is '$got' on the server" >&2; exit 1; }
    done
    echo "round $round: synced $((${synced[-1]} / 1000)) ms after the server listened again"
done
{
    echo "eio ${eio[*]}"
    echo "synced ${synced[*]}"
} | python3 -c '
import sys
rows = {line.split()[0]: sorted(int(v) / 1e6 for v in line.split()[1:]) for line in sys.stdin}
def percentile(values, p):
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
print("| what | samples | p50 | p99 | max |")
print("|---|---:|---:|---:|---:|")
for name, label in (("eio", "uncached read offline -> EIO"), ("synced", "server back -> nothing pending")):
    v = rows[name]
    print(f"| {label} | {len(v)} | {percentile(v, 50):.3f} s | {percentile(v, 99):.3f} s | {v[-1]:.3f} s |")
'
