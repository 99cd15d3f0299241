"""The body limit's bookkeeping only where a body streams: a request with no body, or with
a declared length within the limit, reaches the app with the server's own receive and send
(the server reads no more than the declared length); a streamed body is counted; any
declared length over the limit is refused unread. The served behaviour under attack:
tests/attack/test_body_limit.py."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from medianest.core.body_limit import BodyLimitMiddleware

LIMIT = 1_000


def http_scope(method: str, headers: list[tuple[bytes, bytes]]) -> Scope:
    return {"type": "http", "method": method, "path": "/api/x", "headers": headers}


class Recorder:
    """An app that records the receive and send it was given, reads the body, answers 204."""

    def __init__(self) -> None:
        self.receive: Receive | None = None
        self.send: Send | None = None
        self.body = b""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.receive, self.send = receive, send
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def serve(
    headers: list[tuple[bytes, bytes]], chunks: list[bytes], method: str = "POST"
) -> tuple[Recorder, list[Message], Receive, Send]:
    app = Recorder()
    sent: list[Message] = []
    pending = list(chunks)

    async def receive() -> Message:
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    await BodyLimitMiddleware(app, max_bytes=LIMIT)(http_scope(method, headers), receive, send)
    return app, sent, receive, send


def status_of(sent: list[Message]) -> Any:
    return next(m["status"] for m in sent if m["type"] == "http.response.start")


async def test_a_request_without_a_body_reaches_the_app_with_the_servers_own_channels() -> None:
    app, sent, receive, send = await serve([(b"host", b"x")], [b""], method="GET")
    assert app.receive is receive and app.send is send
    assert status_of(sent) == 204


async def test_a_declared_length_within_the_limit_passes_untouched() -> None:
    body = b"x" * LIMIT
    app, sent, receive, send = await serve([(b"content-length", b"%d" % len(body))], [body])
    assert app.receive is receive and app.send is send
    assert app.body == body and status_of(sent) == 204


async def test_a_streamed_body_is_counted_and_refused_past_the_limit() -> None:
    chunks = [b"x" * 600, b"x" * 600, b"x" * 600]
    app, sent, receive, _ = await serve([(b"transfer-encoding", b"chunked")], chunks)
    assert app.receive is not receive  # counted
    assert status_of(sent) == 413
    assert json.loads(sent[1]["body"])["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert len(app.body) <= 2 * 600  # it stopped reading at the chunk over the limit


async def test_a_streamed_body_within_the_limit_arrives_whole() -> None:
    chunks = [b"a" * 400, b"b" * 400]
    app, sent, _, _ = await serve([(b"transfer-encoding", b"chunked")], chunks)
    assert app.body == b"a" * 400 + b"b" * 400 and status_of(sent) == 204


async def test_any_declared_length_over_the_limit_is_refused_unread() -> None:
    headers = [(b"content-length", b"10"), (b"content-length", b"%d" % (LIMIT + 1))]
    app, sent, _, _ = await serve(headers, [b"x" * 10])
    assert app.receive is None  # the app never ran
    assert status_of(sent) == 413
