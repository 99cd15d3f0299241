"""Pure ASGI middleware: a request body larger than the limit is refused with 413.

Without it, a server not behind nginx read whatever it was sent into memory (four
400 MB bodies took the process from 209 MB to a 3 GB peak). A declared
Content-Length over the limit is answered at once, unread; a streamed body
(Transfer-Encoding) is counted as it arrives and refused at the first chunk over the
limit. A request with no body or a declared length within the limit passes untouched.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from medianest.core.envelope import error_payload
from medianest.core.errors import PayloadTooLarge


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than {limit} bytes.", details={"maxBytes": limit}
    )


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        streamed = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0  # h11 refuses a malformed length before we get here
                if declared > limit:
                    await _send_error(send, _too_large(limit))
                    return
            elif name == b"transfer-encoding":
                streamed = True
        if not streamed:
            # No body, or one of a declared length within the limit (the server reads no
            # more than it declares): nothing to count, the app talks to the server.
            await self.app(scope, receive, send)
            return
        received = 0
        response_started = False
        refused = False

        async def counted_receive() -> Message:
            nonlocal received, refused, response_started
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not response_started:
                    # Answer now and tell the app the client went away: it stops reading
                    # (FastAPI would turn an exception raised here into a 400).
                    refused = response_started = True
                    await _send_error(send, _too_large(limit))
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return  # the 413 is the answer; whatever the app says after it is dropped
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except Exception:
            if not refused:
                raise
            # The app failed on the "disconnect" it was given; the client has its 413.


async def _send_error(send: Send, exc: PayloadTooLarge) -> None:
    body = json.dumps(error_payload(exc.code, exc.message, exc.details)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": exc.status_code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
