#!/usr/bin/env bash
# The main job, until `mesa mount` exists: build `mesa`, generate a source-like file, ingest it into a fresh
# content store, prove it reads back byte for byte, and print the store's statistics.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/bootstrap.sh
swift build -c release --product mesa
mesa=.build/release/mesa
work=${MESA_DEMO_DIR:-$(mktemp -d /tmp/mesa-demo.XXXXXX)}
mkdir -p "$work"
input="$work/demo-input.tar"
if [[ ! -s $input ]]; then
    echo "demo: packing /usr/include and /usr/share/doc into $input"
    tar -cf "$input" -C / usr/include usr/share/doc 2>/dev/null || true
fi
echo "demo: ingesting $(du -h "$input" | cut -f1) into $work/store"
line=$("$mesa" debug store ingest --store "$work/store" --threads "$(nproc)" "$input")
echo "$line"
blob=$(echo "$line" | head -n 1 | cut -f1)
"$mesa" debug store cat --store "$work/store" "$blob" | cmp - "$input"
echo "demo: read back byte for byte; git agrees on the blob id: $(git hash-object "$input")"
"$mesa" debug store stats --store "$work/store"
echo "demo: store kept at $work/store (try: $mesa debug store fsck --store $work/store)"
