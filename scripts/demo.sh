#!/usr/bin/env bash
# The main job: build `mesa`, start an embedded `mesa serve` on a free port, import a demo repository (this project's
# own git history) through the sync protocol, read it back over the REST API, mount every repository of the org with
# `mesa mount --daemonize` (FUSE; needs /dev/fuse and root or user_allow_other), write a file through the mount,
# `mesa sync` it and read it back over REST, and keep serving until Ctrl-C.
#
#   scripts/demo.sh            data in $MESA_DEMO_DIR (default: a new directory under /tmp)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
scripts/bootstrap.sh
swift build -c release --product mesa
mesa=$PWD/.build/release/mesa
work=${MESA_DEMO_DIR:-$(mktemp -d /tmp/mesa-demo.XXXXXX)}
mkdir -p "$work"

# A demo git repository: this checkout's history, or a generated one when this is not a git checkout.
source_repo=$PWD
if ! git -C "$source_repo" rev-parse --verify -q HEAD >/dev/null; then
    source_repo=$work/demo-source
    rm -rf "$source_repo" && mkdir -p "$source_repo"
    cp -r Sources docs README.md "$source_repo"/
    git -C "$source_repo" init -q && git -C "$source_repo" add -A
    git -C "$source_repo" -c user.name=demo -c user.email=demo@example.com commit -qm "demo"
fi
branch=$(git -C "$source_repo" symbolic-ref --short HEAD 2>/dev/null || echo main)

"$mesa" serve --data-dir "$work/server" --listen 127.0.0.1:0 >"$work/serve.log" 2>&1 &
server=$!
export MESA_MOUNT_POINT=$work/mnt MESA_CACHE_PATH=$work/cache MESA_STATE_DIR=$work/state MESA_RUNTIME_DIR=$work/run
cleanup() {
    "$mesa" unmount >/dev/null 2>&1 || true
    kill $server 2>/dev/null || true
    wait $server 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 100); do grep -q "^listening on" "$work/serve.log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$work/serve.log")
[[ -n $url ]] || { cat "$work/serve.log" >&2; exit 1; }
export MESA_SERVICE_DOMAIN=$url MESA_API_KEY=$(cat "$work/server/admin.key")

echo "demo: importing $source_repo ($branch) into local/demo"
"$mesa" import "$source_repo" --repo demo --branch "$branch"
"$mesa" log --repo demo --bookmark "$branch" --limit 3

file=README.md
curl -sf -H "Authorization: Bearer $MESA_API_KEY" -H "Accept: application/octet-stream" \
    "$url/v1/local/demo/content?path=$file" | cmp - <(git -C "$source_repo" show "$branch:$file")
echo "demo: $file read back over REST equals git's copy"

mounted=no
if [[ -w /dev/fuse ]] && "$mesa" mount --daemonize; then
    mounted=yes
    cmp "$MESA_MOUNT_POINT/local/demo/$file" <(git -C "$source_repo" show "$branch:$file")
    echo "demo: $file read through the mount equals git's copy"
    # An edit with ordinary tools persists: `mesa sync` returns once it is on the server, and REST serves it.
    note="edited through the mount at $(date -u +%FT%TZ)"
    echo "$note" >"$MESA_MOUNT_POINT/local/demo/DEMO-EDIT.txt"
    "$mesa" sync --timeout 60
    [[ $(curl -sf -H "Authorization: Bearer $MESA_API_KEY" -H "Accept: application/octet-stream" \
        "$url/v1/local/demo/content?path=DEMO-EDIT.txt") == "$note" ]]
    echo "demo: DEMO-EDIT.txt written in the mount, synced, and read back over REST"
else
    echo "demo: no usable /dev/fuse here, so the mount step is skipped (the server keeps running)"
fi

[[ $mounted == yes ]] && cat <<INFO

The demo repository is mounted. In another shell:

  cd $MESA_MOUNT_POINT/local/demo && ls && grep -rn FastCDC Sources | head
  echo hello > $MESA_MOUNT_POINT/local/demo/hello.txt     # uploaded after 1 s of quiet
  MESA_RUNTIME_DIR=$MESA_RUNTIME_DIR $mesa status
  MESA_RUNTIME_DIR=$MESA_RUNTIME_DIR $mesa stats

INFO

cat <<INFO

mesa serve is running at $url (data in $work/server). In another shell:

  export MESA_SERVICE_DOMAIN=$url MESA_API_KEY=\$(cat $work/server/admin.key)
  $mesa repo list
  $mesa log --repo demo --bookmark $branch
  curl -s -H "Authorization: Bearer \$MESA_API_KEY" "\$MESA_SERVICE_DOMAIN/v1/local/demo/content?path=Sources"

Press Ctrl-C to unmount and stop.
INFO
wait $server
