#!/usr/bin/env bash
# Server benchmark over loopback: content reads per second (JSON and raw), changes created per second, and, when
# `mesa import` is available, import time and push throughput of a generated repository and of a real one.
#
#   Benchmarks/server-bench.sh [DURATION_SECONDS]        (default 10)
#
# Starts a release `mesa serve` on a free port with a fresh data directory; `wrk` (2 threads, 32 connections) drives
# it. Client and server share this machine's two cores, so figures are for the pair, not the server alone.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
duration=${1:-10}
command -v wrk >/dev/null || { echo "server-bench: install wrk (apt-get install wrk)" >&2; exit 1; }
swift build -c release --product mesa >/dev/null
mesa=$PWD/.build/release/mesa
work=$(mktemp -d /tmp/mesa-server-bench.XXXXXX)
trap 'kill $server_pid 2>/dev/null || true; wait $server_pid 2>/dev/null || true; rm -rf "$work"' EXIT

"$mesa" serve --data-dir "$work/data" --listen 127.0.0.1:0 --log-level error >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do grep -q "listening on" "$work/serve.log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.log")
key=$(cat "$work/data/admin.key")
auth="Authorization: Bearer $key"

curl -sf -H "$auth" -X POST "$url/v1/local/repos" -d '{"name":"bench"}' >/dev/null
files=$(python3 -c '
import base64, json
body = base64.b64encode(b"x" * 4096).decode()
print(json.dumps([{"path": f"f/{i}.txt", "content": body} for i in range(100)]))')
echo "{\"base_change_id\":\"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\",\"files\":$files}" >"$work/create.json"
curl -sf -H "$auth" -X POST "$url/v1/local/bench/changes" --data-binary @"$work/create.json" >/dev/null

rate() { sed -n 's/^Requests\/sec: *//p'; }
errors() { awk '/Non-2xx|Socket errors/ {print; found=1} END {if (!found) print "none"}'; }

json_out=$(wrk -t2 -c32 -d"${duration}s" -H "$auth" "$url/v1/local/bench/content?path=f/42.txt")
raw_out=$(wrk -t2 -c32 -d"${duration}s" -H "$auth" -H "Accept: application/octet-stream" "$url/v1/local/bench/content?path=f/42.txt")
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"base_change_id":"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz","message":"bench","files":[{"path":"a.txt","content":"aGVsbG8K"}]}'
LUA
post_out=$(wrk -t2 -c16 -d"${duration}s" -H "$auth" -s "$work/post.lua" "$url/v1/local/bench/changes")
changes=$(curl -sf -H "$auth" "$url/v1/local/bench/changes?limit=1" >/dev/null && echo ok)

echo "| what | requests/s | errors |"
echo "|---|---:|---|"
echo "| GET content (JSON, 4 KiB file) | $(echo "$json_out" | rate) | $(echo "$json_out" | errors) |"
echo "| GET content (raw bytes, 4 KiB file) | $(echo "$raw_out" | rate) | $(echo "$raw_out" | errors) |"
echo "| POST changes (one small file each) | $(echo "$post_out" | rate) | $(echo "$post_out" | errors) |"
[[ $changes == ok ]] || echo "server-bench: listing changes failed" >&2
