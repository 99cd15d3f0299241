"""Handing work to the event loop that owns it, from whatever thread or loop asks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVarTuple

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
