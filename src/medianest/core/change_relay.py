"""Table changes between instances through Redis pub/sub: each instance publishes what
its commits changed and counts everyone else's (see `core.data_changes`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from medianest.core.context import CoreContext
from medianest.core.data_changes import EVERYTHING, TableChanges, changes_of
from medianest.core.logging import get_logger
from medianest.core.pubsub import channel

log = get_logger(__name__)

CHANNEL = "table-changes"
LISTEN_WAIT_SECONDS = 5.0


class _RedisChangeRelay:
    """Publishes this instance's committed changes and counts everyone else's."""

    def __init__(self, changes: TableChanges, redis: Redis, instance_id: str) -> None:
        self._changes = changes
        self._redis = redis
        self._instance_id = instance_id
        self._channel = channel(redis, CHANNEL)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    def publish(self, tables: set[str]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        message = json.dumps({"from": self._instance_id, "tables": sorted(tables)})
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._spawn(message)
        else:  # a commit on another loop of this process, on the same database
            loop.call_soon_threadsafe(self._spawn, message)

    def _spawn(self, message: str) -> None:
        task = asyncio.get_running_loop().create_task(self._send(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, message: str) -> None:
        try:
            await self._redis.publish(self._channel, message)
        except (RedisError, OSError) as exc:
            log.warning("table_changes_not_published", error=type(exc).__name__)

    async def _listen(self) -> None:
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                # What changed while unsubscribed is unknown.
                self._changes.changed({EVERYTHING}, relay=False)
                self._listening.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._apply(message.get("data"))
            except (RedisError, OSError) as exc:
                self._listening.clear()
                log.warning("table_changes_listener_lost", error=type(exc).__name__)
                self._changes.changed({EVERYTHING}, relay=False)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()

    def _apply(self, data: Any) -> None:
        try:
            payload = json.loads(data)
            if payload.get("from") == self._instance_id:
                return
            tables = {str(name) for name in payload["tables"]}
        except (ValueError, TypeError, KeyError, AttributeError):
            return
        self._changes.changed(tables, relay=False)

    async def start(self) -> Callable[[], Awaitable[None]]:
        self._loop = asyncio.get_running_loop()
        self._changes.add_publisher(self.publish)
        self._listener = asyncio.create_task(self._listen(), name="table-changes")
        try:
            await asyncio.wait_for(self._listening.wait(), LISTEN_WAIT_SECONDS)
        except TimeoutError:
            log.warning("table_changes_not_listening", waited_seconds=LISTEN_WAIT_SECONDS)

        async def stop() -> None:
            self._changes.remove_publisher(self.publish)
            if self._listener is not None:
                self._listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._listener
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError, RedisError, OSError):
                    await task

        return stop


async def start_change_relay(ctx: CoreContext) -> Callable[[], Awaitable[None]]:
    """With Redis, tell the other instances what this one's commits changed and count
    theirs; without, nothing to start (one process: its own events are all there are)."""
    if ctx.redis is None:

        async def nothing() -> None:
            return None

        return nothing
    changes = changes_of(str(ctx.engine.url))
    return await _RedisChangeRelay(changes, ctx.redis, ctx.instance_id).start()
