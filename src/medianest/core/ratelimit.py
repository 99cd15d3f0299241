"""Per-key rate limits on the `limits` library: atomic on Redis (Lua), in-process otherwise.

When Redis is configured but unreachable, limits fall back to the in-process
store (logged) rather than refusing every request or letting everything through.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from redis.asyncio import BlockingConnectionPool
from redis.exceptions import RedisError

from medianest.core.errors import RateLimitExceeded
from medianest.core.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset_after_seconds: int
    window_seconds: int

    @property
    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_after_seconds),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset_after_seconds))
        return headers

    def exceeded(self, message: str | None = None) -> RateLimitExceeded | None:
        """The error to answer with when this hit was refused, else None."""
        if self.allowed:
            return None
        return RateLimitExceeded(
            message,
            limit=self.limit,
            window_seconds=self.window_seconds,
            retry_after=self.reset_after_seconds,
        )

    def raise_if_exceeded(self, message: str | None = None) -> None:
        error = self.exceeded(message)
        if error is not None:
            raise error


class RateLimiter:
    """Sliding-window limits keyed by an arbitrary string (user id, username+ip, ...).

    The sliding window counter keeps two counters per key, whatever the limit: the
    moving window kept one timestamp per hit (a list as long as the limit) and pruned it
    with a thread hop per request in the in-process store, which cost more than the rest
    of a cached dashboard answer. It weighs the previous window by its overlap, so a
    burst at a window's edge cannot double the limit.
    """

    def __init__(self, redis_url: str | None = None, namespace: str = "medianest") -> None:
        self._memory = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._redis: SlidingWindowCounterRateLimiter | None = None
        self._namespace = namespace
        if redis_url:
            # A blocking pool queues bursts instead of failing them (200 concurrent hits
            # must all be counted in Redis, not spill into the in-process fallback).
            pool = BlockingConnectionPool.from_url(redis_url, max_connections=32, timeout=5)
            storage: Storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=namespace,
                connection_pool=pool,  # type: ignore[arg-type]  # forwarded to redis-py
            )
            self._redis = SlidingWindowCounterRateLimiter(storage)

    @property
    def backend(self) -> str:
        return "redis" if self._redis is not None else "memory"

    async def hit(self, key: str, *, limit: int, window_seconds: int) -> RateLimitResult:
        item = RateLimitItemPerSecond(limit, window_seconds, namespace=self._namespace)
        limiter = self._redis or self._memory
        try:
            allowed = await limiter.hit(item, key)
            stats = await limiter.get_window_stats(item, key)
        except (RedisError, OSError, ConnectionError) as exc:
            log.warning("ratelimit_redis_unavailable", error=type(exc).__name__)
            limiter = self._memory
            allowed = await limiter.hit(item, key)
            stats = await limiter.get_window_stats(item, key)
        reset_after = max(0, math.ceil(stats.reset_time - time.time()))
        if not allowed and reset_after == 0:
            # `limits` reports the current window's end as "now" for a counter created in
            # this very millisecond (its TTL is then exactly two windows): a full window.
            reset_after = window_seconds
        return RateLimitResult(
            allowed=allowed,
            limit=limit,
            remaining=max(0, stats.remaining),
            reset_after_seconds=reset_after if not allowed else min(reset_after, window_seconds),
            window_seconds=window_seconds,
        )

    async def peek(self, key: str, *, limit: int, window_seconds: int) -> RateLimitResult:
        """The state of a limit without consuming it (allowed = one more hit would pass)."""
        item = RateLimitItemPerSecond(limit, window_seconds, namespace=self._namespace)
        limiter = self._redis or self._memory
        try:
            allowed = await limiter.test(item, key)
            stats = await limiter.get_window_stats(item, key)
        except (RedisError, OSError, ConnectionError) as exc:
            log.warning("ratelimit_redis_unavailable", error=type(exc).__name__)
            limiter = self._memory
            allowed = await limiter.test(item, key)
            stats = await limiter.get_window_stats(item, key)
        return RateLimitResult(
            allowed=allowed,
            limit=limit,
            remaining=max(0, stats.remaining),
            reset_after_seconds=max(0, math.ceil(stats.reset_time - time.time())),
            window_seconds=window_seconds,
        )

    async def clear(self, key: str, *, limit: int, window_seconds: int) -> None:
        item = RateLimitItemPerSecond(limit, window_seconds, namespace=self._namespace)
        for limiter in (self._memory, self._redis):
            if limiter is not None:
                try:
                    await limiter.clear(item, key)
                except (RedisError, OSError, ConnectionError):
                    log.warning("ratelimit_redis_unavailable", op="clear")
