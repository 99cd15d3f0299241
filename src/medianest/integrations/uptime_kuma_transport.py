"""How the live Kuma link reaches Kuma's Socket.IO: a WebSocket, or long-polling where a
reverse proxy passes no WebSocket upgrade.

Kuma's own UI connects with Socket.IO's default transports since 1.23.10 (long-polling,
upgraded to a WebSocket where it can be: louislam/uptime-kuma#4216, `src/mixins/socket.js`
`io(url)`), so a Kuma behind a proxy without the WebSocket headers of its reverse-proxy
guide works in the browser. The link tries the WebSocket first and falls back to that.
"""

from __future__ import annotations

import asyncio
import types
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import engineio.async_client
import engineio.payload
import socketio

from medianest.integrations.tls import tls_context


class _ClientPayload(engineio.payload.Payload):  # type: ignore[misc]  # untyped
    """Kuma's engine.io (Node) answers a long-poll with every packet it holds, five or
    more per monitor after a sign-in; python-engineio's client refuses a payload of over
    16 ("Unexpected packet from server"). Raised for the client only: the limit guards
    MediaNest's own server against browsers' posts."""

    max_decode_packets = 1_000_000


def client_transport_loaded() -> None:
    """The command's entry loads python-socketio while aiohttp cannot import (it is not
    used by a server, medianest/__main__.py), and engineio's client keeps the None it got
    then: without aiohttp it opens no connection at all. Given here, on the first link."""
    if engineio.async_client.aiohttp is None:
        import aiohttp  # on first use: only a process with a live Kuma link loads it

        engineio.async_client.aiohttp = aiohttp
    if engineio.async_client.payload.Payload is not _ClientPayload:
        engineio.async_client.payload = types.SimpleNamespace(Payload=_ClientPayload)


def socket_endpoint(url: str) -> tuple[str, str]:
    """Kuma's base URL as (origin, socketio_path): a Kuma behind a path prefix serves its
    Socket.IO under that prefix."""
    parts = urlsplit(url)
    origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    prefix = parts.path.strip("/")
    return origin, f"{prefix}/socket.io" if prefix else "socket.io"


def new_client(ca_bundle: Path | None) -> socketio.AsyncClient:
    """A client with the HTTP clients' trust (public CAs and the CA bundle), not
    aiohttp's own, for the long-polling requests and the WebSocket."""
    client_transport_loaded()
    import aiohttp

    context = tls_context(ca_bundle)
    sessions: list[Any] = []  # each one engine.io makes, for close_socket to close

    def new_session() -> Any:
        sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)))
        return sessions[-1]

    sio = socketio.AsyncClient(
        reconnection=False,
        logger=False,
        engineio_logger=False,
        http_session=new_session,
        websocket_extra_options={"ssl": context},
    )
    sio.sessions = sessions
    return sio


async def open_socket(
    sio: socketio.AsyncClient, url: str, *, polling: bool, wait_seconds: float
) -> None:
    """Connect by WebSocket, or (`polling`) by long-polling upgraded where it can be."""
    origin, path = socket_endpoint(url)
    connect: Any = sio.connect(
        origin,
        socketio_path=path,
        transports=["polling", "websocket"] if polling else ["websocket"],
        wait_timeout=int(max(1, wait_seconds)),
    )
    await asyncio.wait_for(connect, wait_seconds + 1)
