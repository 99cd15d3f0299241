"""An upstream answer is bounded in time and in size, body included: a service (or a
broken proxy in front of it) that trickles its body a byte at a time, or answers with
an endless body, ends the call at the deadline or the size limit with a clean error,
never holding the request or filling the memory. The services here are raw loopback
sockets, as such a server would behave on the wire."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from medianest.core.errors import ServiceUnavailable, UpstreamError
from tests.integrations.conftest import quick_settings

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def raw_service() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    """Serve a raw HTTP handler on a loopback port; returns its base URL."""
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await reader.readuntil(b"\r\n\r\n")
                await handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass  # the client hung up, as it should
            finally:
                writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        servers.append(server)
        return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for server in servers:
        server.close()


def _head(length: int | None = None, *, encoding: str | None = None) -> bytes:
    lines = ["HTTP/1.1 200 OK", "Content-Type: application/json"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    if encoding is not None:
        lines.append(f"Content-Encoding: {encoding}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Headers at once, then a 40-byte JSON body one byte every 0.3 s (12 s in all)."""
    body = b'{"answer": "' + b"x" * 26 + b'"}'
    writer.write(_head(len(body)))
    for byte in body:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.3)


# Beyond any answer MediaNest asks for (the limit is tens of MB), and valid JSON.
HUGE_BYTES = 64 * 1024 * 1024


async def _huge(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """A JSON body of 64 MB with no length (it ends when the connection does)."""
    writer.write(_head() + b"[")
    chunk = b" " * 65536
    for _ in range(HUGE_BYTES // len(chunk)):
        writer.write(chunk)
        await writer.drain()
    writer.write(b"]")


async def test_a_body_trickled_past_the_timeout_ends_the_call_at_its_deadline(
    raw_service, make_resilient
):
    url = await raw_service(_trickle)
    # Each read of a byte comes well within the 1 s timeout, the whole body never does.
    client = make_resilient(url, timeout=1.0, settings=quick_settings(http_retry_attempts=1))
    started = time.monotonic()

    with pytest.raises(ServiceUnavailable) as failure:
        await client.get_json("/api")

    assert time.monotonic() - started < 3.0  # one try of 1 s, never the 12 s of the body
    assert failure.value.details["reason"] == "timed out"


async def test_a_trickled_body_counts_against_the_deadline_of_all_tries(
    raw_service, make_resilient
):
    url = await raw_service(_trickle)
    client = make_resilient(url, timeout=1.0, settings=quick_settings(http_retry_attempts=10))
    started = time.monotonic()

    with pytest.raises(ServiceUnavailable):
        await client.get_json("/api")

    assert time.monotonic() - started < 6.0  # the deadline is three timeouts


async def test_a_huge_body_is_cut_off_at_the_size_limit_as_an_upstream_error(
    raw_service, make_resilient
):
    url = await raw_service(_huge)
    client = make_resilient(url, service="plex", timeout=10.0)

    with pytest.raises(UpstreamError) as failure:
        await client.get_json("/library")

    assert not isinstance(failure.value, ServiceUnavailable)
    assert failure.value.status_code == 502
    assert failure.value.details["service"] == "plex"
    assert failure.value.details["limitBytes"] < HUGE_BYTES
    assert "Plex" in failure.value.message


async def test_a_compressed_answer_is_limited_by_its_size_once_unpacked(
    raw_service, make_resilient
):
    bomb = gzip.compress(b"[" + b" " * HUGE_BYTES + b"]")  # ~64 kB on the wire

    async def compressed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(len(bomb), encoding="gzip") + bomb)
        await writer.drain()

    client = make_resilient(await raw_service(compressed), timeout=10.0)

    with pytest.raises(UpstreamError) as failure:
        await client.get_json("/api")

    assert failure.value.details["limitBytes"] < HUGE_BYTES


async def test_an_answer_within_the_limits_reads_as_before_compressed_or_not(
    raw_service, make_resilient
):
    packed = gzip.compress(b'{"packed": true}')

    async def plain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(15) + b'{"plain": true}')
        await writer.drain()

    async def compressed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(len(packed), encoding="gzip") + packed)
        await writer.drain()

    plain_client = make_resilient(await raw_service(plain))
    packed_client = make_resilient(await raw_service(compressed))

    assert (await plain_client.get_json("/api")).data == {"plain": True}
    assert (await packed_client.get_json("/api")).data == {"packed": True}


async def test_an_answer_nested_deeper_than_json_decoding_goes_is_an_upstream_error(
    raw_service, make_resilient
):
    nested = b"[" * 100_000 + b"]" * 100_000  # 200 kB

    async def deep(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(_head(len(nested)) + nested)
        await writer.drain()

    client = make_resilient(await raw_service(deep))

    with pytest.raises(UpstreamError) as failure:
        await client.get_json("/api")

    assert not isinstance(failure.value, ServiceUnavailable)
    assert "cannot read" in failure.value.message
