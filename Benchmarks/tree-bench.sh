#!/usr/bin/env bash
# Tree-model benchmarks (issue 3): import of a generated history and of a local git repository, a one-file edit
# in a 100k-file tree, and a diff of two 100k-file trees differing in 10 files.
#
# Usage: Benchmarks/tree-bench.sh [local-git-repo]
#   Builds `mesa` in release mode, then prints timings. The generated history is COMMITS commits (default 1000),
#   each rewriting FILES_PER_COMMIT files (default 5) of FILE_SIZE bytes (default 16384) of pseudo-random text.
#   The local repository defaults to the swift-crypto checkout under .build/checkouts (tip only: SwiftPM checks
#   out one commit).
set -euo pipefail
cd "$(dirname "$0")/.."

COMMITS=${COMMITS:-1000}
FILES_PER_COMMIT=${FILES_PER_COMMIT:-5}
FILE_SIZE=${FILE_SIZE:-16384}
LOCAL_REPO=${1:-.build/checkouts/swift-crypto}

swift build -c release --product mesa >/dev/null
MESA=$(swift build -c release --show-bin-path)/mesa
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mesa-tree-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
TIMEFORMAT='took %3R s (wall)'

echo "== generated history: $COMMITS commits x $FILES_PER_COMMIT files x $FILE_SIZE bytes"
git init -q -b main "$WORK/history"
python3 - "$COMMITS" "$FILES_PER_COMMIT" "$FILE_SIZE" <<'PY' | git -C "$WORK/history" fast-import --quiet
import random, sys
commits, per_commit, size = map(int, sys.argv[1:4])
rng = random.Random(1)
words = [b"let", b"var", b"func", b"return", b"if", b"else", b"struct", b"value", b"index", b"{", b"}", b"\n"]
out = sys.stdout.buffer
for number in range(commits):
    out.write(b"commit refs/heads/main\n")
    out.write(b"committer t <t@t> %d +0000\n" % (1700000000 + number))
    message = b"commit %d" % number
    out.write(b"data %d\n%s\n" % (len(message), message))
    for _ in range(per_commit):
        content = b" ".join(rng.choice(words) for _ in range(size // 4))[:size]
        path = b"dir%d/sub%d/file%d.txt" % (rng.randrange(20), rng.randrange(20), rng.randrange(50))
        out.write(b"M 100644 inline %s\ndata %d\n%s\n" % (path, len(content), content))
PY
echo "\$ mesa debug import $WORK/history --store <fresh>"
"$MESA" debug import "$WORK/history" --store "$WORK/store-history"
echo "\$ (again: nothing new)"
"$MESA" debug import "$WORK/history" --store "$WORK/store-history" | tail -2

echo
echo "== local repository: $LOCAL_REPO"
echo "\$ mesa debug import $LOCAL_REPO --store <fresh>"
"$MESA" debug import "$LOCAL_REPO" --store "$WORK/store-local"
echo "\$ mesa debug export <tip> <dir> --store <store>"
TIP=$(git -C "$LOCAL_REPO" rev-parse HEAD)
time "$MESA" debug export "$TIP" "$WORK/export" --store "$WORK/store-local"
echo "\$ mesa debug tree-hash <export>  vs  git write-tree"
time "$MESA" debug tree-hash "$WORK/export"
echo "git's tree id:  $(git -C "$LOCAL_REPO" rev-parse 'HEAD^{tree}')"

echo
echo "== 100k-file tree: build, one-file edits, diff of 10 changed files"
echo "\$ mesa debug tree-bench --store <fresh> --files 100000 --edits 20 --changed 10"
"$MESA" debug tree-bench --store "$WORK/store-bench" --files 100000 --edits 20 --changed 10
echo "\$ mesa debug tree-bench --store <fresh> --files 100000 --edits 20 --changed 10 --flat  (one 100k-entry directory)"
"$MESA" debug tree-bench --store "$WORK/store-flat" --files 100000 --edits 20 --changed 10 --flat
