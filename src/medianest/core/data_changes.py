"""Which tables each commit changed, and which tables a piece of work read: what a cache
of answers built from the database (core/response_cache.py) needs to know when an
answer it keeps is out of date.

Every committed change is a step of one counter (`step()`);
each table remembers the step of its last change. Work that starts at step `s` and reads
tables `T` stays current while no table in `T` changed after `s`. Changes are counted
at commit, from SQLAlchemy session events on every session of the process (a request's,
a worker's, a scheduler's), and, with Redis, relayed to the other instances
(`start_change_relay`). A statement whose tables cannot be told (raw SQL) counts as a
change of everything when it writes and makes the work's reads unknown when it reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import math
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine, event, inspect, make_url
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.expression import TableClause, TextClause
from sqlalchemy.sql.visitors import iterate

from medianest.core.context import CoreContext
from medianest.core.logging import get_logger
from medianest.core.pubsub import channel

log = get_logger(__name__)

EVERYTHING = "*"  # a change whose tables are unknown
_PENDING_KEY = "medianest_changed_tables"
CHANNEL = "table-changes"
LISTEN_WAIT_SECONDS = 5.0


# One counter for the process: a step taken before some work is comparable with the
# changes of every database and with `MEMORY` (see `step`).
_steps = itertools.count(1)
_last_step = 0


def step() -> int:
    """The step of the latest change counted anywhere in this process."""
    return _last_step


class TableChanges:
    """The committed changes of one database (or, `MEMORY`, of what this process keeps
    in memory), as steps of the process's counter."""

    def __init__(self, files: tuple[str, ...] = ()) -> None:
        self._files = files
        self._own_state = self._file_state()
        self._changed_at: dict[str, int] = {}
        self._everything_at = 0
        self._publishers: list[Callable[[set[str]], None]] = []

    def changed(self, tables: Iterable[str], *, relay: bool = True) -> None:
        """Count a committed change of `tables` (`EVERYTHING`: of every table)."""
        global _last_step
        names = set(tables)
        if not names:
            return
        _last_step = at = next(_steps)
        if EVERYTHING in names:
            self._everything_at = at
        for name in names:
            self._changed_at[name] = at
        if relay and self._publishers:
            self._publishers[0](names)  # one relay per process says it

    def unchanged_since(self, sequence: int, tables: Iterable[str]) -> bool:
        """Whether none of `tables` changed after step `sequence`."""
        if self._everything_at > sequence:
            return False
        changed_at = self._changed_at
        return all(changed_at.get(name, 0) <= sequence for name in tables)

    def _file_state(self) -> tuple[int, ...]:
        state: list[int] = []
        for path in self._files:
            try:
                found = os.stat(path)
            except OSError:
                state += (-1, -1)
            else:
                state += (found.st_mtime_ns, found.st_size)
        return tuple(state)

    def committed_here(self) -> None:
        """After a commit of this process: the file as it left it (see `look_outside`)."""
        if self._files:
            self._own_state = self._file_state()

    def look_outside(self) -> None:
        """Count what another process committed where no event reaches this one: for a
        SQLite database (a worker or a command-line tool on the same file, no Redis),
        a file or write-ahead log changed since this process's last commit is a change
        of everything. (A commit of another process in the instant between the end of one
        of ours and the look at the file after it goes unseen: the age limit of what is
        kept bounds that.)"""
        if self._files:
            state = self._file_state()
            if state != self._own_state:
                self._own_state = state
                self.changed({EVERYTHING}, relay=False)

    def add_publisher(self, publish: Callable[[set[str]], None]) -> None:
        self._publishers.append(publish)

    def remove_publisher(self, publish: Callable[[set[str]], None]) -> None:
        with contextlib.suppress(ValueError):
            self._publishers.remove(publish)


# Memory a process keeps of its own (an upstream's cached answers, the status copy):
# its owner counts a replacement as a change of a name of its choosing.
MEMORY = TableChanges()

# One record per database URL: every app of this process on a database shares it, so a
# commit through one is seen by the caches of all.
_by_database: dict[str, TableChanges] = {}


def changes_of(database_url: str) -> TableChanges:
    changes = _by_database.get(database_url)
    if changes is None:
        changes = _by_database[database_url] = TableChanges(_sqlite_files(database_url))
    return changes


def _sqlite_files(database_url: str) -> tuple[str, ...]:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return ()
    return (url.database, url.database + "-wal")


class ReadSet:
    """The tables (and named sources, see `note_read`) a piece of work read; `known` is
    False once it ran SQL whose tables cannot be told; `until` is when something it
    read from memory goes out of date (`time.monotonic()`)."""

    __slots__ = ("known", "tables", "until", "wrote")

    def __init__(self) -> None:
        self.tables: set[str] = set()
        self.known = True
        self.wrote = False
        self.until = math.inf


_reading: contextvars.ContextVar[ReadSet | None] = contextvars.ContextVar(
    "medianest_read_set", default=None
)


@contextmanager
def recording_reads() -> Iterator[ReadSet]:
    """Record the tables read (and whether anything was written) in this context."""
    reads = ReadSet()
    token = _reading.set(reads)
    try:
        yield reads
    finally:
        _reading.reset(token)


def note_read(*sources: str) -> None:
    """Record that the work in this context depends on `sources` without having queried
    them: tables whose rows it took from a cache of its own, or a name for memory that
    its owner counts as changed (`TableChanges.changed`) whenever it replaces it."""
    reads = _reading.get()
    if reads is not None:
        reads.tables.update(sources)


def note_valid_until(deadline: float) -> None:
    """Record that something the work read from memory is out of date at `deadline`
    (`time.monotonic()`)."""
    reads = _reading.get()
    if reads is not None:
        reads.until = min(reads.until, deadline)


def _tables_of(statement: Any) -> set[str]:
    return {element.name for element in iterate(statement) if isinstance(element, TableClause)}


def _pending(session: Session) -> set[str]:
    pending: set[str] = session.info.setdefault(_PENDING_KEY, set())
    return pending


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    tables = {
        table.name
        for obj in (*session.new, *session.dirty, *session.deleted)
        for table in inspect(obj).mapper.tables
    }
    if not tables:
        return
    _pending(session).update(tables)
    # Written: on SQLite this transaction now holds the write lock, so no other process
    # can commit until ours has; what one committed before is counted now, before our
    # commit would hide it (`look_outside`).
    _changes_of_session(session).look_outside()
    reads = _reading.get()
    if reads is not None:
        reads.wrote = True


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    reads = _reading.get()
    statement = state.statement
    tables = _tables_of(statement)
    if state.is_select or (isinstance(statement, TextClause) and _reads_only(statement)):
        if reads is not None:
            if tables:
                reads.tables.update(tables)
            else:
                reads.known = False
        return
    _pending(state.session).update(tables or {EVERYTHING})
    if reads is not None:
        reads.wrote = True


def _reads_only(statement: TextClause) -> bool:
    return statement.text.lstrip().lower().startswith(("select", "with", "pragma"))


def _changes_of_session(session: Session) -> TableChanges:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    return changes_of(str(engine.url))


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    # The same for writes by statement (`_after_flush` covers flushed objects).
    if session.info.get(_PENDING_KEY):
        _changes_of_session(session).look_outside()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    tables: set[str] | None = session.info.pop(_PENDING_KEY, None)
    if not tables:
        return
    changes = _changes_of_session(session)
    changes.changed(tables)
    changes.committed_here()


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_PENDING_KEY, None)


# --- across instances -----------------------------------------------------------------


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
