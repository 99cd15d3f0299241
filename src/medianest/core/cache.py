"""A small JSON cache with two backends: in-process (embedded) and Redis.

The Redis backend treats a Redis outage as a cache miss: the app keeps serving,
only slower, and recovers on its own when Redis returns.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Protocol

from medianest.core.logging import get_logger
from medianest.core.recent import RecentlyUsed
from medianest.core.redis_guard import RedisGuard, redis_failures

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger(__name__)


class Cache(Protocol):
    async def get(self, key: str) -> Any | None: ...
    async def set(self, key: str, value: Any, ttl_seconds: float) -> None: ...
    async def delete(self, key: str) -> None: ...


class MemoryCache:
    """A bounded LRU with per-entry expiry; values are stored as JSON to match Redis."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: RecentlyUsed[str, tuple[float, str]] = RecentlyUsed(max_entries)

    async def get(self, key: str) -> Any | None:
        entry = self._entries.get(key)  # (marked used; dropped below if expired)
        if entry is None:
            return None
        expires_at, raw = entry
        if expires_at < time.monotonic():
            self._entries.pop(key)
            return None
        return json.loads(raw)

    async def set(self, key: str, value: Any, ttl_seconds: float) -> None:
        self._entries.put(key, (time.monotonic() + ttl_seconds, json.dumps(value, default=str)))

    async def delete(self, key: str) -> None:
        self._entries.pop(key)


class RedisCache:
    """`redis` should have short socket timeouts (see core/redis_guard.py). While Redis
    fails, the cache is this process's memory: reads and writes go there without a
    Redis call, so state kept between two requests to this instance (a Plex PIN, for
    one) survives the outage; a Redis miss also looks there, for what was written
    during one."""

    def __init__(
        self, redis: Redis, prefix: str = "medianest:cache:", guard: RedisGuard | None = None
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._guard = guard or RedisGuard()
        self._fallback = MemoryCache()

    async def get(self, key: str) -> Any | None:
        if not self._guard.available():
            return await self._fallback.get(key)
        try:
            raw = await self._redis.get(self._prefix + key)
        except redis_failures() as exc:
            self._guard.failed("cache_get", exc)
            return await self._fallback.get(key)
        if raw is None:
            return await self._fallback.get(key)
        return json.loads(raw)

    async def set(self, key: str, value: Any, ttl_seconds: float) -> None:
        if not self._guard.available():
            await self._fallback.set(key, value, ttl_seconds)
            return
        try:
            await self._redis.set(
                self._prefix + key,
                json.dumps(value, default=str),
                px=max(1, int(ttl_seconds * 1000)),
            )
        except redis_failures() as exc:
            self._guard.failed("cache_set", exc)
            await self._fallback.set(key, value, ttl_seconds)
            return
        await self._fallback.delete(key)  # Redis holds the newer value now

    async def delete(self, key: str) -> None:
        await self._fallback.delete(key)
        if not self._guard.available():
            return
        try:
            await self._redis.delete(self._prefix + key)
        except redis_failures() as exc:
            self._guard.failed("cache_delete", exc)
