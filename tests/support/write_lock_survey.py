"""A pytest plugin that surveys every SQLite write transaction of a test run.

`-p tests.support.write_lock_survey` with `WRITE_LOCK_SURVEY=<file>`: each outbound HTTP
call (httpx), `asyncio.sleep` or `asyncio.to_thread` (file work, hashing) made by a task
while it holds the write lock, or by a shared call such a task waits on, is noted,
and at the end the file lists, per place, how often and how long the lock was held.
Not used by the suite itself: a tool to find the places (docs/fault-tolerance.md).
"""

from __future__ import annotations

import asyncio
import collections
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.write_lock import WriteLockRecorder, await_chain

_RECORDER = WriteLockRecorder(None)
_real_send = httpx.AsyncClient.send
_real_sleep = asyncio.sleep
_real_to_thread = asyncio.to_thread


def _note(what: str) -> None:
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return
    for hold in _RECORDER.open_holds():
        if hold.task is task:
            seen = what
        elif hold.task is not None and _waits_on_shared_call(hold.task):
            seen = f"{what} (a shared call another task makes)"
        else:
            continue  # another task's write, not waiting on this call
        if seen not in hold.awaited:
            hold.awaited.append(seen)


def _waits_on_shared_call(task: asyncio.Task[Any]) -> bool:
    """Whether `task` awaits a call run in a task of its own (integrations/http.py's
    shared reads run through core/single_flight.py)."""
    return any(
        frame.f_code.co_filename.endswith("/core/single_flight.py") for frame in await_chain(task)
    )


async def _send(self: httpx.AsyncClient, request: httpx.Request, **kwargs: Any) -> httpx.Response:
    _note(f"http {request.method} {request.url.path}")
    return await _real_send(self, request, **kwargs)


async def _to_thread(func: Any, /, *args: Any, **kwargs: Any) -> Any:
    _note(f"thread {getattr(func, '__qualname__', func)!s}")
    return await _real_to_thread(func, *args, **kwargs)


async def _sleep(delay: float, result: Any = None) -> Any:
    if delay > 0:
        _note(f"sleep {delay}")
    return await _real_sleep(delay, result)


@pytest.fixture(autouse=True, scope="session")
def _survey_write_locks() -> Iterator[None]:
    _RECORDER.listen()
    httpx.AsyncClient.send = _send  # type: ignore[method-assign]
    asyncio.sleep = _sleep
    asyncio.to_thread = _to_thread
    try:
        yield
    finally:
        httpx.AsyncClient.send = _real_send  # type: ignore[method-assign]
        asyncio.sleep = _real_sleep
        asyncio.to_thread = _real_to_thread
        _RECORDER.stop_listening()
        _write_report()


def _write_report() -> None:
    places: dict[str, list[float]] = collections.defaultdict(list)
    waits: dict[str, set[str]] = collections.defaultdict(set)
    for hold in _RECORDER.holds:
        place = " <- ".join(reversed(hold.origin[-3:]))
        if hold.awaited:
            places[place].append(hold.seconds)
            waits[place].update(hold.awaited)
    lines = []
    for place, seconds in sorted(places.items(), key=lambda item: -max(item[1])):
        lines.append(
            f"{len(seconds)}x max {max(seconds):.3f}s {place}\n    awaited: "
            + "; ".join(sorted(waits[place]))
        )
    lines.append("longest holds: " + " | ".join(h.describe() for h in _RECORDER.longest(3)))
    path = os.environ.get("WRITE_LOCK_SURVEY", "write-lock-survey.txt")
    with open(path, "a") as out:
        out.write("\n".join(lines) + "\n")
