"""Shared health of the process's Redis: a hung Redis is waited for once, not per call.

A Redis that stops answering (SIGSTOP, a full network buffer) keeps its connections
open, so every call waits for its socket timeout. Callers on a request path ask
`available()` first and report failures: after one, Redis is skipped (the cache
misses, limits count in-process) until a background ping gets an answer again, so no
request waits on a Redis already known to be away.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from medianest.core.logging import get_logger
from medianest.core.loops import stop_loop

log = get_logger(__name__)

# Redis answers in a millisecond on a healthy host: a call waiting this long means it
# is hung or gone (redis-py's socket timeouts on request paths). Not shorter: the
# timeout counts event-loop delays too, and a busy host must not trip it (the limits
# would then count per process).
SOCKET_TIMEOUT_SECONDS = 2.0
# How often the background ping asks whether Redis is back.
RETRY_SECONDS = 2.0


def redis_failures(*others: type[BaseException]) -> tuple[type[BaseException], ...]:
    """What a failed Redis call raises: redis-py's errors and the socket's (and `others`).
    Imported when first asked (an `except` clause asks when something is raised), not at
    the top: a process without Redis configured never loads redis (docs/performance.md)."""
    from redis.exceptions import RedisError

    return (RedisError, OSError, *others)


class RedisGuard:
    def __init__(
        self,
        ping: Callable[[], Awaitable[Any]] | None = None,
        *,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        self._ping = ping
        self.retry_seconds = retry_seconds
        self._skip_until = 0.0
        self._prober: asyncio.Task[None] | None = None

    def available(self) -> bool:
        """Whether to call Redis now (False from a failure until Redis answers again)."""
        return time.monotonic() >= self._skip_until

    def failed(self, op: str, exc: BaseException) -> None:
        """Report a failed or timed-out call: Redis is skipped until it answers again."""
        if self.available():
            log.warning("redis_skipped", op=op, error=type(exc).__name__)
        if self._ping is None:  # nothing to probe with: try again after a while
            self._skip_until = time.monotonic() + self.retry_seconds
            return
        self._skip_until = float("inf")
        if self._prober is None or self._prober.done():
            self._prober = asyncio.get_running_loop().create_task(self._probe())

    async def _probe(self) -> None:
        assert self._ping is not None
        while True:
            await asyncio.sleep(self.retry_seconds)
            with contextlib.suppress(Exception):  # any failure: still away
                await asyncio.wait_for(self._ping(), SOCKET_TIMEOUT_SECONDS)
                self._skip_until = 0.0
                log.info("redis_back")
                return

    async def aclose(self) -> None:
        """Cancelled until it has ended: a cancel that comes as a ping to an away Redis
        fails can be dropped (`asyncio.wait_for` on Python 3.11 returns the finished ping's
        outcome, CPython gh-86296), the failure counts as "still away", and the prober ran
        on while the app's stop waited for it for ever."""
        if self._prober is not None:
            await stop_loop(self._prober)
