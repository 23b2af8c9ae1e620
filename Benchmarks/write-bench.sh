#!/usr/bin/env bash
# The write benchmark: a writable `mesa mount` against a local `mesa serve` (loopback), side by side with the native
# disk in the same run. Every mount figure includes `mesa sync` (the edits are on the server when the clock stops).
#
#   Benchmarks/write-bench.sh [--large-mib N] [--small-files N] [--tree-files N] [--build debug|release]
#                             [--mesa PATH (a built binary; no build)]
#
# Steps:
#   sequential write of a large file (dd, 1 MiB blocks, fsync) through the mount vs into the state directory's disk;
#   a 1-byte edit in that file: bytes the upload sent;
#   N edited small files (N = 1, 100 and --small-files): time until synced and uploads it took;
#   untar of a --tree-files source tree, then `rm -rf` of it: mount (with sync) vs native.
# Prints a markdown table. Needs root (FUSE). Figures in docs/Benchmarking.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
large_mib=1024 small_files=1000 tree_files=5000 build=release mesa=
while [[ $# -gt 0 ]]; do
    case $1 in
    --large-mib) large_mib=$2; shift 2 ;;
    --small-files) small_files=$2; shift 2 ;;
    --tree-files) tree_files=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --mesa) mesa=$2; shift 2 ;;
    *) echo "write-bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
if [[ -z $mesa ]]; then
    scripts/bootstrap.sh
    swift build -c "$build" --product mesa >/dev/null
    mesa=$PWD/.build/$build/mesa
fi
work=$(mktemp -d /var/tmp/mesa-write-bench.XXXXXX)
"$mesa" serve --data-dir "$work/server" --listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
server=$!
export MESA_MOUNT_POINT=$work/mnt MESA_CACHE_PATH=$work/cache MESA_STATE_DIR=$work/state MESA_RUNTIME_DIR=$work/run
cleanup() {
    "$mesa" unmount >/dev/null 2>&1 || true
    kill $server 2>/dev/null || true
    wait $server 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do grep -q "^listening on" "$work/serve.log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.log")
export MESA_SERVICE_DOMAIN=$url MESA_API_KEY=$(cat "$work/server/admin.key")
"$mesa" repo create bench >/dev/null
"$mesa" mount -d >/dev/null
repo=$MESA_MOUNT_POINT/local/bench
native=$work/native && mkdir -p "$native"

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }
status() { "$mesa" status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['local/bench.$1'])"; }
rows=()
row() { rows+=("| $1 | $2 | $3 | $4 |"); }

# Sequential write of random bytes (zeros would deduplicate into one chunk), read from the page cache.
head -c $((large_mib << 20)) /dev/urandom >"$work/random.bin"
cat "$work/random.bin" >/dev/null
start=$(now); dd if="$work/random.bin" of="$native/large.bin" bs=1M conv=fsync status=none; end=$(now)
native_seconds=$(elapsed "$start" "$end")
start=$(now); dd if="$work/random.bin" of="$repo/large.bin" bs=1M conv=fsync status=none; end=$(now)
mount_seconds=$(elapsed "$start" "$end")
row "sequential write of $large_mib MiB (dd, fsync)" "$(python3 -c "print(f'{$large_mib/$mount_seconds:.0f} MiB/s')")" \
    "$(python3 -c "print(f'{$large_mib/$native_seconds:.0f} MiB/s')")" \
    "$(python3 -c "print(f'{$native_seconds/$mount_seconds:.2f}x native')")"
start=$(now); "$mesa" sync --timeout 3600 >/dev/null; end=$(now)
row "upload of that file (mesa sync)" "$(elapsed "$start" "$end") s" "-" "$(status last_upload_bytes_sent) bytes sent"

# A 1-byte edit in the middle of the large file.
printf 'x' | dd of="$repo/large.bin" bs=1 seek=$((large_mib * 524288)) conv=notrunc status=none
start=$(now); "$mesa" sync --timeout 3600 >/dev/null; end=$(now)
row "1-byte edit in the $large_mib MiB file, synced" "$(elapsed "$start" "$end") s" "-" \
    "$(status last_upload_bytes_sent) bytes sent"

# N edited small files.
for count in 1 100 "$small_files"; do
    before=$(status uploads)
    start=$(now)
    for index in $(seq 1 "$count"); do echo "file $index at $start" >"$repo/small-$index.txt"; done
    "$mesa" sync --timeout 3600 >/dev/null
    end=$(now)
    row "$count small files written and synced" "$(elapsed "$start" "$end") s" "-" \
        "$(($(status uploads) - before)) upload(s), $(status last_upload_bytes_sent) bytes in the last"
done

# An untar of a source tree, then rm -rf, mount (synced) vs native.
tree=$work/tree && mkdir -p "$tree"
python3 - "$tree" "$tree_files" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
random.seed(7)
for index in range(count):
    directory = os.path.join(root, f"src/module{index % 50}/part{index % 7}")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"file{index}.c"), "w") as out:
        out.write(f"int f{index}(void) {{ return {index}; }}\n" * random.randint(5, 60))
PY
tar -C "$tree" -cf "$work/tree.tar" .
start=$(now); mkdir -p "$native/untar" && tar -C "$native/untar" -xf "$work/tree.tar" && sync -f "$native"; end=$(now)
native_untar=$(elapsed "$start" "$end")
start=$(now); mkdir -p "$repo/untar" && tar -C "$repo/untar" -xf "$work/tree.tar" && "$mesa" sync --timeout 3600 >/dev/null; end=$(now)
mount_untar=$(elapsed "$start" "$end")
row "untar of $tree_files files (+ sync)" "$mount_untar s" "$native_untar s" \
    "$(python3 -c "print(f'{$mount_untar/max($native_untar,0.001):.1f}x native')")"
start=$(now); rm -rf "$native/untar" && sync -f "$native"; end=$(now)
native_rm=$(elapsed "$start" "$end")
start=$(now); rm -rf "$repo/untar" && "$mesa" sync --timeout 3600 >/dev/null; end=$(now)
mount_rm=$(elapsed "$start" "$end")
row "rm -rf of $tree_files files (+ sync)" "$mount_rm s" "$native_rm s" \
    "$(python3 -c "print(f'{$mount_rm/max($native_rm,0.001):.1f}x native')")"

echo "| What | mount | native | note |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
