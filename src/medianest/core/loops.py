"""Handing work to the event loop that owns it, from whatever thread or loop asks, and
ending a task that may not take its first cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVarTuple

Args = TypeVarTuple("Args")


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
