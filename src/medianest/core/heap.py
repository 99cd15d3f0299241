"""Handing freed memory back to the system.

The C allocator keeps the pages a process frees for its own reuse: they stay in its
resident memory until it trims them. A server frees a good deal just after it starts (its
background parts' first rounds) and after every burst of requests, so `serve` trims a
second after it starts and every ten minutes after that (~2.9 MB of an idle server on
PostgreSQL + Redis; docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable

# Long enough for the background parts' first rounds (~0.5 s measured), short enough
# that what they freed is back before anyone looks at an idle server.
FIRST_TRIM_AFTER_SECONDS = 1.0
TRIM_EVERY_SECONDS = 600.0


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    # Imported here, at the first trim (after `serve` answers): not part of a restart.
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl): no such call
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def trim_free_memory() -> bool:
    """Give the allocator's free pages back to the system (glibc's `malloc_trim`); False
    where there was nothing to give back or the C library has no such call."""
    trim = _malloc_trim()
    return trim is not None and bool(trim(0))


async def start_trimming() -> Callable[[], Awaitable[None]]:
    """Trim a second after the start, then every ten minutes; returns the stop."""

    async def trim_now_and_then() -> None:
        await asyncio.sleep(FIRST_TRIM_AFTER_SECONDS)
        while True:
            trim_free_memory()
            await asyncio.sleep(TRIM_EVERY_SECONDS)

    task = asyncio.create_task(trim_now_and_then(), name="heap-trim")

    async def stop() -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return stop
