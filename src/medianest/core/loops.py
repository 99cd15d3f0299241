"""Handing work to the event loop that owns it, from whatever thread or loop asks, and
ending a task that may not take its first cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVarTuple

from medianest.core.logging import get_logger

log = get_logger(__name__)

Args = TypeVarTuple("Args")
# How long a stop waits for a background loop to end.
STOP_LOOP_SECONDS = 5.0


def call_on(
    loop: asyncio.AbstractEventLoop, callback: Callable[[*Args], object], *args: *Args
) -> None:
    """Run `callback(*args)` on `loop`: at once when called from it, else soon, handed over
    thread-safely (a commit on another app's loop or thread in this process)."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        callback(*args)
    else:
        loop.call_soon_threadsafe(callback, *args)


async def cancel_until_done(task: asyncio.Task[Any], *, within: float) -> bool:
    """Cancel `task` until it ends, waiting at most `within` seconds; True if it ended.
    redis-py can turn a cancellation that arrives in the middle of a read into an error,
    and a listener that retries on errors then runs on: a single cancel, or the event
    loop's own at its close, would wait on it for ever."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not task.done() and loop.time() < deadline:
        task.cancel()
        await asyncio.wait({task}, timeout=0.2)
    if task.done() and not task.cancelled():
        task.exception()  # (retrieved: a failure was logged where it happened)
    return task.done()


async def stop_loop(task: asyncio.Task[Any]) -> None:
    """Stop a background loop whose rounds catch `Exception` to keep going. A cancellation
    that a library turned into an error mid-call (redis-py, above) is caught by the round,
    the loop runs on, and a single cancel then waits for it for ever (a test's app stop
    hung for 120 s while the Plex audience sweep kept asking plex.tv)."""
    if not await cancel_until_done(task, within=STOP_LOOP_SECONDS):
        log.warning("background_loop_did_not_stop", task=task.get_name())
