"""One Socket.IO test client for every suite: it keeps each event it receives, with its
arrival time, and offers both ways the tests read them — in order as they come
(`next`, `nothing`, `drain`) and all at once afterwards (`received`, `wait_for`)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import socketio


async def close_refused(client: socketio.AsyncClient) -> None:
    """Close a client whose connect failed. A handshake refused before Socket.IO's own
    (the Origin check, a 4xx on the upgrade) raises with engineio's aiohttp session still
    open: left to the collector, its "Unclosed client session" lands in whatever output a
    later test captures."""
    await client.disconnect()  # not connected: only closes the session


def unclosed_sessions() -> list[aiohttp.ClientSession]:
    """Every aiohttp session not closed, unreachable ones not yet collected included (a
    collection would finalize them with only a warning)."""
    return [s for s in gc.get_objects() if isinstance(s, aiohttp.ClientSession) and not s.closed]


class Listener:
    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.log: list[tuple[float, str, Any]] = []  # (time.monotonic(), event, data)
        self._unread: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.client.on("*", self._any)

    async def _any(self, event: str, data: Any = None) -> None:
        self.log.append((time.monotonic(), event, data))
        await self._unread.put((event, data))

    async def connect(self, url: str, cookie: str | None = None, auth: Any = None) -> Listener:
        """Over WebSocket; `cookie` is a whole Cookie header ("name=value")."""
        try:
            await self.client.connect(
                url,
                headers={"Cookie": cookie} if cookie else {},
                auth=auth,
                transports=["websocket"],
                wait_timeout=10,
            )
        except BaseException:
            await close_refused(self.client)
            raise
        return self

    # --- everything received so far -----------------------------------------------

    def received(self, event: str) -> list[Any]:
        return [data for _at, name, data in self.log if name == event]

    def received_at(self, event: str) -> list[tuple[float, Any]]:
        return [(at, data) for at, name, data in self.log if name == event]

    async def wait_for(self, event: str, count: int, timeout: float = 10.0) -> list[Any]:
        """Once `count` of `event` have arrived: all of them."""
        async with asyncio.timeout(timeout):
            while len(self.received(event)) < count:
                await asyncio.sleep(0.02)
        return self.received(event)

    # --- in order, as they come ------------------------------------------------------

    async def next(
        self,
        event: str,
        where: Callable[[Any], bool] = lambda _data: True,
        timeout: float = 20.0,
    ) -> Any:
        """The next unread `event` whose data satisfies `where` (others are passed)."""
        async with asyncio.timeout(timeout):
            while True:
                name, data = await self._unread.get()
                if name == event and where(data):
                    return data

    async def nothing(self, event: str, within: float) -> list[Any]:
        """Every unread `event` arriving within `within` seconds (expected to be empty)."""
        seen: list[Any] = []
        try:
            async with asyncio.timeout(within):
                while True:
                    name, data = await self._unread.get()
                    if name == event:
                        seen.append(data)
        except TimeoutError:
            pass
        return seen

    def drain(self) -> None:
        """Mark everything received so far as read."""
        while not self._unread.empty():
            self._unread.get_nowait()

    async def close(self) -> None:
        await self.client.disconnect()
