"""Which tables each commit changed, and which tables a piece of work read: what a cache
of answers built from the database (core/response_cache.py) needs to know when an
answer it keeps is out of date.

Every committed change is a step of one counter (`step()`); each table remembers the step
of its last change. Work that starts at step `s` and reads tables `T` stays current while
no table in `T` changed after `s`. Changes are counted at commit, from SQLAlchemy session
events on every session of the process (a request's, a worker's, a scheduler's), and,
with Redis, relayed to the other instances (core/change_relay.py). A statement whose tables cannot be told (raw SQL) counts as a
change of everything when it writes and makes the work's reads unknown when it reads.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine, event, inspect, make_url
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql.expression import TableClause, TextClause
from sqlalchemy.sql.visitors import iterate

EVERYTHING = "*"  # a change whose tables are unknown
_PENDING_KEY = "medianest_changed_tables"
_WRITING_KEY = "medianest_holds_write"  # the TableChanges it counts in, once it wrote


# One counter for the process: a step taken before some work is comparable with the
# changes of every database and with `MEMORY` (see `step`).
_steps = itertools.count(1)
_last_step = 0


def step() -> int:
    """The step of the latest change counted anywhere in this process."""
    return _last_step


# How long a request's look at a SQLite file serves the requests after it (`glance_outside`).
GLANCE_SECONDS = 0.001


class TableChanges:
    """The committed changes of one database (or, `MEMORY`, of what this process keeps
    in memory), as steps of the process's counter."""

    def __init__(self, files: tuple[str, ...] = ()) -> None:
        self._files = files
        self._own_state = self._file_state()
        self._writing = 0  # this process's transactions holding a write, not yet ended
        self._changed_at: dict[str, int] = {}
        self._everything_at = 0
        self._publishers: list[Callable[[set[str]], None]] = []
        self._glanced_at = -math.inf

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
        # A loop, not all() over a generator: run twice for every kept answer.
        for name in tables:  # noqa: SIM110
            if changed_at.get(name, 0) > sequence:
                return False
        return True

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

    def began_writing(self) -> None:
        """A transaction of this process holds a write (on SQLite: the write lock)."""
        if self._files:
            if not self._writing:
                # What another process committed before is counted now, before our
                # commit would hide it: from here until our last writer ends, no other
                # process can commit.
                self.look_outside()
            self._writing += 1

    def ended_writing(self) -> None:
        if self._files:
            self._writing -= 1

    def look_outside(self) -> None:
        """Count what another process committed where no event reaches this one: for a
        SQLite database (a worker or a command-line tool on the same file, no Redis),
        a file or write-ahead log changed since this process's last commit is a change
        of everything. Not while a transaction of this process holds a write: its
        commit changes the file before its session hears of it, and no other process
        can commit meanwhile. (A commit of another process in the instant between the
        end of one of ours and the look at the file after it goes unseen: the age limit
        of what is kept bounds that.)"""
        if self._files and not self._writing:
            state = self._file_state()
            if state != self._own_state:
                self._own_state = state
                self.changed({EVERYTHING}, relay=False)

    def glance_outside(self) -> None:
        """`look_outside`, for a request about to read: skipped within `GLANCE_SECONDS` of
        the last glance, so requests a moment apart share one look at the file (its two
        `stat` calls were ~3 % of a kept answer's CPU on SQLite). A commit of another
        process in that moment is counted by the next glance, as one in the instant
        between a look and the step after it already was; a write of this process
        always looks first (`began_writing`)."""
        if self._files:
            now = time.monotonic()
            if now - self._glanced_at >= GLANCE_SECONDS:
                self._glanced_at = now
                self.look_outside()

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


T = TypeVar("T")


class TableMemo(Generic[T]):
    """A value read from the database (a stored setting asked for on every request),
    kept per database while none of `tables` changed, for at most `max_age_seconds`
    (what no event reaches: another process's commit on PostgreSQL without Redis). A
    session with writes of its own pending reads through: it must see them."""

    def __init__(self, *tables: str, max_age_seconds: float = 5.0) -> None:
        self.tables = frozenset(tables)
        self.max_age_seconds = max_age_seconds
        self._kept: dict[str, tuple[int, float, T]] = {}

    async def get(self, session: AsyncSession, read: Callable[[], Awaitable[T]]) -> T:
        sync = session.sync_session
        if sync.new or sync.dirty or sync.deleted or sync.info.get(_PENDING_KEY):
            return await read()
        changes = _changes_of_session(sync)
        database_url = str(_engine_of(sync).url)
        changes.look_outside()
        kept = self._kept.get(database_url)
        if (
            kept is not None
            and kept[1] > time.monotonic()
            and changes.unchanged_since(kept[0], self.tables)
        ):
            note_read(*self.tables)
            return kept[2]
        began = step()
        value = await read()
        if changes.unchanged_since(began, self.tables):
            self._kept[database_url] = (began, time.monotonic() + self.max_age_seconds, value)
        return value


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
    _hold_write(session)
    reads = _reading.get()
    if reads is not None:
        reads.wrote = True


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> Result[Any] | None:
    reads = _reading.get()
    statement = state.statement
    if state.is_select or (isinstance(statement, TextClause) and _reads_only(statement)):
        if reads is not None:  # (a read nobody records needs no walk of its statement)
            tables = _tables_of(statement)
            if tables:
                reads.tables.update(tables)
            else:
                reads.known = False
        return None
    session = state.session
    _pending(session).update(_tables_of(statement) or {EVERYTHING})
    if reads is not None:
        reads.wrote = True
    if _WRITING_KEY in session.info:
        return None
    # Held once executed: a write waiting for another process's write lock must not
    # count as ours while it waits (that process's commit is counted by the look).
    result = state.invoke_statement()
    _hold_write(session)
    return result


def _hold_write(session: Session) -> None:
    if _WRITING_KEY not in session.info:
        changes = session.info[_WRITING_KEY] = _changes_of_session(session)
        changes.began_writing()


def _reads_only(statement: TextClause) -> bool:
    return statement.text.lstrip().lower().startswith(("select", "with", "pragma"))


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def _changes_of_session(session: Session) -> TableChanges:
    return changes_of(str(_engine_of(session).url))


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


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost: committed, rolled back or closed
        changes: TableChanges | None = session.info.pop(_WRITING_KEY, None)
        if changes is not None:
            changes.ended_writing()
