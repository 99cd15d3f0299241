"""M6: request bodies over the limit are refused inside the app, without nginx.

Before: four unauthenticated 400 MB bodies to `/api/auth/admin` took the process from
209 MB to a 3 GB peak. Now a declared length over the limit is answered 413 unread,
and a chunked body is refused at the first byte over: memory stays flat.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import psutil
import pytest

from medianest.app import MediaNestApp
from medianest.settings import Settings
from tests.factories.users import make_client
from tests.faults.support import AppProcess
from tests.support.http import http_client

MB = 1024 * 1024
LIMIT = MB  # the default max_request_body_bytes
CHUNK = b"x" * (64 * 1024)


async def raw_post(url: str, path: str, *, declared: int | None) -> tuple[int, dict[str, object]]:
    """POST an oversized body over a raw socket, as a real client does; (status, JSON body).

    Declared (`Content-Length`): sent with `Expect: 100-continue`, as curl sends any body
    over 1 MB, so the body follows only if the server asks for it (it must not: a server
    that reads it answers 100 and fails the test). Chunked: the body streams to one byte
    past the limit and then stalls without its closing chunk, so only a server that
    refuses at the first byte over answers at all. Nothing sent is left unread, so the
    server's close is a FIN, not a reset that could discard its answer."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    framing = (
        f"Content-Length: {declared}\r\nExpect: 100-continue"
        if declared is not None
        else "Transfer-Encoding: chunked"
    )
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n".encode()
    )
    if declared is None:
        sent = 0
        while sent <= LIMIT:
            chunk = CHUNK[: LIMIT + 1 - sent]
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            await writer.drain()
    try:
        return await asyncio.wait_for(_read_answer(reader), timeout=30)
    finally:
        writer.close()


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, object]]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return status, json.loads(await reader.readexactly(length))


@pytest.mark.timeout(180)
async def test_four_huge_unauthenticated_bodies_are_refused_with_413_and_memory_stays_flat(
    serve: Callable[..., Awaitable[AppProcess]], attack_settings: Callable[..., Settings]
) -> None:
    served = await serve(attack_settings())
    assert served.process is not None
    server = psutil.Process(served.process.pid)
    before = server.memory_info().rss
    answers = await asyncio.gather(
        raw_post(served.url, "/api/auth/admin", declared=None),
        raw_post(served.url, "/api/auth/admin", declared=None),
        raw_post(served.url, "/api/auth/admin", declared=400 * MB),
        raw_post(served.url, "/api/auth/admin", declared=400 * MB),
    )
    grown = (server.memory_info().rss - before) / MB
    print(f"4 huge bodies: statuses {[s for s, _ in answers]}, server RSS grew {grown:.1f} MB")
    for status, payload in answers:
        assert status == 413
        assert payload["success"] is False
        assert payload["error"]["code"] == "PAYLOAD_TOO_LARGE"  # type: ignore[index]
        assert payload["error"]["details"] == {"maxBytes": LIMIT}  # type: ignore[index]
    assert grown < 30, f"the server grew by {grown:.0f} MB"
    async with http_client(base_url=served.url) as http:  # and it still serves
        assert (await http.get("/api/health")).status_code in (200, 503)


async def test_the_body_limit_is_a_setting_and_bodies_within_it_pass(
    app_factory: Callable[[Settings], Awaitable[MediaNestApp]],
    attack_settings: Callable[..., Settings],
) -> None:
    # In the test process: the limit is the app's own middleware, as served above.
    app = await app_factory(attack_settings(max_request_body_bytes=2048))
    sign_in = {"username": "nobody", "password": "p" * 100}
    async with make_client(app) as http:
        small = await http.post("/api/auth/admin", json=sign_in)
        assert small.status_code == 401
        large = await http.post("/api/auth/admin", json={**sign_in, "password": "p" * 3000})
        assert large.status_code == 413
        assert large.json()["error"]["details"] == {"maxBytes": 2048}
        # Chunked (no Content-Length): counted while it streams.
        chunks = (b'{"username": "nobody", "password": "' + b"p" * 1000 for _ in range(1))

        async def streamed() -> object:
            for part in chunks:
                yield part
            yield b"p" * 2000 + b'"}'

        refused = await http.post(
            "/api/auth/admin", content=streamed(), headers={"content-type": "application/json"}
        )
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
