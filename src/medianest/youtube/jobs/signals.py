"""Nudges between the API and the download workers: "a job was queued", "cancel job X".

In one process an `asyncio.Event` and direct callbacks are enough. With Redis, the
same nudges go over pub/sub, so a worker in another process (`medianest worker`)
reacts at once. Nudges are only a shortcut: workers also poll the table slowly and
read `cancel_requested`, so a lost message delays work, it never loses it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from medianest.core.context import CoreContext, PerContext
from medianest.core.logging import get_logger
from medianest.core.loops import stop_loop
from medianest.core.pubsub import Heartbeat
from medianest.core.pubsub import channel as channel_of
from medianest.core.redis_guard import redis_failures

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = get_logger(__name__)

WAKE = "youtube:wake"
CANCEL = "youtube:cancel"

CancelHandler = Callable[[str], None]


class QueueSignals:
    def __init__(self, redis: Redis | None) -> None:
        self.redis = redis
        # This deployment's channels (core/pubsub.py), named once.
        self._wake_channel = channel_of(redis, WAKE) if redis is not None else WAKE
        self._cancel_channel = channel_of(redis, CANCEL) if redis is not None else CANCEL
        self._wake: asyncio.Event | None = None
        self.cancel_handlers: list[CancelHandler] = []
        self._listener: asyncio.Task[None] | None = None

    @property
    def wake_event(self) -> asyncio.Event:
        if self._wake is None:  # created on first use, inside the running loop
            self._wake = asyncio.Event()
        return self._wake

    async def job_added(self) -> None:
        self.wake_event.set()
        await self._publish(self._wake_channel, "1")

    async def cancel(self, download_id: str) -> None:
        self._cancel_locally(download_id)
        await self._publish(self._cancel_channel, download_id)

    async def wait(self, seconds: float) -> None:
        """Until a nudge arrives or `seconds` pass; then re-arms."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake_event.wait(), seconds)
        self.wake_event.clear()

    def _cancel_locally(self, download_id: str) -> None:
        for handler in self.cancel_handlers:
            handler(download_id)

    async def _publish(self, channel: str, message: str) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.publish(channel, message)
        except redis_failures() as exc:
            log.warning("youtube_signal_unpublished", channel=channel, error=type(exc).__name__)

    def start_listening(self) -> None:
        """Receive nudges from other processes (only meaningful with Redis)."""
        if self.redis is not None and self._listener is None:
            self._listener = asyncio.create_task(self._listen(self.redis))

    async def stop_listening(self) -> None:
        """Cancelled until it has ended: a read can drop a cancel (redis-py's write under
        `asyncio.wait_for` on Python 3.11) or turn it into an error, and the listener then
        ran on while the workers' stop waited for it for ever."""
        if self._listener is not None:
            await stop_loop(self._listener)
            self._listener = None

    async def _listen(self, redis: Redis) -> None:
        while True:
            pubsub = redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._wake_channel, self._cancel_channel)
                # A silently dead connection is noticed; a wake nudge lost while redis-py
                # reconnected by itself: the workers look at the queue now.
                heartbeat = Heartbeat(pubsub, on_gap=self.wake_event.set)
                while True:
                    message = await heartbeat.get_message()
                    if message is not None:
                        self._dispatch(message)
            except redis_failures() as exc:
                log.warning("youtube_signal_listener_down", error=type(exc).__name__)
                await asyncio.sleep(2.0)  # the slow poll keeps work moving meanwhile
            finally:
                with contextlib.suppress(*redis_failures()):
                    await pubsub.aclose()

    def _dispatch(self, message: dict[str, Any]) -> None:
        channel = _text(message.get("channel"))
        data = _text(message.get("data"))
        if channel == self._wake_channel:
            self.wake_event.set()
        elif channel == self._cancel_channel and data:
            self._cancel_locally(data)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


# Each app context's signals, made on first use.
_signals: PerContext[QueueSignals] = PerContext(lambda ctx: QueueSignals(ctx.redis))


def queue_signals(ctx: CoreContext) -> QueueSignals:
    """The process's one `QueueSignals` for this app context."""
    signals = _signals.get(ctx)
    assert signals is not None  # made on first use
    return signals
