"""A Redis that accepts connections and never answers, and redis-py turning a cancellation
that arrives in the middle of a read into an error: what a stop must still get past."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError


@asynccontextmanager
async def silent_redis() -> AsyncIterator[tuple[str, list[asyncio.StreamWriter]]]:
    """The URL of a loopback server that accepts, reads nothing and answers nothing, and
    the connections it accepted."""
    accepted: list[asyncio.StreamWriter] = []

    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0", accepted
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()


def cancelled_subscribes_raise_errors(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make a cancelled `PubSub.subscribe` raise a ConnectionError instead, as redis-py does
    when the cancellation arrives mid-read; the list returned notes each one turned."""
    real_subscribe = PubSub.subscribe
    turned: list[str] = []

    async def subscribe_turning_a_cancel_into_an_error(self: PubSub, *args: Any) -> Any:
        try:
            return await real_subscribe(self, *args)
        except asyncio.CancelledError:
            turned.append("cancel")
            raise RedisConnectionError("the read was interrupted") from None

    monkeypatch.setattr(PubSub, "subscribe", subscribe_turning_a_cancel_into_an_error)
    return turned
