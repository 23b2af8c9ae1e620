#!/usr/bin/env bash
# The write benchmark: a writable `mesa mount` against a local `mesa serve` (loopback), side by side with the native
# disk in the same run. Every mount figure includes `mesa sync` (the edits are on the server when the clock stops);
# every native figure of a workload includes `sync -f` of the native directory's filesystem.
#
#   Benchmarks/write-bench.sh [--only STEP[,STEP...]] [--large-mib N] [--small-files N] [--tree-files N]
#                             [--rm-files N] [--make-files N] [--build debug|release]
#                             [--mesa PATH (a built binary; no build)]
#
# Steps (`--only` takes their names or a group: `tree` = untar,rm; `agent` = untar,git,venv,rm-many,make;
# `all`, the default, runs every step):
#   large    sequential write of a large file (dd, 1 MiB blocks, fsync) through the mount vs into the state
#            directory's disk, its upload, and a 1-byte edit in it: bytes the upload sent, and what the server
#            process read meanwhile (rchar and read_bytes of /proc/PID/io; if strace is installed, a second edit,
#            untimed, splits the server's reads into chunk store, metadata database and sockets);
#   small    N edited small files (N = 1, 100 and --small-files): time until synced and uploads it took;
#   untar    untar of a --tree-files source tree: mount (with sync) vs native;
#   git      `git init && git add -A && git commit` inside that tree (.git is local-only on the mount by the
#            built-in .mesaignore, so the sync has nothing of it to upload); the trees git records must match;
#   rm       `rm -rf` of the untarred tree (its .git, if the git step made one, removed first, untimed);
#   venv     `python3 -m venv` (with pip; needs Debian's python3-venv) in the repository;
#   rm-many  `rm -rf` of a --rm-files tree, made (and synced) beforehand, untimed;
#   make     `make -j2` of a generated C project of --make-files sources, copied in (and synced) beforehand,
#            untimed; the mount's sync uploads the objects and the binary (nothing ignores them).
# Prints a markdown table. Needs root (FUSE). Figures in docs/Benchmarking.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
large_mib=1024 small_files=1000 tree_files=5000 rm_files=20000 make_files=200 build=release mesa= only=all
while [[ $# -gt 0 ]]; do
    case $1 in
    --only) only=$2; shift 2 ;;
    --large-mib) large_mib=$2; shift 2 ;;
    --small-files) small_files=$2; shift 2 ;;
    --tree-files) tree_files=$2; shift 2 ;;
    --rm-files) rm_files=$2; shift 2 ;;
    --make-files) make_files=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --mesa) mesa=$2; shift 2 ;;
    *) echo "write-bench: unknown argument $1" >&2; exit 2 ;;
    esac
done
steps=,
IFS=, read -ra requested <<<"$only"
for step in "${requested[@]}"; do
    case $step in
    all) steps+=large,small,untar,git,rm,venv,rm-many,make, ;;
    tree) steps+=untar,rm, ;;
    agent) steps+=untar,git,venv,rm-many,make, ;;
    large | small | untar | git | rm | venv | rm-many | make) steps+=$step, ;;
    *)
        echo "write-bench: unknown step $step (steps: large small untar git rm venv rm-many make;" \
            "groups: tree agent all)" >&2
        exit 2
        ;;
    esac
done
selected() { [[ $steps == *,$1,* ]]; }
# Tools the chosen steps need, checked before anything starts, so a missing one is named rather than failing later.
if selected venv && ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    echo "write-bench: the venv step needs python3's venv and ensurepip modules, which Debian ships in python3-venv:" \
        "apt-get install python3-venv (or leave the step out: --only with the other steps)" >&2
    exit 2
fi
for tool in git:git make:make make:cc; do
    if selected "${tool%%:*}" && ! command -v "${tool#*:}" >/dev/null; then
        echo "write-bench: the ${tool%%:*} step needs ${tool#*:}, which is not on PATH" \
            "(Debian: apt-get install ${tool#*:}; for cc: build-essential)" >&2
        exit 2
    fi
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
    # On a failure, the daemon's last words say more than the step that stopped.
    [[ $? == 0 ]] || tail -n 20 "$work/mount.log" >&2 2>/dev/null || true
    "$mesa" unmount >/dev/null 2>&1 || true
    # A daemon that did not answer leaves its mount behind: detach it, so the rm below cannot walk into it.
    if mountpoint -q "$MESA_MOUNT_POINT" 2>/dev/null; then fusermount3 -uz "$MESA_MOUNT_POINT" || true; fi
    kill $server 2>/dev/null || true
    wait $server 2>/dev/null || true
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
for _ in $(seq 1 100); do grep -q "^listening on" "$work/serve.log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.log")
export MESA_SERVICE_DOMAIN=$url MESA_API_KEY=$(cat "$work/server/admin.key")
"$mesa" repo create bench >/dev/null
MESA_DAEMON_LOG_FILE=$work/mount.log "$mesa" mount -d >/dev/null
repo=$MESA_MOUNT_POINT/local/bench
native=$work/native && mkdir -p "$native"

now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }
status() { "$mesa" status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['local/bench.$1'])"; }
# A failed `mesa sync` is reported (and makes the script exit 1 at the end), then retried once, so the other steps
# still run: an upload that reads a file while it is written fails ("changed size while it was being read"), and a
# sync waiting on it reports that failure (seen 2026-12-05 with the 1 GiB dd).
mesa_sync() {
    local error
    if ! error=$("$mesa" sync --timeout 3600 2>&1 >/dev/null); then
        problem "mesa sync failed, retried once: ${error%%$'\n'*}"
        "$mesa" sync --timeout 3600 >/dev/null
    fi
}
# The bytes every upload so far sent, from the daemon's `uploaded` log lines.
bytes_sent() { grep -o 'bytes_sent=[0-9]*' "$work/mount.log" | awk -F= '{ sum += $2 } END { print sum + 0 }'; }
# The server process's rchar and read_bytes so far (its threads together), from /proc/PID/io.
server_io() { awk '$1 == "rchar:" { r = $2 } $1 == "read_bytes:" { b = $2 } END { print r, b }' "/proc/$server/io"; }
rows=() problems=()
row() { rows+=("| $1 | $2 | $3 | $4 |"); }
problem() { problems+=("$1"); echo "write-bench: $1" >&2; }
mesa_sync

# Times `$2 DIR` with DIR the native directory (then `sync -f`) and with DIR the repository on the mount (then `mesa
# sync`), and adds a row: mount and native seconds, the ratio, the sync's share and the uploads it made.
compare() {
    local label=$1 workload=$2 start middle end native_seconds mount_seconds uploads bytes
    start=$(now); "$workload" "$native"; sync -f "$native"; end=$(now)
    native_seconds=$(elapsed "$start" "$end")
    uploads=$(status uploads) bytes=$(bytes_sent)
    start=$(now); "$workload" "$repo"; middle=$(now); mesa_sync; end=$(now)
    mount_seconds=$(elapsed "$start" "$end")
    row "$label (+ sync)" "$mount_seconds s" "$native_seconds s" \
        "$(python3 -c "print(f'{$mount_seconds/max($native_seconds,0.001):.1f}x native')"); the sync $(elapsed \
        "$middle" "$end") s; $(($(status uploads) - uploads)) upload(s), $(($(bytes_sent) - bytes)) bytes sent"
}

if selected large; then
    # Sequential write of random bytes (zeros would deduplicate into one chunk), read from the page cache.
    head -c $((large_mib << 20)) /dev/urandom >"$work/random.bin"
    cat "$work/random.bin" >/dev/null
    start=$(now); dd if="$work/random.bin" of="$native/large.bin" bs=1M conv=fsync status=none; end=$(now)
    native_seconds=$(elapsed "$start" "$end")
    start=$(now); dd if="$work/random.bin" of="$repo/large.bin" bs=1M conv=fsync status=none; end=$(now)
    mount_seconds=$(elapsed "$start" "$end")
    row "sequential write of $large_mib MiB (dd, fsync)" \
        "$(python3 -c "print(f'{$large_mib/$mount_seconds:.0f} MiB/s')")" \
        "$(python3 -c "print(f'{$large_mib/$native_seconds:.0f} MiB/s')")" \
        "$(python3 -c "print(f'{$native_seconds/$mount_seconds:.2f}x native')")"
    start=$(now); mesa_sync; end=$(now)
    row "upload of that file (mesa sync)" "$(elapsed "$start" "$end") s" "-" "$(status last_upload_bytes_sent) bytes sent"

    # A 1-byte edit in the middle of the large file, and what the server process read while it was synced: rchar
    # (every read(2)-family byte, the request bodies from its sockets included) and read_bytes (what reached the
    # block layer: page-cache misses), from /proc/PID/io before and after the sync.
    printf 'x' | dd of="$repo/large.bin" bs=1 seek=$((large_mib * 524288)) conv=notrunc status=none
    bytes=$(bytes_sent) io_before=$(server_io)
    start=$(now); mesa_sync; end=$(now)
    read -r rchar read_bytes <<<"$(server_io)"
    rchar=$((rchar - ${io_before% *})) read_bytes=$((read_bytes - ${io_before#* }))
    sent=$(($(bytes_sent) - bytes))
    row "1-byte edit in the $large_mib MiB file, synced" "$(elapsed "$start" "$end") s" "-" \
        "$sent bytes sent; the server read (/proc/PID/io) rchar $rchar bytes, read_bytes $read_bytes"
    # rchar cannot tell chunk content from requests and database pages: a second 1-byte edit, synced with strace
    # attached to the server (untimed), splits the server's reads by what it read from.
    if command -v strace >/dev/null; then
        printf 'y' | dd of="$repo/large.bin" bs=1 seek=$((large_mib * 262144)) conv=notrunc status=none
        strace -f -qq -p "$server" -e trace=openat,read,pread64,readv,preadv,preadv2,recvfrom,recvmsg -e signal=none \
            -o "$work/server.strace" &
        tracer=$!
        sleep 1 # strace attaches to every thread before the sync starts
        mesa_sync
        sleep 0.5
        kill "$tracer" && wait "$tracer" 2>/dev/null || true
        row "another 1-byte edit, synced (strace on the server, untimed)" "-" "-" \
            "the server read $(python3 - "$work/server.strace" "$server" <<'PY'
import os, re, sys
fds = {}  # fd -> path, from the openat calls seen, else the process's fd table now
for fd in os.listdir(f"/proc/{sys.argv[2]}/fd"):
    try: fds[fd] = os.readlink(f"/proc/{sys.argv[2]}/fd/{fd}")
    except OSError: pass
totals = {"chunk store": 0, "metadata database": 0, "sockets (requests)": 0, "other": 0}
for line in open(sys.argv[1]):
    opened = re.match(r'\d+\s+openat\(\w+, "([^"]*)".*\)\s+=\s+(\d+)', line)
    if opened:
        fds[opened.group(2)] = opened.group(1)
        continue
    read = re.match(r'\d+\s+\w+\((\d+),.*\)\s+=\s+(\d+)$', line)
    if not read: continue
    path = fds.get(read.group(1), "")
    kind = ("chunk store" if "/store/" in path else "metadata database" if ".sqlite" in path
            else "sockets (requests)" if path.startswith("socket:") else "other")
    totals[kind] += int(read.group(2))
print(", ".join(f"{kind} {count} bytes" for kind, count in totals.items()))
PY
)"
    fi
    rm -f "$work/random.bin" "$native/large.bin" "$repo/large.bin"
    mesa_sync
fi

if selected small; then
    # N edited small files.
    for count in 1 100 "$small_files"; do
        before=$(status uploads)
        start=$(now)
        for index in $(seq 1 "$count"); do echo "file $index at $start" >"$repo/small-$index.txt"; done
        mesa_sync
        end=$(now)
        row "$count small files written and synced" "$(elapsed "$start" "$end") s" "-" \
            "$(($(status uploads) - before)) upload(s), $(status last_upload_bytes_sent) bytes in the last"
    done
fi

# The source tree of the untar, git and rm steps: --tree-files C files in 350 directories, 0.1-2 KB each.
untar() { mkdir -p "$1/untar" && tar -C "$1/untar" -xf "$work/tree.tar"; }
if selected untar || selected git || selected rm; then
    mkdir -p "$work/tree"
    python3 - "$work/tree" "$tree_files" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
random.seed(7)
for index in range(count):
    directory = os.path.join(root, f"src/module{index % 50}/part{index % 7}")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"file{index}.c"), "w") as out:
        out.write(f"int f{index}(void) {{ return {index}; }}\n" * random.randint(5, 60))
PY
    tar -C "$work/tree" -cf "$work/tree.tar" .
    if selected untar; then
        compare "untar of $tree_files files" untar
    else
        untar "$native" && untar "$repo" && mesa_sync
    fi
fi

# git's own work in the untarred tree: hash and store every file, write the index and the commit. Fixed names and
# dates make the two commits identical, so a difference in what git read through the mount shows.
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_AUTHOR_DATE="2026-01-01T00:00:00Z"
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
git_commit() { git -C "$1/untar" -c init.defaultBranch=main init -q && git -C "$1/untar" add -A &&
    git -C "$1/untar" commit -q -m x; }
if selected git; then
    compare "\`git init && git add -A && git commit\` in those $tree_files files" git_commit
    native_commit=$(git -C "$native/untar" rev-parse HEAD) mount_commit=$(git -C "$repo/untar" rev-parse HEAD)
    [[ $native_commit == "$mount_commit" ]] ||
        problem "git: the commit on the mount ($mount_commit) differs from the native one ($native_commit)"
    changed=$(git -C "$repo/untar" status --porcelain | wc -l)
    ((changed == 0)) || problem "git: \`git status\` on the mount lists $changed changed paths right after the commit"
fi

remove_untar() { rm -rf "$1/untar"; }
if selected rm; then
    rm -rf "$native/untar/.git" "$repo/untar/.git"
    compare "\`rm -rf\` of those $tree_files files" remove_untar
    [[ ! -e $repo/untar ]] || problem "rm: $repo/untar still exists after rm -rf"
fi

# A new virtual environment with pip, as an agent makes before installing a project's dependencies: about 1,650
# entries (pip's files), 26 MB, mostly pip unpacking its wheel.
make_venv() { python3 -m venv "$1/venv"; }
if selected venv; then
    compare "\`python3 -m venv\` (with pip)" make_venv
    "$repo/venv/bin/python" -m pip --version >/dev/null || problem "venv: pip of the venv on the mount does not run"
fi

# --rm-files files in nested package-like directories (a node_modules), 0.1-4 KB each, made in both places and
# synced beforehand.
remove_many() { rm -rf "$1/many"; }
if selected rm-many; then
    mkdir -p "$work/many"
    python3 - "$work/many" "$rm_files" <<'PY'
import os, random, sys
root, count = sys.argv[1], int(sys.argv[2])
random.seed(11)
for index in range(count):
    directory = os.path.join(root, f"node_modules/pkg{index // 40}/lib/sub{index % 4}")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, f"file{index}.js"), "w") as out:
        out.write(f"module.exports.f{index} = () => {index};\n" * random.randint(3, 100))
PY
    tar -C "$work/many" -cf "$work/many.tar" .
    for place in "$native" "$repo"; do mkdir -p "$place/many" && tar -C "$place/many" -xf "$work/many.tar"; done
    sync -f "$native" && mesa_sync
    compare "\`rm -rf\` of $rm_files files" remove_many
    [[ ! -e $repo/many ]] || problem "rm-many: $repo/many still exists after rm -rf"
    rm -rf "$work/many" "$work/many.tar"
fi

# A generated C project: --make-files sources of a few functions each, 20 headers, a main that calls one function
# of each source, and a Makefile with dependency files (-MMD), built with `make -j2` in place (objects beside the
# sources). Copied in and synced beforehand; the binary's output must match the native one's.
build_project() { make -s -j2 -C "$1/project"; }
if selected make; then
    python3 - "$work/project" "$make_files" <<'PY'
import os, sys
root, count = sys.argv[1], int(sys.argv[2])
os.makedirs(os.path.join(root, "src"))
os.makedirs(os.path.join(root, "include"))
for header in range(20):
    with open(os.path.join(root, f"include/group{header}.h"), "w") as out:
        out.write(f"#ifndef GROUP{header}_H\n#define GROUP{header}_H\n#include <stddef.h>\n")
        out.write(f"struct group{header} {{ long values[16]; size_t count; }};\n")
        for index in range(header, count, 20):
            out.write(f"long module{index}(long seed);\n")
        out.write("#endif\n")
for index in range(count):
    header = index % 20
    with open(os.path.join(root, f"src/module{index}.c"), "w") as out:
        out.write(f'#include <string.h>\n#include "group{header}.h"\n\n')
        for helper in range(8):
            out.write(f"static long step{helper}(struct group{header} *g, long x) {{\n")
            out.write(f"    for (size_t i = 0; i < g->count; i++) g->values[i] = (g->values[i] * {helper + 3} + x) % 1000003;\n")
            out.write(f"    return g->values[x % 16] + {index * 8 + helper};\n}}\n\n")
        out.write(f"long module{index}(long seed) {{\n    struct group{header} g;\n")
        out.write("    memset(&g, 0, sizeof g);\n    g.count = 16;\n    long x = seed;\n")
        for helper in range(8):
            out.write(f"    x = step{helper}(&g, x);\n")
        out.write("    return x;\n}\n")
with open(os.path.join(root, "src/main.c"), "w") as out:
    out.write("#include <stdio.h>\n")
    for header in range(20):
        out.write(f'#include "group{header}.h"\n')
    out.write("int main(void) {\n    long sum = 0;\n")
    for index in range(count):
        out.write(f"    sum += module{index}({index});\n")
    out.write('    printf("%ld\\n", sum);\n    return 0;\n}\n')
with open(os.path.join(root, "Makefile"), "w") as out:
    out.write("CFLAGS = -O2 -Wall -Iinclude\nSOURCES = $(wildcard src/*.c)\nOBJECTS = $(SOURCES:.c=.o)\n\n")
    out.write("app: $(OBJECTS)\n\t$(CC) -o $@ $(OBJECTS)\n\n")
    out.write("src/%.o: src/%.c\n\t$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<\n\n")
    out.write("-include $(OBJECTS:.o=.d)\n")
PY
    for place in "$native" "$repo"; do cp -r "$work/project" "$place/project"; done
    sync -f "$native" && mesa_sync
    compare "\`make -j2\` of $make_files C files (objects and binary uploaded)" build_project
    native_output=$("$native/project/app") mount_output=$("$repo/project/app") ||
        problem "make: the binary built on the mount does not run"
    [[ $native_output == "${mount_output:-}" ]] ||
        problem "make: the binary built on the mount prints ${mount_output:-nothing}, the native one $native_output"
fi

echo "| What | mount | native | note |"
echo "|---|---|---|---|"
printf '%s\n' "${rows[@]}"
if ((${#problems[@]} > 0)); then
    printf 'problem: %s\n' "${problems[@]}"
    exit 1
fi
