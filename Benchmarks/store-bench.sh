#!/usr/bin/env bash
# Store benchmark: chunking, SHA-256, zstd and the ingest pipeline, beside sha256sum and zstd on the same file in
# the same run. Prints a markdown table and writes JSON to bench-out/store.json.
#
#   Benchmarks/store-bench.sh [INPUT]     default input: a 512 MiB tar of /usr/include and Swift's libraries
#
# Ingest on one core runs under `taskset -c 0`; "both cores" uses every core. Inputs are read once first so that
# every contender reads from the page cache. Run it on an otherwise idle machine (no build in the background).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
swift build -c release --product mesa >/dev/null
mesa=$PWD/.build/release/mesa
out=bench-out
mkdir -p "$out"
input=${1:-$out/corpus.tar}
if [[ ! -s $input ]]; then
    tar -cf - -C / usr/include opt/swift/usr/lib/swift 2>/dev/null | head -c $((512 << 20)) >"$input" || true
fi
bytes=$(stat -c %s "$input")
cat "$input" >/dev/null
scratch=$(mktemp -d /tmp/mesa-bench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

# Seconds of the best of 3 runs of a shell command; the optional second command runs untimed before each run.
best() {
    local best=""
    for _ in 1 2 3; do
        local start end
        [[ -n ${2:-} ]] && bash -c "$2"
        start=$(date +%s.%N)
        bash -c "$1" >/dev/null 2>&1
        end=$(date +%s.%N)
        best=$(python3 -c "b='$best'; t=$end-$start; print(t if not b or t < float(b) else b)")
    done
    echo "$best"
}

declare -A seconds
seconds[sha256sum]=$(best "sha256sum '$input'")
seconds[zstd-1-T1]=$(best "zstd -q -1 -T1 -c '$input' >/dev/null")
seconds[zstd-1-T2]=$(best "zstd -q -1 -T2 -c '$input' >/dev/null")
seconds[mesa-debug-chunk]=$(best "'$mesa' debug chunk '$input' >/dev/null")
seconds[ingest-1core]=$(best "taskset -c 0 '$mesa' debug store ingest --store '$scratch/s1' --threads 1 '$input'" "rm -rf '$scratch/s1'")
seconds[ingest-2cores]=$(best "'$mesa' debug store ingest --store '$scratch/s2' --threads 2 '$input'" "rm -rf '$scratch/s2'")
stages=$("$mesa" debug bench-store --scratch "$scratch" "$input")

python3 - "$bytes" "$out/store.json" <<PY
import json, sys
size = int(sys.argv[1])
seconds = {$(for k in "${!seconds[@]}"; do printf '"%s": %s, ' "$k" "${seconds[$k]}"; done)}
stages = [json.loads(line) for line in """$stages""".splitlines() if line.strip()]
rate = {k: size / v / 1e6 for k, v in seconds.items()}
for s in stages:
    rate["in-process " + s["stage"]] = s["mb_per_s"]
print(f"Input: {size / 2**20:.0f} MiB\n")
print("| what | MB/s | ratio |")
print("|---|---:|---|")
rows = [
    ("sha256sum (baseline)", rate["sha256sum"], ""),
    ("mesa debug chunk (chunk + SHA-256, process)", rate["mesa-debug-chunk"], f"{rate['mesa-debug-chunk'] / rate['sha256sum']:.2f}x sha256sum"),
    ("zstd -1 -T1 (baseline)", rate["zstd-1-T1"], ""),
    ("zstd -1 -T2 (baseline)", rate["zstd-1-T2"], ""),
    ("mesa debug store ingest, 1 core (taskset)", rate["ingest-1core"], f"{rate['ingest-1core'] / rate['zstd-1-T1']:.2f}x zstd -T1"),
    ("mesa debug store ingest, both cores", rate["ingest-2cores"], f"{rate['ingest-2cores'] / rate['zstd-1-T2']:.2f}x zstd -T2"),
]
for s in stages:
    rows.append((f"in-process {s['stage']}", s["mb_per_s"], ""))
for name, value, ratio in rows:
    print(f"| {name} | {value:,.0f} | {ratio} |")
json.dump({"input_bytes": size, "seconds": seconds, "mb_per_s": rate, "stages": stages}, open(sys.argv[2], "w"), indent=2)
PY
