"""Real receivers on loopback for the channels' tests: a JSON webhook (Apprise's `json://`),
an SMTP server (aiosmtpd, for Apprise's `mailto://`) and a web-push service endpoint that
keeps the encrypted bodies for the test to decrypt with the subscription's own keys."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.support.servers import free_port


@dataclass
class Received:
    at: float
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpReceiver:
    """An aiohttp server on 127.0.0.1 that records every POST; `answer` sets its status
    (e.g. 503 while "down"); a refused answer is recorded too."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.answer = 200
        self.received: list[Received] = []
        self.refused: list[Received] = []
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        entry = Received(
            time.monotonic(), request.path, dict(request.headers), await request.read()
        )
        if self.answer >= 400:
            self.refused.append(entry)
            return web.Response(status=self.answer, text="down for the test")
        self.received.append(entry)
        return web.Response(status=self.answer, text="ok")

    async def start(self) -> HttpReceiver:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                await asyncio.sleep(0.02)
        return self.received


class _MailHandler:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


class SmtpReceiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.handler = _MailHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Message]:
        async with asyncio.timeout(timeout):
            while len(self.handler.messages) < count:
                await asyncio.sleep(0.02)
        return self.handler.messages


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class BrowserKeys:
    """What a browser keeps for a push subscription: its P-256 key pair and auth secret."""

    private_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    auth_secret: bytes = field(default_factory=lambda: __import__("os").urandom(16))

    def subscription(self, endpoint: str) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": endpoint,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth_secret)},
        }
