"""Webhook targets through Mesa's Python SDK (`mesa.webhook_targets`), and a delivery to a local receiver verified
and dispatched by the SDK's `mesa.webhooks.receive`."""

from __future__ import annotations

import asyncio
import http.server
import threading
import time

import pytest

from mesa_rest.api.webhook_target import get_webhook_target
from mesa_sdk import MesaWebhookVerificationError, NotFoundError, ValidationError
from mesa_sdk._client import unwrap

from conftest import unique


class Receiver(http.server.ThreadingHTTPServer):
    """Collects POSTed bodies and headers on 127.0.0.1."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                with receiver.lock:
                    receiver.received.append((body, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"

    def deliveries(self) -> list[tuple[bytes, dict[str, str]]]:
        with self.lock:
            return list(self.received)

    def close(self) -> None:
        self.shutdown()
        self.server_close()


def test_webhook_targets_crud(server):
    async def body(mesa):
        repo = await mesa.repos.create(name=unique("hooked"))
        created = await mesa.webhook_targets.create(
            url="https://example.com/hook", name="ci", events=["push", "change.created"], repo_ids=[repo.id])
        assert created.secret and created.url == "https://example.com/hook" and created.name == "ci"
        assert [str(event) for event in created.events] == ["push", "change.created"]
        assert created.repo_ids == [repo.id]

        listed = await mesa.webhook_targets.list()
        mine = [target for target in listed.webhook_targets if target.id == created.id]
        assert len(mine) == 1 and "secret" not in mine[0].to_dict()

        # GET of one target (mesa-rest's get_webhook_target; the SDK wraps list only): never the secret.
        one = unwrap(await get_webhook_target.asyncio_detailed("local", created.id, client=mesa._client))
        assert one.id == created.id and one.name == "ci" and "secret" not in one.to_dict()

        updated = await mesa.webhook_targets.update(
            webhook_target_id=created.id, name="renamed", events=["bookmark.moved"])
        assert updated.name == "renamed" and [str(e) for e in updated.events] == ["bookmark.moved"]
        assert updated.url == "https://example.com/hook" and updated.repo_ids == [repo.id]
        cleared = await mesa.webhook_targets.clear_repo_filter(webhook_target_id=created.id)
        assert cleared.repo_ids is None

        with pytest.raises(ValidationError):
            await mesa.webhook_targets.create(url="ftp://example.com/hook")
        assert (await mesa.webhook_targets.delete(webhook_target_id=created.id)).success is True
        with pytest.raises(NotFoundError):
            await mesa.webhook_targets.delete(webhook_target_id=created.id)

    server.run(body)


def test_webhook_delivery_verified_by_the_sdk(server):
    receiver = Receiver()
    try:
        async def body(mesa):
            target = await mesa.webhook_targets.create(url=receiver.url, events=["repo.created"])
            repo = await mesa.repos.create(name=unique("announced"))
            deadline = time.monotonic() + 30
            delivery = None
            while delivery is None and time.monotonic() < deadline:
                for raw, headers in receiver.deliveries():
                    if repo.name.encode() in raw:
                        delivery = (raw, headers)
                await asyncio.sleep(0.1)
            assert delivery is not None, "no repo.created delivery within 30 s"
            raw, headers = delivery

            async with server.client(webhook_secret=target.secret) as verifier:
                seen: list[dict] = []
                verifier.webhooks.on("repo.created", seen.append)
                await verifier.webhooks.receive(raw, headers)
                assert len(seen) == 1
                event = seen[0]
                assert event["type"] == "repo.created"
                assert event["organization"]["slug"] == "local"
                assert event["repository"]["id"] == repo.id and event["data"]["repo"]["name"] == repo.name
                with pytest.raises(MesaWebhookVerificationError):
                    await verifier.webhooks.receive(raw + b" ", headers)
            await mesa.webhook_targets.delete(webhook_target_id=target.id)

        server.run(body)
    finally:
        receiver.close()
