"""Engine and session factory; SQLite gets WAL and foreign keys, PostgreSQL a sized pool.

Connections are scarce (a pool of 15 or 30): a request gives its connection back
before it waits on anything slow (`release_idle_connection`), and waiting for a free
connection is short (`pool_timeout`) and answered 503 SERVICE_BUSY (core/handlers.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, event, exc, inspect, literal, select, update
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.dml import Update
from sqlalchemy.util import await_only

from medianest.db.base import Base

T = TypeVar("T")

# How long a request waits for a pooled connection before it is answered 503.
DEFAULT_POOL_TIMEOUT_SECONDS = 3.0
# PostgreSQL: how long reaching the server may take (a new connection, the check of an
# idle pooled one), apart from the longer limit of a statement (COMMAND_TIMEOUT_SECONDS).
REACH_TIMEOUT_SECONDS = 3.0
COMMAND_TIMEOUT_SECONDS = 30.0
# Closing the pool at shutdown: a graceful close waits for the server's goodbye without a
# limit of its own, so a silent host (powered off) held the app's and the worker's stop.
CLOSE_TIMEOUT_SECONDS = 2.0
_FRESH = "medianest_fresh"


def create_engine(
    database_url: str, *, echo: bool = False, pool_timeout: float = DEFAULT_POOL_TIMEOUT_SECONDS
) -> AsyncEngine:
    if database_url.startswith("sqlite"):
        from medianest.db.sqlite_rows import PrefetchingConnection  # (not on PostgreSQL)

        engine = create_async_engine(
            database_url,
            echo=echo,
            # Rows read as the statement runs: a cancel between the two left the write
            # lock held until garbage collection (sqlite_rows.py).
            connect_args={"timeout": 30, "factory": PrefetchingConnection},
            pool_pre_ping=False,
            pool_timeout=pool_timeout,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    engine = create_async_engine(
        database_url,
        echo=echo,
        pool_size=10,
        max_overflow=20,
        # Checked by `_IdleConnectionCheck` instead: SQLAlchemy's pre-ping is bounded only
        # by command_timeout, so a silent host (powered off) held every request 30 s.
        pool_pre_ping=False,
        pool_timeout=pool_timeout,
        connect_args={"timeout": REACH_TIMEOUT_SECONDS, "command_timeout": COMMAND_TIMEOUT_SECONDS},
    )
    check = _IdleConnectionCheck()
    _CHECKS[engine.sync_engine] = check
    event.listen(engine.sync_engine, "connect", check.mark_fresh)
    event.listen(engine.sync_engine, "checkout", check.ping)
    event.listen(engine.sync_engine, "close", check.abort_if_suspect)
    return engine


class _IdleConnectionCheck:
    """`pool_pre_ping` with its own bound: an idle pooled connection (not a fresh one)
    answers an empty statement within REACH_TIMEOUT_SECONDS, or it is dropped with every
    other pooled one (they lead to the same server) and the pool connects anew."""

    def __init__(self) -> None:
        self.failed_at = 0.0  # time.time() of the last failed check, as pool records keep
        self._closing: weakref.ref[Any] | None = None  # the connection being closed last

    def mark_fresh(self, _dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[_FRESH] = True

    def ping(self, dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        if record.info.pop(_FRESH, False):
            return
        driver = dbapi_connection.driver_connection  # the asyncpg connection
        try:
            await_only(driver.execute(";", timeout=REACH_TIMEOUT_SECONDS))
        except Exception as failed:
            self.failed_at = time.time()
            driver.terminate()  # not a graceful close: a silent server holds it 2 s
            raise exc.InvalidatePoolError(f"pooled connection check failed: {failed!r}") from failed

    def abort_if_suspect(self, dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        """Pooled connections opened before a failed check are closed at once, not
        gracefully (each would wait 2 s on a silent server as the pool replaces it).
        The connection closing now is noted for `give_up_closing`."""
        driver = dbapi_connection.driver_connection
        opened = getattr(record, "starttime", None)
        if opened is not None and opened < self.failed_at:
            driver.terminate()
        self._closing = weakref.ref(driver)

    def give_up_closing(self) -> None:
        """No more graceful closes: the one under way ends now (its goodbye never came),
        every later one of a connection opened before is a terminate."""
        self.failed_at = time.time()
        closing = self._closing() if self._closing is not None else None
        if closing is not None:
            closing.terminate()


_CHECKS: weakref.WeakKeyDictionary[Engine, _IdleConnectionCheck] = weakref.WeakKeyDictionary()


async def dispose_engine(engine: AsyncEngine) -> None:
    """`engine.dispose()` within about CLOSE_TIMEOUT_SECONDS: pooled connections are
    closed gracefully, and once that takes longer (the server's host is silent) the rest
    are terminated, as after a failed check, instead of each waiting for its goodbye."""
    check = _CHECKS.get(engine.sync_engine)
    if check is None:  # SQLite: closing a file does not wait on anyone
        await engine.dispose()
        return
    disposing = asyncio.ensure_future(engine.dispose())
    done, _ = await asyncio.wait({disposing}, timeout=CLOSE_TIMEOUT_SECONDS)
    if not done:
        check.give_up_closing()
        # Not cancelled, which SQLAlchemy would log as a failed close with its traceback.
        await disposing


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def session_scope(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work outside a request (workers, monitors): commit or roll back once,
    as a request's session does (`after_commit` actions, an error that `keeps_writes`)."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException as exc:
            if getattr(exc, "keeps_writes", False):
                await session.commit()
                await run_after_commit(session)
            else:
                forget_after_commit(session)
                await session.rollback()
            raise
        await run_after_commit(session)


_AFTER_COMMIT = "medianest_after_commit"


def after_commit(session: AsyncSession, action: Callable[[], Awaitable[None]]) -> None:
    """Run `action` once this unit of work has committed: in a request, after the session
    dependency's commit and before the answer is sent (clients rebuilt from what was
    saved, limits published, other devices told); nothing when it rolls back. So that
    the request's one commit stays in the session dependency."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


async def run_after_commit(session: AsyncSession) -> None:
    """The actions `after_commit` registered, in order (called once committed)."""
    actions = session.info.pop(_AFTER_COMMIT, [])
    for action in actions:
        await action()


def forget_after_commit(session: AsyncSession) -> None:
    session.info.pop(_AFTER_COMMIT, None)


_WRITES_AT_COMMIT = "medianest_writes_at_commit"


def write_at_commit(session: AsyncSession, row: Base, **values: Any) -> None:
    """Set `values` on the loaded `row` and write them when `session` commits, as an
    UPDATE of that row by its key, for bookkeeping (a session's last-seen time, a token's
    last use) on rows another request may delete meanwhile (signed out, user deleted).

    The ORM's flush of a changed object insists that its row still exists (else
    StaleDataError, the request a 500); this UPDATE then matches no row and writes
    nothing: the request goes on, the deleted row is not put back. Written with the rest
    of the request's writes, as a changed object would be (its connection is not given
    back meanwhile). A table UPDATE, not an ORM one: the session cache's listener for
    bulk statements, which empties every entry, passes it by (the response cache still
    counts the table as changed)."""
    mapper = inspect(row).mapper
    key = mapper.primary_key_from_instance(row)
    statement = (
        update(mapper.local_table)  # type: ignore[arg-type]  # a Table for every model
        .where(*(column == value for column, value in zip(mapper.primary_key, key, strict=True)))
        .values({mapper.columns[name]: value for name, value in values.items()})
    )
    for name, value in values.items():
        set_committed_value(row, name, value)
    session.info.setdefault(_WRITES_AT_COMMIT, []).append(statement)


async def row_exists(session: AsyncSession, model: type[Base], key: tuple[Any, ...]) -> bool:
    """Whether `model`'s row of primary key `key` exists, read from the database (not
    from the session's objects)."""
    mapper = inspect(model)
    statement = (
        select(literal(1))
        .select_from(mapper.local_table)
        .where(*(column == value for column, value in zip(mapper.primary_key, key, strict=True)))
        .limit(1)
    )
    return await session.scalar(statement) is not None


@event.listens_for(Session, "before_commit")
def _write_at_commit(session: Session) -> None:
    writes: list[Update] = session.info.pop(_WRITES_AT_COMMIT, [])
    for statement in writes:
        session.execute(statement)


@event.listens_for(Session, "after_soft_rollback")
def _forget_writes_at_commit(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_WRITES_AT_COMMIT, None)


_CONNECTED = "medianest_used_connection"
_WROTE = "medianest_wrote_in_transaction"


@event.listens_for(Session, "after_begin")
def _mark_connected(session: Session, _transaction: Any, _connection: Any) -> None:
    session.info[_CONNECTED] = True


def used_connection(session: Session) -> bool:
    """Whether `session` has begun a transaction on a database connection."""
    return bool(session.info.get(_CONNECTED))


@event.listens_for(Session, "after_flush")
def _mark_flushed_write(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _mark_statement_write(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete or not state.is_select:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _transaction_ended(session: Session) -> None:
    session.info.pop(_WROTE, None)


def holds_idle_connection(session: Session) -> bool:
    """Whether `session` holds a connection in a transaction that has only read."""
    return (
        session.in_transaction()
        and not session.info.get(_WROTE)
        and not session.info.get(_WRITES_AT_COMMIT)
        and not (session.new or session.dirty or session.deleted)
    )


async def release_idle_connection(session: AsyncSession) -> bool:
    """Give the connection back to the pool if the transaction has only read.

    Called before waiting on something slow (a password hash, an outbound call), so a
    flood or a hung service cannot hold every pooled connection. Ending a read-only
    transaction loses nothing (loaded objects stay usable: no expiry on commit); the
    next query takes a connection again. A transaction that wrote keeps its connection:
    its writes must commit together with the rest of the request's.
    """
    if not holds_idle_connection(session.sync_session):
        return False
    await session.commit()
    return True


class LazySession:
    """A request's database session, made on first use: a request answered from memory
    (a cached session, a cached aggregate) never makes one, so it pays neither the
    session's set-up nor its close (docs/performance.md)."""

    __slots__ = ("_factory", "_on_open", "opened")

    def __init__(self, factory: async_sessionmaker[AsyncSession]) -> None:
        self._factory = factory
        self._on_open: list[Callable[[AsyncSession], None]] = []
        self.opened: AsyncSession | None = None

    def session(self) -> AsyncSession:
        if self.opened is None:
            self.opened = self._factory()
            for hook in self._on_open:
                hook(self.opened)
            self._on_open.clear()
        return self.opened

    def on_open(self, hook: Callable[[AsyncSession], None]) -> None:
        """Run `hook` with the session when it is made (now, if it already was)."""
        if self.opened is not None:
            hook(self.opened)
        else:
            self._on_open.append(hook)


# The session of the request (or unit of work) running in this context, if any.
_current_session: contextvars.ContextVar[LazySession | None] = contextvars.ContextVar(
    "medianest_current_session", default=None
)


@contextmanager
def bound_session(session: LazySession | None) -> Iterator[None]:
    """Make `session` the one `release_current_connection` releases, in this context
    (None: none, e.g. in a task shared by several requests)."""
    token = _current_session.set(session)
    try:
        yield
    finally:
        _current_session.reset(token)


async def run_unbound(work: Callable[[], Awaitable[T]]) -> T:
    """`work()` with no request's database session bound (e.g. a read several share)."""
    with bound_session(None):
        return await work()


async def release_current_connection() -> bool:
    """`release_idle_connection` for the session bound in this context (see
    `bound_session`), if it was made; the slow paths (outbound HTTP, Redis, password
    hashing) call it without having to be handed the session."""
    lazy = _current_session.get()
    if lazy is None or lazy.opened is None:
        return False
    return await release_idle_connection(lazy.opened)


def failure_line(error: BaseException) -> str:
    """A database failure in one line for an operator: the driver's own message (what
    SQLAlchemy wraps) when there is one, its first line, at most 300 characters."""
    text = str(getattr(error, "orig", None) or error)
    return (text.splitlines() or [""])[0][:300]
