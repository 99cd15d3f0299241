"""One call per key at a time: callers that ask for the same thing while it is being
fetched wait for that fetch instead of starting their own (a cache entry expiring
under load must not send every waiting request to the service at once)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[Hashable, tuple[float, asyncio.Task[T]]] = {}

    async def run(
        self,
        key: Hashable,
        fetch: Callable[[], Awaitable[T]],
        *,
        changed_at: float | None = None,
    ) -> T:
        """`fetch()`'s result, shared with every caller of the same key meanwhile.

        A fetch that began before `changed_at` (a wall-clock time) cannot answer for
        after it: a new one starts. The fetch runs as its own task, so a caller that is
        cancelled (a client gone) does not cancel it for the others.
        """
        began, task = self._flights.get(key, (0.0, None))
        if task is None or (changed_at is not None and began <= changed_at):
            task = asyncio.ensure_future(fetch())
            self._flights[key] = (time.time(), task)
            task.add_done_callback(functools.partial(self._done, key))
        return await asyncio.shield(task)

    def _done(self, key: Hashable, task: asyncio.Task[T]) -> None:
        if self._flights.get(key, (0.0, None))[1] is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved here: every caller may have gone


class Turns:
    """One caller per key at a time does a piece of work (makes an answer, reads a row);
    the others wait until it is done and then look again for themselves at what it left
    (a kept answer, a cache entry), where `SingleFlight` hands them its result."""

    def __init__(self) -> None:
        self._turns: dict[Hashable, asyncio.Event] = {}

    def current(self, key: Hashable) -> asyncio.Event | None:
        """The event of the caller whose turn it is (set when it is done), or None."""
        return self._turns.get(key)

    def take(self, key: Hashable) -> asyncio.Event | None:
        """None: the caller's turn (it calls `done` after); else `current(key)`."""
        event = self._turns.get(key)
        if event is None:
            self._turns[key] = asyncio.Event()
        return event

    def done(self, key: Hashable) -> None:
        event = self._turns.pop(key, None)
        if event is not None:
            event.set()


async def wait_for_turn(event: asyncio.Event, seconds: float) -> None:
    """Until the other caller is done, or `seconds` have passed (then the caller does the
    work itself)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)
