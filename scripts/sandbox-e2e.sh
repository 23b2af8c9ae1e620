#!/usr/bin/env bash
# The sandbox flow end to end (README, "Run it in a sandbox"), on this machine, as root:
#
#  outside  a `mesa serve` (the packaged binary, which offers itself to the installer), a repository `app` holding a
#           small Python project, and two tokens minted by the MesaKit example program (Examples/MintToken): repo-
#           scoped, one hour, one with write scope and one read-only;
#  inside   a fresh minimal Debian root (mmdebstrap: Debian's packages only, no Swift anywhere), entered with its own
#           mount and PID namespaces, where a non-root user with sudo does exactly the sandbox steps: install from
#           the server (`curl -fsSL SERVER/install.sh | sh`), configure FUSE, start `mesa mount -y` in the
#           foreground (in the background of its script), wait for the repository, run an agent-like script
#           (edit, mkdir, run the project's tests, delete), then the mount is stopped as a sandbox ends: SIGTERM, then
#           the namespaces are torn down;
#  outside  every edit is checked over the REST API, in the change the mount showed.
# A second session uses the read-only token: the installer finds mesa up to date, the previous session's edits
# read back, and writes fail with EROFS.
#
# Prints the measured times (install, mount ready, repository visible, SIGTERM to exit with the edits uploaded).
# Settings: MESA_SANDBOX_BINARY (a packaged binary; default: scripts/package.sh builds dist/mesa-linux-<arch>),
# MESA_SANDBOX_SUITE (bookworm), MESA_SANDBOX_MIRROR (http://deb.debian.org/debian), MESA_SANDBOX_KEEP=1 (keep
# the work directory).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

say() { printf 'sandbox-e2e: %s\n' "$*"; }
fail() {
    printf 'sandbox-e2e: FAILED: %s\n' "$*" >&2
    exit 1
}
now() { date +%s.%N; }
since() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.2f", end - start }'; }

[[ $(id -u) -eq 0 ]] || fail "run as root: it builds a root file system and enters namespaces"
[[ -c /dev/fuse ]] || fail "/dev/fuse is missing"
started=$(now)
for tool in mmdebstrap unshare chroot git curl; do
    command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/bootstrap.sh"
done

case $(uname -m) in
x86_64) arch=x86_64 ;;
aarch64) arch=aarch64 ;;
*) fail "no release build for $(uname -m)" ;;
esac
if [[ -n ${MESA_SANDBOX_BINARY:-} ]]; then
    binary=$(realpath "$MESA_SANDBOX_BINARY")
else
    step=$(now)
    scripts/package.sh >&2
    say "package: $(since "$step") s"
    binary=$PWD/dist/mesa-linux-$arch
fi
[[ -x $binary ]] || fail "no packaged binary at $binary"

work=$(mktemp -d /tmp/mesa-sandbox-e2e.XXXXXX)
server_pid=""
cleanup() {
    if [[ -n $server_pid ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    # The namespaces took their mounts with them; nothing of the root stays mounted.
    if [[ ${MESA_SANDBOX_KEEP:-0} == 1 ]]; then say "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- Outside: the server, the repository, the tokens -----------------------------------------------------------
"$binary" serve --data-dir "$work/server" --listen 127.0.0.1:0 --log-level warning >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 300); do
    grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || fail "mesa serve exited: $(cat "$work/server.err")"
    sleep 0.1
done
server=$(sed -n 's/^listening on //p' "$work/server.out")
[[ -n $server ]] || fail "mesa serve printed no address"
admin_key=$(cat "$work/server/admin.key")
say "server $server (pid $server_pid)"

project=$work/project
mkdir -p "$project"
git -C "$project" init -q -b main
cat >"$project/README.md" <<'EOF'
# calc
EOF
cat >"$project/calc.py" <<'EOF'
def add(a, b):
    return a + b
EOF
cat >"$project/test_calc.py" <<'EOF'
import unittest

from calc import add


class AddTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)
EOF
echo "remove me" >"$project/obsolete.txt"
git -C "$project" add -A
git -C "$project" -c user.name=backend -c user.email=backend@example.com commit -qm "calc"
MESA_API_KEY=$admin_key MESA_SERVICE_DOMAIN=$server "$binary" import "$project" --repo app >/dev/null

api() { curl -sS -H "Authorization: Bearer $admin_key" "$@"; }
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
head_change=$(api "$server/v1/local/app" | json_field head_change_id)
commit_before=$(api "$server/v1/local/app/changes/$head_change" | json_field current_commit_oid)
[[ -n $head_change && -n $commit_before ]] || fail "the repository app has no head change"

swift build --product MintToken >&2
mint=$(swift build --show-bin-path)/MintToken
write_token=$(MESA_API_KEY=$admin_key MESA_SERVICE_DOMAIN=$server "$mint" --repo app --scopes write --ttl 3600)
read_token=$(MESA_API_KEY=$admin_key MESA_SERVICE_DOMAIN=$server "$mint" --repo app --scopes read --ttl 3600)
[[ $write_token == *.*.* && $read_token == *.*.* ]] || fail "MintToken printed no tokens"

# --- A fresh minimal Debian root: no Swift, a non-root user with sudo -------------------------------------------
root=$work/root
step=$(now)
# Downloading from Debian's servers is the one step that can fail for reasons outside this project: one more try.
for attempt in 1 2; do
    mmdebstrap --quiet --variant=apt --include=curl,ca-certificates,python3,sudo \
        "${MESA_SANDBOX_SUITE:-bookworm}" "$root" "${MESA_SANDBOX_MIRROR:-http://deb.debian.org/debian}" && break
    [[ $attempt == 2 ]] && fail "mmdebstrap failed twice"
    rm -rf "$root"
    say "mmdebstrap failed; trying again"
done
say "mmdebstrap: $(since "$step") s, $(du -sm "$root" | cut -f 1) MiB"
if find "$root" -name 'libswift*' -o -name 'libFoundation*' -o -name 'lib_FoundationICU*' | grep -q .; then
    fail "the root has Swift libraries"
fi
chroot "$root" useradd --create-home --shell /bin/sh agent
echo 'agent ALL=(ALL) NOPASSWD: ALL' >"$root/etc/sudoers.d/agent"
chmod 0440 "$root/etc/sudoers.d/agent"
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$(hostname)" >"$root/etc/hosts"

# The session script: what a sandbox's start script does, as the sandbox user.
cat >"$root/home/agent/session.sh" <<'EOF'
#!/bin/sh
# $1: write (run the agent) or read (check a read-only token). SERVER and TOKEN come from the environment.
set -eu
mode=$1
results=$HOME/results-$mode
: >"$results"
now() { date +%s.%N; }
since() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.2f", end - start }'; }
note() { echo "$1=$2" >>"$results"; }

start=$(now)
curl -fsSL "$SERVER/install.sh" | sh
note install_seconds "$(since "$start")"
export PATH="$HOME/.local/bin:$PATH"

sudo sh -c 'grep -q "^user_allow_other" /etc/fuse.conf || echo user_allow_other >>/etc/fuse.conf'
sudo chmod 666 /dev/fuse

start=$(now)
MESA_SERVICE_DOMAIN=$SERVER MESA_ORG=local MESA_API_KEY=$TOKEN mesa mount -y >"$HOME/mount-$mode.out" 2>"$HOME/mount-$mode.err" &
mount_pid=$!
repo=$HOME/.local/share/mesa/mnt/local/app
ready=""
for _ in $(seq 600); do
    if [ -z "$ready" ] && [ -s "$HOME/mount-$mode.out" ]; then
        ready=yes
        note ready_seconds "$(since "$start")"
    fi
    [ -n "$ready" ] && [ -f "$repo/README.md" ] && break
    kill -0 "$mount_pid" 2>/dev/null || { cat "$HOME/mount-$mode.err" >&2; exit 1; }
    sleep 0.1
done
[ -f "$repo/README.md" ] || { echo "the repository did not appear" >&2; exit 1; }
note visible_seconds "$(since "$start")"

if [ "$mode" = write ]; then
    start=$(now)
    (cd "$repo" && sh "$HOME/agent.sh")
    note agent_seconds "$(since "$start")"
else
    cat "$repo/README.md" >"$HOME/readback.txt"
    if echo refused >"$repo/README.md" 2>"$HOME/write-error.txt"; then note write_refused no; else note write_refused yes; fi
    if mkdir "$repo/newdir" 2>>"$HOME/write-error.txt"; then note mkdir_refused no; else note mkdir_refused yes; fi
fi

# The sandbox ends: SIGTERM to the mount, a grace period, then the runtime tears the namespaces down.
start=$(now)
kill -TERM "$mount_pid"
for _ in $(seq 600); do kill -0 "$mount_pid" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$mount_pid" 2>/dev/null; then
    note mount_exit "still running after 30 s"
else
    status=0
    wait "$mount_pid" || status=$?
    note mount_exit "$status"
fi
note stop_seconds "$(since "$start")"
EOF

# The agent: edits, a new directory, the project's tests (their report is committed too), a deletion, and a last
# edit just before the sandbox ends, which only the SIGTERM flush can upload.
cat >"$root/home/agent/agent.sh" <<'EOF'
set -eu
printf '# calc\n\nA tiny calculator, extended by an agent in a sandbox.\n' >README.md
cat >>calc.py <<'PY'


def mul(a, b):
    return a * b
PY
mkdir -p tests docs/notes
: >tests/__init__.py
cat >tests/test_mul.py <<'PY'
import unittest

from calc import mul


class MulTest(unittest.TestCase):
    def test_mul(self):
        self.assertEqual(mul(4, 5), 20)
PY
python3 -m unittest discover -s . -p 'test_*.py' -t . -v >test-report.txt 2>&1
python3 -m unittest discover -s tests -t . -v >>test-report.txt 2>&1
rm obsolete.txt
echo "mul() added and tested" >docs/notes/agent.md
echo done >DONE.txt
EOF
chroot "$root" chown -R agent:agent /home/agent

# Enters the root in new mount and PID namespaces (the runtime's part: /proc, a private /dev with /dev/fuse as a
# sandbox exposes it, /tmp), runs the session as `agent`, and returns when the namespace's init exits, which ends
# every process left in it and every mount.
enter() {
    local mode=$1 token=$2
    timeout --kill-after=10 600 unshare --mount --pid --fork --kill-child --propagation private /bin/bash -euc '
        root=$1 mode=$2 server=$3 token=$4
        mount -t proc proc "$root/proc"
        mount -t sysfs -o ro sysfs "$root/sys"
        mount -t tmpfs -o mode=0755,nosuid tmpfs "$root/dev"
        for node in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
            IFS=: read -r name major minor <<<"$node"
            mknod -m 0666 "$root/dev/$name" c "$major" "$minor"
        done
        mknod -m 0600 "$root/dev/fuse" c 10 229
        mkdir "$root/dev/pts" "$root/dev/shm"
        mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
        ln -s pts/ptmx "$root/dev/ptmx"
        ln -s /proc/self/fd "$root/dev/fd"
        mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
        exec chroot "$root" /usr/sbin/runuser -u agent -- /usr/bin/env -i HOME=/home/agent USER=agent LANG=C.UTF-8 \
            PATH=/usr/local/bin:/usr/bin:/bin SERVER="$server" TOKEN="$token" /bin/sh /home/agent/session.sh "$mode"
    ' _ "$root" "$mode" "$server" "$token"
}

result() { sed -n "s/^$2=//p" "$root/home/agent/results-$1"; }

say "session 1: install, mount with a write token, run the agent, SIGTERM"
enter write "$write_token" || fail "the write session failed; mount log: $(cat "$root/home/agent/mount-write.err" 2>/dev/null)"
[[ $(result write mount_exit) == 0 ]] ||
    fail "mesa mount exited with '$(result write mount_exit)'; log: $(cat "$root/home/agent/mount-write.err")"
[[ $(wc -l <"$root/home/agent/mount-write.out") -eq 1 ]] || fail "mesa mount printed more than its ready line"

# Every edit, over REST, in the change the mount showed (the same change id, a new commit).
content() { api -f -H 'Accept: application/octet-stream' "$server/v1/local/app/content?path=$1"; }
expect_content() {
    local actual
    actual=$(content "$1") || fail "$1 is not on the server"
    [[ $actual == "$2" ]] || fail "$1 on the server is '$actual', expected '$2'"
}
expect_content README.md $'# calc\n\nA tiny calculator, extended by an agent in a sandbox.'
content calc.py | grep -q '^def mul(a, b):' || fail "calc.py lacks the agent's mul()"
content tests/test_mul.py | grep -q 'self.assertEqual(mul(4, 5), 20)' || fail "tests/test_mul.py is missing"
content tests/__init__.py >/dev/null || fail "tests/__init__.py is missing"
expect_content docs/notes/agent.md "mul() added and tested"
expect_content DONE.txt done
report=$(content test-report.txt) || fail "test-report.txt is missing"
[[ $(grep -c '^OK$' <<<"$report") -eq 2 ]] || fail "the project's tests did not pass in the sandbox: $report"
[[ $(api -o /dev/null -w '%{http_code}' "$server/v1/local/app/content?path=obsolete.txt") == 404 ]] ||
    fail "obsolete.txt was not deleted on the server"
[[ $(api "$server/v1/local/app" | json_field head_change_id) == "$head_change" ]] || fail "the edits landed in another change"
commit_after=$(api "$server/v1/local/app/changes/$head_change" | json_field current_commit_oid)
[[ $commit_after != "$commit_before" ]] || fail "the change has no new commit"
say "session 1: every edit is on the server (change $head_change, commit $commit_after)"

say "session 2: install again (up to date), mount with a read-only token, writes refused"
enter read "$read_token" || fail "the read session failed; mount log: $(cat "$root/home/agent/mount-read.err" 2>/dev/null)"
[[ $(result read write_refused) == yes && $(result read mkdir_refused) == yes ]] || fail "a read-only token could write"
grep -q 'Read-only file system' "$root/home/agent/write-error.txt" || fail "writes failed, but not with EROFS: $(cat "$root/home/agent/write-error.txt")"
[[ $(head -n 3 "$root/home/agent/readback.txt") == $'# calc\n\nA tiny calculator, extended by an agent in a sandbox.' ]] ||
    fail "the read-only mount does not show session 1's edits"
[[ $(result read mount_exit) == 0 ]] || fail "the read-only mount exited with '$(result read mount_exit)'"
[[ $(api "$server/v1/local/app/changes/$head_change" | json_field current_commit_oid) == "$commit_after" ]] ||
    fail "the read-only session changed the repository"

say "passed in $(since "$started") s"
say "binary: $(du -m "$binary" | cut -f 1) MiB, $(basename "$binary")"
say "session 1 (write): install $(result write install_seconds) s, mount ready $(result write ready_seconds) s, repository visible $(result write visible_seconds) s, agent $(result write agent_seconds) s, SIGTERM to exit with every edit uploaded $(result write stop_seconds) s"
say "session 2 (read):  install (up to date) $(result read install_seconds) s, mount ready $(result read ready_seconds) s, SIGTERM to exit $(result read stop_seconds) s"
