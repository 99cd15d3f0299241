"""M6: request bodies over the limit are refused inside the app, without nginx.

Before: four unauthenticated 400 MB bodies to `/api/auth/admin` took the process from
209 MB to a 3 GB peak. Now a declared length over the limit is answered 413 unread,
and a chunked body is refused at the first byte over: memory stays flat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable

import httpx
import psutil
import pytest

from medianest.settings import Settings
from tests.faults.support import AppProcess

MB = 1024 * 1024
CHUNK = b"x" * (64 * 1024)


async def raw_post(
    url: str, path: str, *, body_bytes: int, declared: int | None
) -> tuple[int, dict[str, object]]:
    """POST `body_bytes` of junk over a raw socket (chunked when `declared` is None) and
    read the answer, even if the server stops reading early; (status, JSON body).

    A server that answers and closes while the client is still sending resets the
    connection (TCP sends RST over unread data), and the reset can discard its answer
    before the client reads it: such an attempt is made again, up to three times."""
    for attempt in range(3):
        try:
            return await _raw_post_once(url, path, body_bytes=body_bytes, declared=declared)
        except (ConnectionResetError, asyncio.IncompleteReadError):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _raw_post_once(
    url: str, path: str, *, body_bytes: int, declared: int | None
) -> tuple[int, dict[str, object]]:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    framing = (
        f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked"
    )
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n".encode()
    )
    answer = asyncio.create_task(_read_answer(reader))
    sent = 0
    with contextlib.suppress(ConnectionError):
        while sent < body_bytes and not answer.done():
            if declared is None:
                writer.write(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
            else:
                writer.write(CHUNK)
            sent += len(CHUNK)
            await writer.drain()
    try:
        return await asyncio.wait_for(answer, timeout=30)
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
    serve: Callable[..., AppProcess], attack_settings: Callable[..., Settings]
) -> None:
    served = serve(attack_settings())
    assert served.process is not None
    server = psutil.Process(served.process.pid)
    before = server.memory_info().rss
    answers = await asyncio.gather(
        raw_post(served.url, "/api/auth/admin", body_bytes=100 * MB, declared=None),
        raw_post(served.url, "/api/auth/admin", body_bytes=100 * MB, declared=None),
        raw_post(served.url, "/api/auth/admin", body_bytes=400 * MB, declared=400 * MB),
        raw_post(served.url, "/api/auth/admin", body_bytes=400 * MB, declared=400 * MB),
    )
    grown = (server.memory_info().rss - before) / MB
    print(f"4 huge bodies: statuses {[s for s, _ in answers]}, server RSS grew {grown:.1f} MB")
    for status, payload in answers:
        assert status == 413
        assert payload["success"] is False
        assert payload["error"]["code"] == "PAYLOAD_TOO_LARGE"  # type: ignore[index]
        assert payload["error"]["details"] == {"maxBytes": MB}  # type: ignore[index]
    assert grown < 30, f"the server grew by {grown:.0f} MB"
    async with httpx.AsyncClient(base_url=served.url) as http:  # and it still serves
        assert (await http.get("/api/health")).status_code in (200, 503)


async def test_the_body_limit_is_a_setting_and_bodies_within_it_pass(
    serve: Callable[..., AppProcess], attack_settings: Callable[..., Settings]
) -> None:
    served = serve(attack_settings(max_request_body_bytes=2048))
    sign_in = {"username": "nobody", "password": "p" * 100}
    async with httpx.AsyncClient(base_url=served.url) as http:
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
