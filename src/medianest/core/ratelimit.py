"""Per-key rate limits on the `limits` library: atomic on Redis (Lua), in-process otherwise.

Two ways of counting, by what is limited:
- an action (a sign-in attempt, a PIN, a media request, a download, the dashboard's
  Refresh) counts each hit exactly, in a moving window (one timestamp per hit): "once per
  10 s" means no two hits less than 10 s apart, at a window's edge too;
- a user's API requests (hit on every request, `leased=True`) count in a sliding window
  counter: two counters per key whatever the limit, no per-hit list to prune. It weighs
  the previous window by its overlap and floors the sum, so at a window's edge it may let
  one hit more than the limit through: nothing for 100 a minute, a doubling for 1.

When Redis is configured but unreachable, limits fall back to the in-process
store (logged) rather than refusing every request or letting everything through.

A busy key can be counted in leases (`hit(..., leased=True)`): the store counts several
hits at once, atomically, and this process hands them out over the next second. Every
hit handed out was counted before it was allowed, so a limit is never exceeded, across
any number of instances; a lease's unused hits stay counted (stricter, never looser).
What it saves: two store calls per request (two Redis round trips, or `limits`'
in-process bookkeeping) become two per lease.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import (
    MovingWindowRateLimiter,
    SlidingWindowCounterRateLimiter,
)
from limits.aio.strategies import RateLimiter as Strategy

from medianest.core.errors import RateLimitExceeded
from medianest.core.logging import get_logger
from medianest.core.redis_guard import SOCKET_TIMEOUT_SECONDS, RedisGuard, redis_failures

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger(__name__)


_HEADER_NAMES = {
    b"x-ratelimit-limit": "X-RateLimit-Limit",
    b"x-ratelimit-remaining": "X-RateLimit-Remaining",
    b"x-ratelimit-reset": "X-RateLimit-Reset",
    b"retry-after": "Retry-After",
}


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset_after_seconds: int
    window_seconds: int

    @property
    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The X-RateLimit-* headers, and Retry-After on a refusal, as ASGI header pairs
        (added to a response as they are: cheaper than setting them one by one)."""
        headers = [
            (b"x-ratelimit-limit", b"%d" % self.limit),
            (b"x-ratelimit-remaining", b"%d" % self.remaining),
            (b"x-ratelimit-reset", b"%d" % self.reset_after_seconds),
        ]
        if not self.allowed:
            headers.append((b"retry-after", b"%d" % max(1, self.reset_after_seconds)))
        return headers

    @property
    def headers(self) -> dict[str, str]:
        """`raw_headers` by their usual names, for Starlette responses and errors."""
        return {_HEADER_NAMES[name]: value.decode() for name, value in self.raw_headers}

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


# A lease's hits are handed out for this long after the store counted them.
LEASE_SECONDS = 1.0
# A lease never takes more than this share of a limit, nor more than MAX_LEASE hits:
# what one instance can hold unused, and so refuse too early elsewhere, stays small.
LEASE_SHARE_OF_LIMIT = 20
MAX_LEASE = 1000


@dataclass
class _Lease:
    """Hits the store has counted for one key that this process has not handed out yet."""

    limit: int
    window_seconds: int
    units: int = 0
    taken_at: float = 0.0
    size: int = 0  # of the last lease
    remaining_after: int = 0  # the store's remaining once the lease was counted
    reset_at: float = 0.0
    # The renewal in flight, if any; its result is the refusal when the store said no.
    renewal: asyncio.Future[RateLimitResult | None] | None = None

    def usable(self, now: float) -> bool:
        return self.units > 0 and now - self.taken_at < LEASE_SECONDS

    def take(self, now: float) -> RateLimitResult:
        self.units -= 1
        return RateLimitResult(
            allowed=True,
            limit=self.limit,
            remaining=self.remaining_after + self.units,
            reset_after_seconds=min(self.window_seconds, max(0, math.ceil(self.reset_at - now))),
            window_seconds=self.window_seconds,
        )

    def next_size(self, now: float) -> int:
        """Double while leases run out within their second; otherwise what was used."""
        cap = max(1, min(MAX_LEASE, self.limit // LEASE_SHARE_OF_LIMIT))
        if self.size == 0:
            return 1
        if self.units == 0 and now - self.taken_at < LEASE_SECONDS:
            return min(cap, self.size * 2)
        return min(cap, max(1, self.size - self.units))


@dataclass(frozen=True)
class _Strategies:
    """Both ways of counting on one store (see the module doc)."""

    counted: SlidingWindowCounterRateLimiter
    exact: MovingWindowRateLimiter

    def pick(self, exact: bool) -> Strategy:
        return self.exact if exact else self.counted


class RateLimiter:
    """Limits keyed by an arbitrary string (user id, username+ip, ...): exact for actions,
    counted in leases for a user's API requests (see the module doc)."""

    def __init__(
        self,
        redis_url: str | None = None,
        namespace: str = "medianest",
        guard: RedisGuard | None = None,
    ) -> None:
        # Two in-process stores: the moving window's store prunes its timestamps in a
        # thread on every hit it takes, a pass the API's counters must not pay for.
        self._exact_in_memory = MemoryStorage()
        self._memory = _Strategies(
            SlidingWindowCounterRateLimiter(MemoryStorage()),
            MovingWindowRateLimiter(self._exact_in_memory),
        )
        # While Redis fails (or hangs), count in-process instead of waiting on it.
        self._guard = guard or RedisGuard()
        self._redis: _Strategies | None = None
        self._redis_client: Redis | None = None
        self._namespace = namespace
        self._leases: dict[str, _Lease] = {}
        if redis_url:
            from redis.asyncio import BlockingConnectionPool, Redis  # loaded only with Redis

            # A blocking pool queues bursts instead of failing them (200 concurrent hits
            # must all be counted in Redis, not spill into the in-process fallback).
            pool = BlockingConnectionPool.from_url(
                redis_url,
                max_connections=32,
                timeout=5,
                socket_timeout=SOCKET_TIMEOUT_SECONDS,
                socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            )
            storage: Storage = RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix=namespace,
                connection_pool=pool,  # type: ignore[arg-type]  # forwarded to redis-py
            )
            self._redis = _Strategies(
                SlidingWindowCounterRateLimiter(storage), MovingWindowRateLimiter(storage)
            )
            self._redis_client = Redis(connection_pool=pool)

    def _store(self, exact: bool) -> Strategy:
        if self._redis is not None and self._guard.available():
            return self._redis.pick(exact)
        return self._memory.pick(exact)

    @property
    def backend(self) -> str:
        return "redis" if self._redis is not None else "memory"

    async def hit(
        self, key: str, *, limit: int, window_seconds: int, leased: bool = False
    ) -> RateLimitResult:
        """Count one hit: exactly, or `leased`, from a lease when one is open and in the
        sliding window counter (see the module doc), for a user's API requests."""
        if not leased:
            return await self._hit(key, limit=limit, window_seconds=window_seconds, exact=True)
        lease = self._leases.get(key)
        if lease is None or lease.limit != limit or lease.window_seconds != window_seconds:
            # A changed limit is its own count in the store: the old lease is not for it.
            lease = self._leases[key] = _Lease(limit, window_seconds)
        while True:
            now = time.time()
            if lease.usable(now):
                return lease.take(now)  # no await between the check and the take: exact
            if lease.renewal is None:
                return await self._renew(lease, key)
            # One renewal at a time. Its waiters all wake together and take from the new
            # lease (a lock would wake them one per loop turn: a queue behind each renewal).
            renewal = lease.renewal
            refused = await asyncio.shield(renewal)
            if refused is not None:
                return refused  # the store has just said no: no need to ask again

    async def _renew(self, lease: _Lease, key: str) -> RateLimitResult:
        limit, window_seconds = lease.limit, lease.window_seconds
        renewal = lease.renewal = asyncio.get_running_loop().create_future()
        refused: RateLimitResult | None = None
        try:
            size = lease.next_size(time.time())
            result = await self._hit(key, limit=limit, window_seconds=window_seconds, cost=size)
            if not result.allowed and size > 1 and result.remaining >= 1:
                size = min(size, result.remaining)  # less than asked is still free
                result = await self._hit(key, limit=limit, window_seconds=window_seconds, cost=size)
            if not result.allowed and size > 1:
                size = 1
                result = await self._hit(key, limit=limit, window_seconds=window_seconds)
            if not result.allowed:
                refused = result
                return result
            lease.units, lease.size, lease.taken_at = size, size, time.time()
            lease.remaining_after = result.remaining
            lease.reset_at = lease.taken_at + result.reset_after_seconds
            return lease.take(lease.taken_at)
        finally:
            lease.renewal = None
            renewal.set_result(refused)  # an error too wakes the waiters: they retry

    async def _hit(
        self, key: str, *, limit: int, window_seconds: int, cost: int = 1, exact: bool = False
    ) -> RateLimitResult:
        item = RateLimitItemPerSecond(limit, window_seconds, namespace=self._namespace)
        limiter = self._store(exact)
        try:
            allowed = await limiter.hit(item, key, cost=cost)
            stats = await limiter.get_window_stats(item, key)
        except redis_failures() as exc:
            self._guard.failed("ratelimit_hit", exc)
            limiter = self._memory.pick(exact)
            allowed = await limiter.hit(item, key, cost=cost)
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
        """The state of an action's limit without consuming it (allowed = one more hit
        would pass)."""
        item = RateLimitItemPerSecond(limit, window_seconds, namespace=self._namespace)
        limiter = self._store(exact=True)
        try:
            allowed = await limiter.test(item, key)
            stats = await limiter.get_window_stats(item, key)
        except redis_failures() as exc:
            self._guard.failed("ratelimit_peek", exc)
            limiter = self._memory.exact
            allowed = await limiter.test(item, key)
            stats = await limiter.get_window_stats(item, key)
        return RateLimitResult(
            allowed=allowed,
            limit=limit,
            remaining=max(0, stats.remaining),
            reset_after_seconds=max(0, math.ceil(stats.reset_time - time.time())),
            window_seconds=window_seconds,
        )

    async def refund(self, key: str, *, limit: int, window_seconds: int) -> None:
        """Give back one hit of an action's limit: an action that was counted did not happen
        after all (a download that failed). The newest hit in the window goes; nothing when
        the window holds none. Best effort: with Redis failing, nothing is given back."""
        item = RateLimitItemPerSecond(limit, window_seconds, namespace=self._namespace)
        limiter = self._store(exact=True)
        try:
            if (await limiter.get_window_stats(item, key)).remaining >= limit:
                return
            # `limits` has no way to take a hit back: the moving window is a list of
            # timestamps, newest first, in both stores (`events`, or a Redis list).
            storage_key = item.key_for(key)
            if limiter is self._memory.exact:
                events = self._exact_in_memory.events.get(storage_key)
                if events:
                    events.pop(0)
            elif self._redis_client is not None:
                await self._redis_client.lpop(f"{self._namespace}:{storage_key}")
        except redis_failures() as exc:
            self._guard.failed("ratelimit_refund", exc)

    async def clear(self, key: str, *, limit: int, window_seconds: int) -> None:
        self._leases.pop(key, None)
        item = RateLimitItemPerSecond(limit, window_seconds, namespace=self._namespace)
        for store in (self._memory, self._redis):
            if store is None:
                continue
            for limiter in (store.counted, store.exact):
                try:
                    await limiter.clear(item, key)
                except redis_failures():
                    log.warning("ratelimit_redis_unavailable", op="clear")
