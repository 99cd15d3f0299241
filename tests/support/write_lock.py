"""How long an app under test holds the SQLite write lock, and what it awaited meanwhile.

SQLite has one writer at a time: a transaction holds the write lock from its first
INSERT/UPDATE/DELETE (Python's sqlite3 begins it there) to its COMMIT or ROLLBACK, and
every other writer of the app (sign-ins, session touches, leases, job heartbeats) waits
for it, up to the 30 s busy timeout. `WriteLockRecorder` listens to the engine's
statements and commits and keeps, for each such transaction, how long the lock was held,
where the first write came from, and, sampled every few milliseconds from the holding
task's await chain, what it was waiting on meanwhile (an outbound call, a sleep).
Used by tests/db/test_write_lock_holds.py and as a survey tool (docs/fault-tolerance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import greenlet
from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool

_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_OPEN = "write_lock_recorder_hold"


@dataclass
class Hold:
    """One write transaction: from its first write to its end."""

    statement: str
    origin: list[str]  # the app's frames at the first write, innermost last
    task: asyncio.Task[Any] | None
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    awaited: list[str] = field(default_factory=list)  # distinct, in the order seen

    @property
    def seconds(self) -> float:
        return (self.ended if self.ended is not None else time.monotonic()) - self.started

    def describe(self) -> str:
        where = " <- ".join(reversed(self.origin[-3:]))
        waits = "; ".join(self.awaited) or "-"
        return f"{self.seconds:.3f}s {self.statement[:60]!r} from {where} awaiting {waits}"


def _app_frames(frames: list[traceback.FrameSummary]) -> list[str]:
    return [
        f"{frame.filename.split('/src/')[-1]}:{frame.lineno} {frame.name}"
        for frame in frames
        if "/src/medianest/" in frame.filename
        and not frame.filename.endswith(("/db/engine.py", "/core/data_changes.py"))
    ]


def _caller_stack() -> list[traceback.FrameSummary]:
    """The stack of the code that ran the statement: SQLAlchemy's asyncio layer runs it in
    a greenlet whose own stack starts at the ORM; the caller's is its parent's."""
    here = greenlet.getcurrent()
    frames = traceback.extract_stack()
    if here.parent is not None and here.parent.gr_frame is not None:
        frames = traceback.extract_stack(here.parent.gr_frame) + frames
    return frames


def await_chain(task: asyncio.Task[Any]) -> list[FrameType]:
    """The frames of `task`'s suspended await chain, outermost first (`Task.get_stack`
    gives only the outermost frame of a suspended coroutine)."""
    frames: list[FrameType] = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is not None:
            frames.append(frame)
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return frames


def _awaiting(task: asyncio.Task[Any]) -> str | None:
    """The holding task's innermost app frame and what it awaits there (e.g. httpx)."""
    frames = await_chain(task)
    app = [f for f in frames if "/src/medianest/" in f.f_code.co_filename]
    if not app:
        return None
    inner, where = frames[-1].f_code, app[-1]
    place = f"{where.f_code.co_filename.split('/src/')[-1]}:{where.f_lineno} {where.f_code.co_name}"
    return f"{place} -> {inner.co_filename.rsplit('/', 2)[-2]}/{inner.co_name}"


class WriteLockRecorder:
    """Attach to an app's engine; `holds` lists every write transaction seen."""

    def __init__(self, engine: AsyncEngine | None, *, sample_seconds: float = 0.005) -> None:
        # None: every engine of the process (the survey plugin), SQLite ones only.
        self.engine: Any = engine.sync_engine if engine is not None else Engine
        self.pool: Any = engine.sync_engine.pool if engine is not None else Pool
        self.holds: list[Hold] = []
        self._sample_seconds = sample_seconds
        self._sampler: asyncio.Task[None] | None = None

    def _on_statement(self, conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if _OPEN in conn.info or not statement.lstrip().upper().startswith(_WRITES):
            return
        if conn.dialect.name != "sqlite":
            return
        try:
            task = asyncio.current_task()
        except RuntimeError:  # a synchronous caller (none in the app's serving path)
            task = None
        hold = Hold(" ".join(statement.split()), _app_frames(_caller_stack()), task)
        conn.info[_OPEN] = hold
        self.holds.append(hold)

    def open_holds(self) -> list[Hold]:
        """The write transactions open now (every other writer waits for them)."""
        return [hold for hold in self.holds[-50:] if hold.ended is None]

    def _on_end(self, conn: Any) -> None:
        hold = conn.info.pop(_OPEN, None)
        if hold is not None:
            hold.ended = time.monotonic()

    def _on_checkin(self, _dbapi_connection: Any, record: Any) -> None:
        """A connection given back without an ORM commit or rollback (closed, or reset by
        the pool): its transaction ended there."""
        if record is not None:
            self._on_end(record)

    async def _sample(self) -> None:
        while True:
            for hold in self.holds[-50:]:
                if hold.ended is None and hold.task is not None and not hold.task.done():
                    seen = _awaiting(hold.task)
                    if seen is not None and seen not in hold.awaited:
                        hold.awaited.append(seen)
            await asyncio.sleep(self._sample_seconds)

    def listen(self) -> None:
        event.listen(self.engine, "before_cursor_execute", self._on_statement)
        event.listen(self.engine, "commit", self._on_end)
        event.listen(self.engine, "rollback", self._on_end)
        event.listen(self.pool, "checkin", self._on_checkin)

    def stop_listening(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_statement)
        event.remove(self.engine, "commit", self._on_end)
        event.remove(self.engine, "rollback", self._on_end)
        event.remove(self.pool, "checkin", self._on_checkin)

    @contextlib.asynccontextmanager
    async def recording(self) -> AsyncIterator[WriteLockRecorder]:
        self.listen()
        self._sampler = asyncio.create_task(self._sample())
        try:
            yield self
        finally:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
            self.stop_listening()

    def longest(self, count: int = 5) -> list[Hold]:
        return sorted(self.holds, key=lambda hold: hold.seconds, reverse=True)[:count]

    def report(self, count: int = 8) -> str:
        return "\n".join(hold.describe() for hold in self.longest(count))
