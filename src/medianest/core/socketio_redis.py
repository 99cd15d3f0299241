"""python-socketio's Redis manager, made to behave when Redis does not.

python-socketio delivers an emit to this instance's sockets itself and then publishes it
for the other instances (and a separate worker only publishes). Its own Redis client had
no socket timeout: with Redis hung, every emit waited for the driver's give-up twice
(10 s in all), and emits are awaited on request paths (marking notifications read, the
Overseerr webhook) and by the status monitor. Here a publish has the request paths' 2 s
socket timeout and skips Redis while the process's `RedisGuard` says it is away.
"""

from __future__ import annotations

from typing import Any

import socketio

from medianest.core.logging import get_logger
from medianest.core.redis_guard import SOCKET_TIMEOUT_SECONDS, RedisGuard, redis_failures

log = get_logger(__name__)


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

    async def aclose(self) -> None:
        """Its Redis client, which python-socketio never closes itself."""
        await self._own_guard.aclose()
        if self.redis is not None:
            await self.redis.aclose()
