"""A real `mesa serve` for the suite: the debug binary (or $MESA_BINARY) on 127.0.0.1 with a free port, over a
temporary data directory, org `local`; its admin key is the one it prints on first start."""

from __future__ import annotations

import asyncio
import base64
import os
import pathlib
import select
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from mesa_sdk import Mesa

ROOT = pathlib.Path(__file__).resolve().parents[2]
ORG = "local"


@dataclass
class Server:
    url: str
    admin_key: str
    process: subprocess.Popen[bytes]
    data_dir: str
    binary: str

    @property
    def api_url(self) -> str:
        return f"{self.url}/v1"

    def client(self, key: str | None = None, **kwargs: object) -> Mesa:
        """An SDK client as a user makes one: a key (or token) and the server's API URL."""
        return Mesa(api_key=key or self.admin_key, api_url=self.api_url, **kwargs)  # type: ignore[arg-type]

    def run(self, body: Callable[[Mesa], Awaitable[None]], key: str | None = None, **kwargs: object) -> None:
        """Runs `body` with a fresh client (the SDK is async; each test gets its own event loop)."""

        async def main() -> None:
            async with self.client(key, **kwargs) as mesa:
                await body(mesa)

        asyncio.run(main())


def _start(binary: str, data_dir: str, timeout: float = 30) -> Server:
    process = subprocess.Popen(
        [binary, "serve", "--data-dir", data_dir, "--listen", "127.0.0.1:0", "--org", ORG, "--log-level", "warning",
         "--webhook-retry-base", "1", "--allow-file-upstreams"],
        stdout=subprocess.PIPE, stderr=None)
    assert process.stdout is not None
    key = url = None
    text = b""
    deadline = time.monotonic() + timeout
    while url is None:
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            raise RuntimeError(f"mesa serve did not start; output so far:\n{text.decode(errors='replace')}")
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if not ready:
            continue
        chunk = os.read(process.stdout.fileno(), 4096)
        text += chunk
        for line in text.decode(errors="replace").splitlines():
            if line.startswith("admin key: "):
                key = line.removeprefix("admin key: ").strip()
            if line.startswith("listening on "):
                url = line.removeprefix("listening on ").strip()
    assert key, "mesa serve printed no admin key"
    return Server(url=url, admin_key=key, process=process, data_dir=data_dir, binary=binary)


@pytest.fixture(scope="session")
def server():
    binary = os.environ.get("MESA_BINARY") or str(ROOT / ".build" / "debug" / "mesa")
    if not os.access(binary, os.X_OK):
        pytest.exit(f"no mesa binary at {binary}: run `swift build` first (or set MESA_BINARY)", returncode=2)
    data_dir = tempfile.mkdtemp(prefix="mesa-python-sdk.")
    started = _start(binary, data_dir)
    try:
        yield started
    finally:
        started.process.terminate()
        try:
            started.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            started.process.kill()
            started.process.wait()
        if started.process.stdout is not None:
            started.process.stdout.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def unique(prefix: str) -> str:
    """A repo name no other test uses (the suite shares one server)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
