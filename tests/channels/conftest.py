"""Real servers on loopback for the channel tests: an SMTP server (aiosmtpd) and a webhook receiver (aiohttp)."""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from services.common.settings import Settings
from services.orders.channels import outbox

# Attachments the tests store go to a throwaway folder, never into the work tree (read when settings are built).
os.environ.setdefault("ATTACHMENTS_DIR", tempfile.mkdtemp(prefix="order-support-attachments-"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """What an SMTP server on 127.0.0.1 received; stop() and start() again on the same port = relay down, up."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


@pytest.fixture
def smtp_inbox() -> Iterator[Inbox]:
    inbox = Inbox()
    inbox.start()
    yield inbox
    inbox.stop()


class Receiver:
    """The shop's webhook endpoint: records every delivery (headers and raw body); can be down (503 or closed)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.answer = 200
        self.runner: web.AppRunner | None = None

    async def _hook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.answer < 300:
            self.deliveries.append(({k.lower(): v for k, v in request.headers.items()}, body))
        return web.Response(status=self.answer, text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._hook)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


async def drain(app: Any, settings: Settings, *, now: Any = None, worker_id: str = "test-worker",
                passes: int = 50) -> int:
    """Run the outbox until a pass finds nothing due (other tests' rows included)."""
    total = 0
    for _ in range(passes):
        done = await outbox.run_outbox_once(app.state.sessionmaker, settings, now=now, worker_id=worker_id)
        total += done
        if done == 0:
            break
    return total
