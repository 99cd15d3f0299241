"""python-socketio's Redis manager, made to behave when Redis does not.

python-socketio delivers an emit to this instance's sockets itself and then publishes it
for the other instances (and a separate worker only publishes). Its own Redis client had
no socket timeout: with Redis hung, every emit waited for the driver's give-up twice
(10 s in all), and emits are awaited on request paths (marking notifications read, the
Overseerr webhook) and by the status monitor. Here a publish has the request paths' 2 s
socket timeout and skips Redis while the process's `RedisGuard` says it is away.

Its listener (what carries the other instances' and a separate worker's emits to this
instance's sockets) waited on `listen()` with no deadline: a connection that died
without a reset was read from for ever, and after errors it slept up to 60 s between
tries. Here it pings a quiet subscription (`pubsub.Heartbeat`) and tries again every
second, as the app's other subscriptions do.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import socketio

from medianest.core.logging import get_logger
from medianest.core.pubsub import Heartbeat
from medianest.core.redis_guard import SOCKET_TIMEOUT_SECONDS, RedisGuard, redis_failures

log = get_logger(__name__)


def _nothing_to_recover() -> None:
    """python-socketio keeps no history of emits: nothing to do after a gap."""


class RedisManager(socketio.AsyncRedisManager):  # type: ignore[misc]
    """Fan-out of emits between instances over one Redis channel (see the module)."""

    def __init__(self, url: str, *, channel: str, write_only: bool = False) -> None:
        super().__init__(
            url,
            channel=channel,
            write_only=write_only,
            redis_options={
                "socket_timeout": SOCKET_TIMEOUT_SECONDS,
                "socket_connect_timeout": SOCKET_TIMEOUT_SECONDS,
            },
        )
        # Its own until the app hands it the process's (`Realtime.share_redis_guard`).
        self._own_guard = RedisGuard(ping=self._ping)
        self.guard = self._own_guard
        self._listen_redis: Any = None  # the listener's client, apart from the publisher's

    def _get_redis_module(self) -> Any:
        """redis-py, imported as it connects: the command's entry loads python-socketio
        while redis cannot be imported (medianest/__main__.py), so what its module
        imported at the top is None in a served process."""
        from redis import asyncio as redis_asyncio

        return redis_asyncio

    def _client(self) -> Any:
        if self.redis is None:
            self._redis_connect()
        return self.redis

    async def _ping(self) -> None:
        await self._client().ping()

    async def _publish(self, data: Any) -> None:
        # This instance's sockets already have it; only the other instances miss it.
        if not self.guard.available():
            return
        try:
            await self._client().publish(self.channel, self.json.dumps(data))
        except redis_failures() as exc:
            self.guard.failed("socketio_publish", exc)

    async def _redis_listen_with_retries(self) -> AsyncIterator[dict[str, Any]]:
        if self._listen_redis is None:
            module = self._get_redis_module()
            self._listen_redis = module.Redis.from_url(self.redis_url, **self.redis_options)
        while True:
            pubsub = self._listen_redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                # Emits lost while redis-py reconnected by itself cannot be asked for again
                # (the heartbeat logs the gap).
                heartbeat = Heartbeat(pubsub, on_gap=_nothing_to_recover)
                while True:
                    message = await heartbeat.get_message()
                    if message is not None:
                        yield message
            except redis_failures() as exc:
                log.warning("socketio_listener_lost", error=type(exc).__name__)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(*redis_failures()):
                    await pubsub.aclose()

    async def aclose(self) -> None:
        """Its Redis clients, which python-socketio never closes itself."""
        await self._own_guard.aclose()
        for client in (self.redis, self._listen_redis):
            if client is not None:
                await client.aclose()
