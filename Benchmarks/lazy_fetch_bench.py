#!/usr/bin/env python3
"""Lazy-fetch benchmark: a Mesa mount against git and rclone peers and the native disk, all behind one delay.

Run it through `Benchmarks/lazy-fetch-bench.sh` (which builds `mesa` in release mode first). Every remote (`mesa serve`,
`git daemon`, `rclone serve webdav`) sits behind its own `mesa debug delay-proxy` with the same one-way delay, so each
peer pays the same round trip. Every "cold" step starts from empty client caches with the kernel's page cache dropped;
"warm" repeats a step on the same mount; "hydrated" remounts over a filled disk cache with the page cache dropped.

The repository is generated once and kept in the cache directory (100k files in about 10k directories, source-like
sizes, a few large files including one of --large-mib), or taken from --repo (a local git repository; its default
branch is measured). Prints a markdown table and writes the figures as JSON.
"""

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

NEEDLE = "MESA_BENCH_NEEDLE_7f3a"


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def drop_caches():
    """Drops the page, dentry and inode caches (root only), so a read really goes to its backing store."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as handle:
            handle.write("3\n")
    except PermissionError:
        log("cannot drop caches (not root): cold figures of the native disk will be warm")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Timeout(Exception):
    pass


def timed(command, timeout, cwd=None, env=None, stdout=subprocess.DEVNULL):
    """Runs a command in its own process group; returns (seconds, completed). Kills the group on timeout."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise Timeout(f"{command[0]} exceeded {timeout} s")
    elapsed = time.perf_counter() - start
    if process.returncode not in (0, 1) or (process.returncode == 1 and command[0] != "grep"):
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {err.decode(errors='replace')[-2000:]}")
    return elapsed, out


def first_byte(path):
    start = time.perf_counter()
    with open(path, "rb") as handle:
        data = handle.read(1)
    elapsed = time.perf_counter() - start
    if len(data) != 1:
        raise RuntimeError(f"{path}: no first byte")
    return elapsed


def sequential_read(path, timeout):
    """Reads a whole file with 1 MiB reads (`dd`); returns (seconds, bytes per second)."""
    size = os.path.getsize(path)
    seconds, _ = timed(["dd", f"if={path}", "of=/dev/null", "bs=1M", "status=none"], timeout)
    return seconds, size / seconds


def peak_rss_bytes(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def is_mounted(path):
    path = os.path.realpath(path)
    with open("/proc/self/mounts") as mounts:
        return any(line.split()[1] == path for line in mounts)


def force_unmount(path):
    if is_mounted(path):
        subprocess.run(["fusermount3", "-uz", path], stderr=subprocess.DEVNULL)
    if is_mounted(path):
        subprocess.run(["umount", "-l", path], stderr=subprocess.DEVNULL)


# ----------------------------------------------------------------------------------------------------------------
# The repository


def generate(tree, files, directories, large_mib, seed=20261127):
    """Writes a deterministic source-like tree: text files of log-normal sizes (median about 2 KiB), one in ten
    binary, spread over `directories` directories nested up to depth 9, plus three 16 MiB assets and one file of
    `large_mib` MiB (half text, half random bytes)."""
    rng = random.Random(seed)
    words = ("let var func return if else for in while struct class enum import self value count index "
             "guard throw try await async case switch default public private static init deinit where "
             "{ } ( ) [ ] = == != + - * / // /// < > -> : ; , . 0 1 2 42 nil true false").split()
    corpus = bytearray()
    while len(corpus) < 8 << 20:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(2, 14)))
        corpus += ("    " * rng.randint(0, 3) + line + "\n").encode()
    corpus = bytes(corpus)

    dirs = [("", 0)]
    while len(dirs) < directories:
        parent, depth = dirs[rng.randrange(len(dirs))]
        if depth >= 9:
            continue
        dirs.append((f"{parent}/d{len(dirs)}" if parent else f"d{len(dirs)}", depth + 1))
    # A guaranteed chain of six directories for the first-byte probe.
    chain = "src/a/b/c/d/e"
    for directory, _ in dirs:
        os.makedirs(os.path.join(tree, directory), exist_ok=True)
    os.makedirs(os.path.join(tree, chain), exist_ok=True)
    extensions = [".swift", ".c", ".h", ".py", ".md", ".json", ".rs", ".go"]
    for index in range(files - 4):
        directory = chain if index < 8 else dirs[rng.randrange(len(dirs))][0]
        size = min(int(rng.lognormvariate(7.6, 1.1)), 512 << 10)
        if index % 10 == 9:
            data = rng.randbytes(size)
            name = f"blob{index}.bin"
        else:
            offset = rng.randrange(len(corpus) - size - 1)
            data = corpus[offset:offset + size]
            if index % 9973 == 0:
                data += f"\n// {NEEDLE}\n".encode()
            name = f"file{index}{extensions[index % len(extensions)]}"
        with open(os.path.join(tree, directory, name), "wb") as handle:
            handle.write(data)
    os.makedirs(os.path.join(tree, "assets"), exist_ok=True)
    for index in range(3):
        with open(os.path.join(tree, "assets", f"texture{index}.bin"), "wb") as handle:
            handle.write(rng.randbytes(16 << 20))
    with open(os.path.join(tree, "assets", "large.dat"), "wb") as handle:
        for block in range(large_mib):
            if block % 2:
                handle.write(rng.randbytes(1 << 20))
            else:
                offset = rng.randrange(len(corpus) - (1 << 20))
                handle.write(corpus[offset:offset + (1 << 20)])


def git(git_dir, *arguments, work_tree=None, check=True):
    env = dict(os.environ, GIT_DIR=git_dir, GIT_AUTHOR_DATE="@1700000000 +0000", GIT_COMMITTER_DATE="@1700000000 +0000",
               GIT_CONFIG_NOSYSTEM="1")
    if work_tree:
        env["GIT_WORK_TREE"] = work_tree
    return subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *arguments],
                          env=env, check=check, capture_output=True)


def prepare_repository(arguments):
    """Returns (tree, bare repository, branch): the checked-out files without `.git` and a packed bare repository."""
    if arguments.repo:
        key = os.path.realpath(arguments.repo).replace("/", "_")
        base = os.path.join(arguments.cache, f"repo{key}")
    else:
        base = os.path.join(arguments.cache, f"generated-{arguments.files}-{arguments.directories}-{arguments.large_mib}")
    tree, bare = os.path.join(base, "tree"), os.path.join(base, "repo.git")
    if os.path.exists(os.path.join(base, "ready")):
        return tree, bare, "main"
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    if arguments.repo:
        log(f"cloning {arguments.repo}")
        subprocess.run(["git", "clone", "-q", "--bare", "--no-local", arguments.repo, bare], check=True)
        head = git(bare, "symbolic-ref", "--short", "HEAD").stdout.decode().strip()
        git(bare, "branch", "-m", head, "main", check=False)
        git(bare, "symbolic-ref", "HEAD", "refs/heads/main")
        os.makedirs(tree)
        subprocess.run(f"git --git-dir={bare} archive main | tar -x -C {tree}", shell=True, check=True)
    else:
        log(f"generating {arguments.files} files in {arguments.directories} directories and a {arguments.large_mib} MiB file")
        generate(tree, arguments.files, arguments.directories, arguments.large_mib)
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", bare], check=True)
        git(bare, "config", "core.compression", "1")
        log("committing")
        git(bare, "add", "-A", work_tree=tree)
        git(bare, "commit", "-q", "-m", "generated tree", work_tree=tree)
        log("packing")
        git(bare, "repack", "-a", "-d", "-q", "--window=0")
    git(bare, "config", "uploadpack.allowFilter", "true")
    git(bare, "config", "uploadpack.allowAnySHA1InWant", "true")
    open(os.path.join(base, "ready"), "w").close()
    return tree, bare, "main"


# ----------------------------------------------------------------------------------------------------------------
# Processes


class Background:
    """A long-running helper process (server, proxy, daemon) that is always stopped."""

    def __init__(self, command, log_path, env=None, ready=None):
        self.log_path = log_path
        self.handle = open(log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self.handle, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        if ready:
            wait_for(lambda: ready(self.output()) or self.process.poll() is not None, 60, command[0])
            if self.process.poll() is not None:
                raise RuntimeError(f"{' '.join(command)} exited: {self.output()[-2000:]}")

    def output(self):
        with open(self.log_path, errors="replace") as handle:
            return handle.read()

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.handle.close()


def listening_port(text):
    for line in text.splitlines():
        if line.startswith("listening on "):
            return int(line.split()[2].rsplit(":", 1)[1].rstrip(","))
    return None


class Bench:
    def __init__(self, arguments):
        self.arguments = arguments
        self.mesa = arguments.mesa
        self.work = arguments.work
        self.helpers = []
        self.mounts = []
        self.results = {"delay_ms_each_way": arguments.delay_ms, "peers": {}}

    def helper(self, *args, **kwargs):
        process = Background(*args, **kwargs)
        self.helpers.append(process)
        return process

    def proxy(self, name, upstream_port):
        proxy = self.helper([self.mesa, "debug", "delay-proxy", "--upstream", f"127.0.0.1:{upstream_port}",
                             "--delay-ms", str(self.arguments.delay_ms)], os.path.join(self.work, f"proxy-{name}.log"),
                            ready=lambda text: listening_port(text) is not None)
        return listening_port(proxy.output())

    def close(self):
        for mount in self.mounts:
            force_unmount(mount)
        for process in reversed(self.helpers):
            process.stop()

    def record(self, peer, key, value):
        self.results["peers"].setdefault(peer, {})[key] = value
        shown = f"{value:.4f}" if isinstance(value, float) else value
        log(f"{peer}: {key} = {shown}")

    def attempt(self, peer, key, function):
        """Runs one measurement; a timeout or failure is recorded as such instead of ending the run."""
        try:
            return function()
        except Timeout as error:
            self.record(peer, key, f"timeout ({error})")
        except Exception as error:  # a peer failing must not hide the others' figures
            self.record(peer, key, f"failed ({error})")
        return None

    # ------------------------------------------------------------------------------------------------------------
    # Mesa

    def start_server(self, bare):
        data = os.path.join(self.work, "server")
        server = self.helper([self.mesa, "serve", "--data-dir", data, "--listen", "127.0.0.1:0", "--log-level", "error"],
                             os.path.join(self.work, "serve.log"), ready=lambda text: "listening on" in text)
        url = next(line.split()[2] for line in server.output().splitlines() if line.startswith("listening on"))
        key = open(os.path.join(data, "admin.key")).read().strip()
        log("importing into mesa serve")
        env = dict(os.environ, MESA_SERVICE_DOMAIN=url, MESA_API_KEY=key)
        seconds, out = timed([self.mesa, "import", bare, "--repo", "bench", "--branch", "main", "--json"], 3600, env=env,
                             stdout=subprocess.PIPE)
        self.results["import"] = {"seconds": seconds, **json.loads(out)}
        port = int(url.rsplit(":", 1)[1])
        self.mesa_env = dict(os.environ, MESA_API_KEY=key, MESA_SERVICE_DOMAIN=f"http://127.0.0.1:{self.proxy('mesa', port)}")

    def mesa_mount(self, name, cache=None):
        """Mounts with `mesa mount -d`; returns (seconds, repository path, environment)."""
        base = os.path.join(self.work, f"mesa-{name}")
        os.makedirs(base, exist_ok=True)
        env = dict(self.mesa_env, MESA_MOUNT_POINT=os.path.join(base, "mnt"), MESA_CACHE_PATH=cache or os.path.join(base, "cache"),
                   MESA_STATE_DIR=os.path.join(base, "state"), MESA_RUNTIME_DIR=os.path.join(base, "run"),
                   MESA_DAEMON_LOG_FILE=os.path.join(base, "daemon.log"))
        os.makedirs(env["MESA_MOUNT_POINT"], exist_ok=True)
        self.mounts.append(env["MESA_MOUNT_POINT"])
        seconds, _ = timed([self.mesa, "mount", "--daemonize", "-y"], 120, env=env)
        return seconds, os.path.join(env["MESA_MOUNT_POINT"], "local", "bench"), env

    def mesa_pid(self, env):
        return int(open(os.path.join(env["MESA_RUNTIME_DIR"], "mesa.pid")).read())

    def mesa_stats(self, env):
        out = subprocess.run([self.mesa, "stats"], env=env, capture_output=True, check=True).stdout.decode()
        return {key: int(value) for key, value in (line.split("\t") for line in out.splitlines() if "\t" in line)}

    def mesa_unmount(self, env):
        pid = self.mesa_pid(env)
        subprocess.run([self.mesa, "unmount"], env=env, capture_output=True)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 30, "the mesa daemon to exit")

    def run_mesa(self, probe, large, expected_files):
        peer, timeout = "mesa", self.arguments.timeout
        drop_caches()
        mount_seconds, repo, env = self.mesa_mount("first-byte")
        self.record(peer, "mount_s", mount_seconds)
        self.record(peer, "first_byte_after_mount_s", first_byte(os.path.join(repo, probe)))
        self.record(peer, "mount_and_first_byte_s", mount_seconds + self.results["peers"][peer]["first_byte_after_mount_s"])
        self.record(peer, "first_byte_remote_requests", self.mesa_stats(env)["remote_requests"])
        self.mesa_unmount(env)

        drop_caches()
        _, repo, env = self.mesa_mount("find")
        seconds, out = timed(["find", repo, "-type", "f"], timeout, stdout=subprocess.PIPE)
        found = out.count(b"\n")
        if found != expected_files:
            raise RuntimeError(f"mesa: find saw {found} files, expected {expected_files}")
        self.record(peer, "cold_find_s", seconds)
        self.record(peer, "cold_find_remote_requests", self.mesa_stats(env)["remote_requests"])
        self.mesa_unmount(env)

        drop_caches()
        _, repo, env = self.mesa_mount("grep")
        self.record(peer, "cold_grep_s", self.grep(repo, timeout))
        stats = self.mesa_stats(env)
        self.record(peer, "cold_grep_remote_requests", stats["remote_requests"])
        self.record(peer, "cold_grep_remote_bytes", stats["remote_bytes"])
        self.record(peer, "warm_grep_s", self.grep(repo, timeout))
        self.record(peer, "peak_rss_after_walk_bytes", peak_rss_bytes(self.mesa_pid(env)))
        self.mesa_unmount(env)

        drop_caches()
        cache = os.path.join(self.work, "mesa-large-cache")
        _, repo, env = self.mesa_mount("large", cache=cache)
        seconds, rate = sequential_read(os.path.join(repo, large), timeout)
        self.record(peer, "cold_read_bytes_per_s", rate)
        self.record(peer, "peak_rss_after_large_read_bytes", peak_rss_bytes(self.mesa_pid(env)))
        self.mesa_unmount(env)
        _, repo, env = self.mesa_mount("large", cache=cache)
        drop_caches()
        seconds, rate = sequential_read(os.path.join(repo, large), timeout)
        self.record(peer, "hydrated_read_bytes_per_s", rate)
        self.record(peer, "hydrated_read_remote_requests", self.mesa_stats(env)["remote_requests"])
        self.mesa_unmount(env)

    def grep(self, root, timeout):
        seconds, out = timed(["grep", "-r", "-l", "-F", NEEDLE, "--exclude-dir=.git", root], timeout,
                             env=dict(os.environ, LC_ALL="C"), stdout=subprocess.PIPE)
        matches = out.count(b"\n")
        if self.expected_matches is not None and matches != self.expected_matches:
            raise RuntimeError(f"grep in {root} found {matches} files, expected {self.expected_matches}")
        return seconds

    # ------------------------------------------------------------------------------------------------------------
    # Native disk

    def run_native(self, tree, probe, large):
        peer, timeout = "native", self.arguments.timeout
        drop_caches()
        self.record(peer, "first_byte_cold_s", first_byte(os.path.join(tree, probe)))
        drop_caches()
        seconds, out = timed(["find", tree, "-type", "f"], timeout, stdout=subprocess.PIPE)
        self.record(peer, "cold_find_s", seconds)
        self.expected_files = out.count(b"\n")
        drop_caches()
        self.expected_matches = None
        _, out = timed(["grep", "-r", "-l", "-F", NEEDLE, tree], timeout, env=dict(os.environ, LC_ALL="C"),
                       stdout=subprocess.PIPE)
        self.expected_matches = out.count(b"\n")
        drop_caches()
        self.record(peer, "cold_grep_s", self.grep(tree, timeout))
        self.record(peer, "warm_grep_s", self.grep(tree, timeout))
        drop_caches()
        self.record(peer, "cold_read_bytes_per_s", sequential_read(os.path.join(tree, large), timeout)[1])
        self.record(peer, "warm_read_bytes_per_s", sequential_read(os.path.join(tree, large), timeout)[1])

    # ------------------------------------------------------------------------------------------------------------
    # git daemon

    def run_git(self, bare, probe):
        peer, timeout = "git", self.arguments.timeout
        port = free_port()
        self.helper(["git", "daemon", "--reuseaddr", "--export-all", "--enable=upload-pack", f"--base-path={os.path.dirname(bare)}",
                     "--listen=127.0.0.1", f"--port={port}", os.path.dirname(bare)], os.path.join(self.work, "git-daemon.log"))
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 30, "git daemon")
        url = f"git://127.0.0.1:{self.proxy('git', port)}/{os.path.basename(bare)}"
        env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=self.work)

        def lazy_checkout():
            target = os.path.join(self.work, "git-blobless")
            drop_caches()
            clone, _ = timed(["git", "clone", "-q", "--depth", "1", "--filter=blob:none", "--no-checkout", url, target],
                             timeout, env=env)
            checkout, _ = timed(["git", "-C", target, "checkout", "-q", "HEAD", "--", probe], timeout, env=env)
            byte = first_byte(os.path.join(target, probe))
            self.record(peer, "blobless_clone_s", clone)
            self.record(peer, "checkout_one_file_s", checkout)
            self.record(peer, "mount_and_first_byte_s", clone + checkout + byte)

        def shallow_grep():
            target = os.path.join(self.work, "git-shallow")
            drop_caches()
            clone, _ = timed(["git", "clone", "-q", "--depth", "1", url, target], timeout, env=env)
            grep = self.grep(target, timeout)
            self.record(peer, "shallow_clone_s", clone)
            self.record(peer, "grep_after_clone_s", grep)
            self.record(peer, "cold_grep_s", clone + grep)

        self.attempt(peer, "mount_and_first_byte_s", lazy_checkout)
        self.attempt(peer, "cold_grep_s", shallow_grep)

    # ------------------------------------------------------------------------------------------------------------
    # rclone: `rclone serve webdav` of the tree, `rclone mount --vfs-cache-mode full` through the proxy

    def run_rclone(self, tree, probe, large):
        peer, timeout = "rclone", self.arguments.timeout
        if not shutil.which("rclone"):
            self.record(peer, "skipped", "rclone is not installed (apt-get install rclone)")
            return
        port = free_port()
        self.helper(["rclone", "serve", "webdav", tree, "--addr", f"127.0.0.1:{port}", "--read-only"],
                    os.path.join(self.work, "rclone-serve.log"))
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 30, "rclone serve webdav")
        url = f"http://127.0.0.1:{self.proxy('rclone', port)}"

        @contextlib.contextmanager
        def mounted(name, cache=None):
            """An `rclone mount` for one step: yields (seconds to mount, mount point, process); always unmounted."""
            base = os.path.join(self.work, f"rclone-{name}")
            mount_point = os.path.join(base, "mnt")
            os.makedirs(mount_point, exist_ok=True)
            self.mounts.append(mount_point)
            start = time.perf_counter()
            process = self.helper(["rclone", "mount", ":webdav:", mount_point, "--webdav-url", url, "--vfs-cache-mode", "full",
                                   "--cache-dir", cache or os.path.join(base, "cache"), "--read-only"],
                                  os.path.join(base, "rclone-mount.log"))
            try:
                wait_for(lambda: is_mounted(mount_point), 60, "rclone mount")
                yield time.perf_counter() - start, mount_point, process
            finally:
                force_unmount(mount_point)
                process.stop()

        def first():
            drop_caches()
            with mounted("first-byte") as (seconds, mount_point, _):
                byte = first_byte(os.path.join(mount_point, probe))
                self.record(peer, "mount_s", seconds)
                self.record(peer, "first_byte_after_mount_s", byte)
                self.record(peer, "mount_and_first_byte_s", seconds + byte)

        def find():
            drop_caches()
            with mounted("find") as (_, mount_point, _):
                seconds, _ = timed(["find", mount_point, "-type", "f"], timeout)
                self.record(peer, "cold_find_s", seconds)

        def grep():
            drop_caches()
            with mounted("grep") as (_, mount_point, process):
                self.record(peer, "cold_grep_s", self.grep(mount_point, timeout))
                self.record(peer, "warm_grep_s", self.grep(mount_point, timeout))
                self.record(peer, "peak_rss_after_walk_bytes", peak_rss_bytes(process.process.pid))

        def read():
            cache = os.path.join(self.work, "rclone-large-cache")
            drop_caches()
            with mounted("large", cache) as (_, mount_point, _):
                self.record(peer, "cold_read_bytes_per_s", sequential_read(os.path.join(mount_point, large), timeout)[1])
            with mounted("large-again", cache) as (_, mount_point, _):
                drop_caches()
                self.record(peer, "hydrated_read_bytes_per_s", sequential_read(os.path.join(mount_point, large), timeout)[1])

        self.attempt(peer, "mount_and_first_byte_s", first)
        self.attempt(peer, "cold_find_s", find)
        self.attempt(peer, "cold_grep_s", grep)
        self.attempt(peer, "cold_read_bytes_per_s", read)


# ----------------------------------------------------------------------------------------------------------------
# Report


def table(results, arguments):
    peers = results["peers"]
    rtt_ms = 2 * arguments.delay_ms

    def get(peer, key):
        return peers.get(peer, {}).get(key)

    def seconds(value):
        if value is None:
            return "-"
        if isinstance(value, str):
            return f"> {arguments.timeout} s (timeout)" if value.startswith("timeout") else value.split(" (")[0]
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"

    def rate(value):
        if value is None:
            return "-"
        if isinstance(value, str):
            return value.split(" (")[0]
        return f"{value / 1e6:,.0f} MB/s"

    def mib(value):
        return "-" if not isinstance(value, int) else f"{value / (1 << 20):.0f} MiB"

    def check(ok):
        return "met" if ok else "**missed**"

    def number(value):
        return value if isinstance(value, (int, float)) else None

    rows = []
    fb = number(get("mesa", "first_byte_after_mount_s"))
    fb_target = (3 * rtt_ms + 20) / 1000
    rows.append(("mount + first byte of a file at depth 6", seconds(get("mesa", "mount_and_first_byte_s")),
                 seconds(get("git", "mount_and_first_byte_s")) + " (blobless clone + checkout)",
                 seconds(get("rclone", "mount_and_first_byte_s")), seconds(get("native", "first_byte_cold_s")), ""))
    rows.append(("first byte after the mount is ready", seconds(get("mesa", "first_byte_after_mount_s")), "-",
                 seconds(get("rclone", "first_byte_after_mount_s")), "-",
                 f"<= {fb_target * 1000:.0f} ms: " + (check(fb is not None and fb <= fb_target) if fb is not None else "-")))
    find = number(get("mesa", "cold_find_s"))
    rows.append(("cold `find` of every file", seconds(get("mesa", "cold_find_s")), "-", seconds(get("rclone", "cold_find_s")),
                 seconds(get("native", "cold_find_s")), "<= 2 s: " + (check(find is not None and find <= 2) if find else "-")))
    grep, clone_grep = number(get("mesa", "cold_grep_s")), number(get("git", "cold_grep_s"))
    rows.append(("cold `grep -r`", seconds(get("mesa", "cold_grep_s")),
                 seconds(get("git", "cold_grep_s")) + " (shallow clone + grep)", seconds(get("rclone", "cold_grep_s")),
                 seconds(get("native", "cold_grep_s")),
                 "< git: " + (check(grep is not None and clone_grep is not None and grep < clone_grep) if grep else "-")))
    warm, native_warm = number(get("mesa", "warm_grep_s")), number(get("native", "warm_grep_s"))
    ratio = warm / native_warm if warm and native_warm else None
    rows.append(("warm `grep -r`", seconds(get("mesa", "warm_grep_s")), "-", seconds(get("rclone", "warm_grep_s")),
                 seconds(get("native", "warm_grep_s")),
                 f"<= 1.5x native: {ratio:.2f}x, {check(ratio <= 1.5)}" if ratio else "-"))
    size = results.get("large_file_bytes", 0)
    rows.append((f"cold sequential read of {size / (1 << 30):.2f} GiB", rate(get("mesa", "cold_read_bytes_per_s")), "-",
                 rate(get("rclone", "cold_read_bytes_per_s")), rate(get("native", "cold_read_bytes_per_s")), ""))
    hydrated, native_cold = number(get("mesa", "hydrated_read_bytes_per_s")), number(get("native", "cold_read_bytes_per_s"))
    ratio = hydrated / native_cold if hydrated and native_cold else None
    rows.append(("hydrated sequential read (page cache dropped)", rate(get("mesa", "hydrated_read_bytes_per_s")), "-",
                 rate(get("rclone", "hydrated_read_bytes_per_s")), rate(get("native", "cold_read_bytes_per_s")),
                 f">= 0.7x native: {ratio:.2f}x, {check(ratio >= 0.7)}" if ratio else "-"))
    rss = [value for value in (get("mesa", "peak_rss_after_walk_bytes"), get("mesa", "peak_rss_after_large_read_bytes"))
           if isinstance(value, int)]
    bound = arguments.memory_cache_bytes + (128 << 20)
    rows.append(("daemon peak RSS (walk + grep of everything)", mib(get("mesa", "peak_rss_after_walk_bytes")), "-",
                 mib(get("rclone", "peak_rss_after_walk_bytes")), "-",
                 f"<= {bound / (1 << 20):.0f} MiB: " + (check(max(rss) <= bound) if rss else "-")))
    lines = ["| measurement | mesa mount | git | rclone mount (webdav, vfs full) | native disk | target |",
             "|---|---:|---:|---:|---:|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mesa", required=True, help="the mesa binary")
    parser.add_argument("--repo", help="a local git repository to measure instead of the generated one")
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--directories", type=int, default=10_000)
    parser.add_argument("--large-mib", type=int, default=1024)
    parser.add_argument("--delay-ms", type=int, default=10, help="one-way delay of every proxy (default 10)")
    parser.add_argument("--timeout", type=int, default=180, help="seconds any one step may take (default 180)")
    parser.add_argument("--cache", default="/var/tmp/mesa-lazy-bench", help="where generated repositories are kept")
    parser.add_argument("--json", default="bench-out/lazy-fetch-bench.json", help="where to write the figures")
    parser.add_argument("--peers", default="native,mesa,git,rclone")
    arguments = parser.parse_args()
    arguments.memory_cache_bytes = int(os.environ.get("MESA_CACHE_MAX_MEMORY_SIZE", "320000000"))
    arguments.work = os.path.realpath(os.environ.get("MESA_BENCH_WORK") or
                                      subprocess.check_output(["mktemp", "-d", "/tmp/mesa-lazy-bench.XXXXXX"]).decode().strip())
    os.makedirs(arguments.cache, exist_ok=True)

    tree, bare, _ = prepare_repository(arguments)
    files = []
    for directory, _, names in os.walk(tree):
        files += [os.path.relpath(os.path.join(directory, name), tree) for name in names]
    # The first-byte probe: a file inside six directories (the deepest file when the repository has none).
    deep = sorted(path for path in files if path.count("/") == 6)
    probe = deep[0] if deep else max(files, key=lambda path: path.count("/"))
    large = max(files, key=lambda path: os.path.getsize(os.path.join(tree, path)))
    bench = Bench(arguments)
    bench.expected_files, bench.expected_matches = len(files), None
    bench.results.update(repository=arguments.repo or "generated", files=len(files),
                         directories=sum(1 for _ in os.walk(tree)) - 1,
                         bytes=sum(os.path.getsize(os.path.join(tree, path)) for path in files), probe=probe, large_file=large,
                         large_file_bytes=os.path.getsize(os.path.join(tree, large)), timeout_s=arguments.timeout,
                         memory_cache_bytes=arguments.memory_cache_bytes)
    log(f"{len(files)} files, {bench.results['bytes'] / 1e6:.0f} MB; probe {probe}; large {large}; work {arguments.work}")
    peers = arguments.peers.split(",")
    try:
        bench.run_native(tree, probe, large)
        if "mesa" in peers:
            bench.start_server(bare)
            bench.run_mesa(probe, large, len(files))
        if "git" in peers:
            bench.run_git(bare, probe)
        if "rclone" in peers:
            bench.run_rclone(tree, probe, large)
    finally:
        bench.close()
    bench.results["table"] = table(bench.results, arguments)
    os.makedirs(os.path.dirname(os.path.abspath(arguments.json)), exist_ok=True)
    with open(arguments.json, "w") as handle:
        json.dump(bench.results, handle, indent=2, sort_keys=True)
    print(bench.results["table"])
    print(f"\n{len(files)} files, {bench.results['bytes'] / 1e6:.0f} MB, {arguments.delay_ms} ms each way "
          f"({2 * arguments.delay_ms} ms round trip); figures in {arguments.json}")
    if os.environ.get("MESA_BENCH_KEEP") != "1":
        shutil.rmtree(arguments.work, ignore_errors=True)


if __name__ == "__main__":
    main()
