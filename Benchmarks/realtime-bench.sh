#!/usr/bin/env bash
# The realtime benchmark (issue 11): two writable mounts of one repository against a local `mesa serve`, optionally
# behind the project's delay proxy. Each round writes a file in mount A, runs `mesa sync` there, and measures from
# the moment the sync returned (the edit is on the server) until mount B reads the new content. Mount B first only
# reads, then (the second half of the rounds) also writes and uploads a file of its own per round, so it follows
# moves over local nodes too.
#
#   Benchmarks/realtime-bench.sh [--rounds N] [--delay-ms D] [--poll-ms P] [--build debug|release] [--mesa PATH]
#
# --poll-ms sets MESA_POLL_INTERVAL_MS (default 60000: the figures come from the long poll, not from polling).
# Prints p50, p90, p99 and the maximum. Needs root (FUSE). Figures in docs/Benchmarking.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
rounds=50 delay_ms=0 poll_ms=60000 build=release mesa=
while [[ $# -gt 0 ]]; do
    case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --delay-ms) delay_ms=$2; shift 2 ;;
    --poll-ms) poll_ms=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --mesa) mesa=$2; shift 2 ;;
    *) echo "realtime-bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [[ -z $mesa ]]; then
    scripts/bootstrap.sh
    swift build -c "$build" --product mesa >/dev/null
    mesa=$(swift build -c "$build" --show-bin-path)/mesa
fi
work=$(mktemp -d /var/tmp/mesa-realtime-bench.XXXXXX)
"$mesa" serve --data-dir "$work/server" --listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
server=$!
proxy=
cleanup() {
    for side in a b; do MESA_RUNTIME_DIR=$work/run-$side "$mesa" unmount >/dev/null 2>&1 || true; done
    for side in a b; do
        if mountpoint -q "$work/mnt-$side" 2>/dev/null; then fusermount3 -uz "$work/mnt-$side" || true; fi
    done
    [[ -z $proxy ]] || kill "$proxy" 2>/dev/null || true
    kill $server 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do grep -q "^listening on" "$work/serve.log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.log")
if ((delay_ms > 0)); then
    "$mesa" debug delay-proxy --listen 127.0.0.1:0 --upstream "${url#http://}" --delay-ms "$delay_ms" >"$work/proxy.log" 2>&1 &
    proxy=$!
    for _ in $(seq 1 100); do grep -q "listening on" "$work/proxy.log" && break; sleep 0.1; done
    url=http://$(sed -n 's/^listening on \([0-9.:]*\),.*/\1/p' "$work/proxy.log" | head -1)
fi
export MESA_SERVICE_DOMAIN=$url MESA_API_KEY=$(cat "$work/server/admin.key")
"$mesa" repo create bench >/dev/null
side() {
    local name=$1
    shift
    MESA_MOUNT_POINT=$work/mnt-$name MESA_CACHE_PATH=$work/cache-$name MESA_STATE_DIR=$work/state-$name \
        MESA_RUNTIME_DIR=$work/run-$name MESA_POLL_INTERVAL_MS=$poll_ms MESA_SYNC_QUIET_MS=600000 \
        MESA_SYNC_MAX_DELAY_MS=600000 "$mesa" "$@"
}
side a mount -d >/dev/null
echo start >"$work/mnt-a/local/bench/shared.txt"
side a sync --timeout 60 >/dev/null
side b mount -d >/dev/null
a=$work/mnt-a/local/bench b=$work/mnt-b/local/bench
[[ $(cat "$b/shared.txt") == start ]]
latencies=()
for round in $(seq 1 "$rounds"); do
    if ((round > rounds / 2)); then
        echo "b $round" >"$b/b-$round.txt"
        side b sync --timeout 60 >/dev/null
    fi
    echo "round $round" >"$a/shared.txt"
    side a sync --timeout 60 >/dev/null
    start=$(date +%s%N)
    until [[ $(cat "$b/shared.txt" 2>/dev/null) == "round $round" ]]; do
        if (($(date +%s%N) - start > 10000000000)); then
            echo "realtime-bench: round $round did not reach mount B within 10 s" >&2
            exit 1
        fi
        sleep 0.005
    done
    latencies+=($((($(date +%s%N) - start) / 1000)))
done
printf '%s\n' "${latencies[@]}" | python3 -c '
import sys
values = sorted(int(line) / 1e6 for line in sys.stdin)
def percentile(p):
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
print(f"| rounds | p50 | p90 | p99 | max |")
print(f"|---:|---:|---:|---:|---:|")
print(f"| {len(values)} | {percentile(50):.3f} s | {percentile(90):.3f} s | {percentile(99):.3f} s | {values[-1]:.3f} s |")
'
