"""Session-cache invalidations between instances through Redis pub/sub: each instance
publishes what its commits invalidated and applies everyone else's (see `sessions.cache`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from medianest.auth.sessions.cache import ALL, SessionCache, session_cache_of
from medianest.core.context import CoreContext
from medianest.core.logging import get_logger
from medianest.core.pubsub import channel

log = get_logger(__name__)

CHANNEL = "session-invalidate"
LISTEN_WAIT_SECONDS = 5.0


class RedisInvalidationRelay:
    """Publishes this instance's invalidations and applies everyone else's."""

    def __init__(self, cache: SessionCache, redis: Redis, instance_id: str) -> None:
        self._cache = cache
        self._redis = redis
        self._instance_id = instance_id
        self._channel = channel(redis, CHANNEL)  # this deployment's (core/pubsub.py)
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._listening = asyncio.Event()
        cache.publish_with(self._publish)

    def _publish(self, targets_json: str) -> None:
        message = json.dumps({"from": self._instance_id, "targets": json.loads(targets_json)})
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # not started, or stopped: the TTL bounds staleness
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        # A commit on another loop of this process (another app on the same database)
        # hands the publish to the loop this relay's Redis client belongs to.
        if running is loop:
            self._spawn(message)
        else:
            loop.call_soon_threadsafe(self._spawn, message)

    def _spawn(self, message: str) -> None:
        task = asyncio.get_running_loop().create_task(self._send(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, message: str) -> None:
        try:
            await self._redis.publish(self._channel, message)
        except (RedisError, OSError) as exc:
            log.warning("session_invalidation_not_published", error=type(exc).__name__)

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                # Anything missed while unsubscribed is unknown: start clean.
                self._cache.invalidate({ALL}, broadcast=False)
                self._listening.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._apply(message.get("data"))
            except (RedisError, OSError) as exc:
                self._listening.clear()
                log.warning("session_invalidation_listener_lost", error=type(exc).__name__)
                self._cache.invalidate({ALL}, broadcast=False)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    def _apply(self, data: Any) -> None:
        try:
            payload = json.loads(data)
            if payload.get("from") == self._instance_id:
                return
            targets = {str(target) for target in payload["targets"]}
        except (ValueError, TypeError, KeyError, AttributeError):
            return
        self._cache.invalidate(targets, broadcast=False)

    async def start(self) -> Callable[[], Awaitable[None]]:
        self._loop = asyncio.get_running_loop()
        self._listener = asyncio.create_task(self._listen(), name="session-invalidation")
        # Serve once subscribed: the first subscription empties the cache (what it missed
        # is unknown), so sessions cached before it would be dropped again at random.
        # A Redis that does not answer delays start by a bounded wait, not forever.
        try:
            await asyncio.wait_for(self._listening.wait(), LISTEN_WAIT_SECONDS)
        except TimeoutError:
            log.warning("session_invalidation_not_listening", waited_seconds=LISTEN_WAIT_SECONDS)

        async def stop() -> None:
            self._cache.publish_with(None)
            if self._listener is not None:
                self._listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._listener
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                    await task

        return stop


async def start_session_invalidation(ctx: CoreContext) -> Callable[[], Awaitable[None]]:
    """With Redis, relay invalidations between instances; without, nothing to start."""
    cache = session_cache_of(ctx)
    if cache is None or ctx.redis is None:

        async def nothing() -> None:
            return None

        return nothing
    return await RedisInvalidationRelay(cache, ctx.redis, ctx.instance_id).start()
