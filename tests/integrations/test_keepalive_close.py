"""A kept-alive connection the service is closing is not used again. Node's http server
(Overseerr, Seerr, Uptime Kuma) and uvicorn close a connection idle for 5 s; a request
sent on it at that moment crosses the close and gets no answer, and a call that is not
retried (plex.tv's sign-in and audience calls) fails with "cannot be reached" although
the service is up. That failed CI once (the audience read after a 5 s pause).

The service here is a raw loopback socket that behaves as such a server does when the
two cross: a request arriving on a connection idle for about its keep-alive time is
dropped with the connection, unanswered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from medianest.integrations.http import ResilientClient

SERVER_KEEP_ALIVE = 5.0
# The pause between the two calls: what the server's timer sees as its keep-alive time
# (the close and the request cross).
PAUSE = 4.7
ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


class KeepAliveServer:
    """Answers keep-alive requests; counts connections and requests it dropped."""

    def __init__(self) -> None:
        self.connections = 0
        self.dropped = 0
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        idle_since: float | None = None
        try:
            while True:
                try:
                    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), SERVER_KEEP_ALIVE)
                except (TimeoutError, asyncio.IncompleteReadError):
                    return  # idle too long, or the client left: closed
                if idle_since is not None and time.monotonic() - idle_since >= PAUSE - 0.2:
                    self.dropped += 1  # its close timer fired as the request came in
                    return
                writer.write(ANSWER)
                await writer.drain()
                idle_since = time.monotonic()
        except ConnectionError:
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


@pytest.fixture
async def keep_alive_server() -> AsyncIterator[KeepAliveServer]:
    served = KeepAliveServer()
    served.server = await asyncio.start_server(served.handle, "127.0.0.1", 0)
    yield served
    served.server.close()
    await served.server.wait_closed()


async def test_a_call_after_a_pause_near_the_services_keep_alive_is_answered(
    keep_alive_server: KeepAliveServer, make_resilient: Callable[..., ResilientClient]
) -> None:
    client = make_resilient(keep_alive_server.url)
    first = await client.request("GET", "/api/v2/user", retry=False)
    assert first.status_code == 200
    quick = await client.request("GET", "/api/v2/user", retry=False)
    assert quick.status_code == 200
    assert keep_alive_server.connections == 1  # a connection in use is kept

    await asyncio.sleep(PAUSE)
    after_pause = await client.request("GET", "/api/v2/user", retry=False)

    assert after_pause.status_code == 200
    assert keep_alive_server.dropped == 0
    assert keep_alive_server.connections == 2  # a fresh connection, not the closing one
