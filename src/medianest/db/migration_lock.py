"""One migration at a time across processes, taken by migrations/env.py around every
Alembic command before Alembic reads the current revision.

On upgrade day several MediaNest processes start together on a database behind the head
(two `serve` replicas, `serve` + `worker`, a hand-run `medianest migrate`); each ran the
same migrations at once and all but one died at start ("relation already exists",
"table ... already exists", a duplicate `pg_type` row; tests/db/test_concurrent_migrations.py).
Alembic has no lock of its own: its maintainer leaves concurrency to env.py
(sqlalchemy/alembic#633). With this lock the first process migrates; the others wait,
then Alembic reads the head under the lock and runs nothing.

- PostgreSQL: a session-level advisory lock, key `MIGRATION_LOCK_KEY`, on the migration
  connection itself, and committed before Alembic starts: a transaction left open by
  the lock would make Alembic take it for the caller's and never commit
  (GeiserX/Telegram-Archive#71). Session-level, not `pg_advisory_xact_lock`, because
  Alembic commits once per command and the lock must outlive it; the server drops it
  when the session ends, so a holder that dies frees it.
- SQLite: `flock` on `<database>.migrate.lock` beside the database file. Not
  `BEGIN EXCLUSIVE`: Alembic runs its own transaction on the connection (pysqlite and
  aiosqlite begin it themselves), a waiting SQLite lock is bounded by the engine's busy
  timeout rather than ours and ends in "database is locked", and the file lock leaves the
  migration's transaction as it was. The kernel drops it when the holder dies. The file
  stays (removing it would let two processes lock two different files).

Waiting is bounded (`migration_lock_timeout_seconds`): then `MigrationLockTimeout`,
one line for `medianest` to print. Polled, so the wait ends on our clock on both.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

# "MNMIGR" + 1: fixed, so every MediaNest version takes the same lock; fits a signed bigint.
MIGRATION_LOCK_KEY = 0x4D4E_4D49_4752_0001
DEFAULT_LOCK_TIMEOUT_SECONDS = 300.0
POLL_SECONDS = 0.2
LOCK_FILE_MODE = 0o600

# structlog's own: the db layer sits below core (core/logging.py configures the output).
log: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(__name__)


def _waiting(wait_seconds: float) -> None:
    """Said once when the lock is taken: a start that waits minutes says why."""
    log.warning(
        "migration_waiting",
        reason="another MediaNest process is migrating the database",
        wait_at_most_seconds=wait_seconds,
    )


class MigrationLockTimeout(Exception):
    def __init__(self, timeout: float) -> None:
        super().__init__(
            f"another MediaNest process is migrating the database; gave up waiting for it"
            f" after {timeout:g} s (MEDIANEST_MIGRATION_LOCK_TIMEOUT_SECONDS)"
        )


def sqlite_lock_path(database_url: str) -> Path | None:
    """The lock file of a SQLite database file; None for PostgreSQL or in-memory SQLite."""
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    path = Path(url.database)
    return path.with_name(path.name + ".migrate.lock")


@asynccontextmanager
async def migration_lock(
    connection: AsyncConnection, database_url: str, wait_seconds: float
) -> AsyncIterator[None]:
    """Hold the migration lock of `database_url`, on `connection` for PostgreSQL."""
    if connection.dialect.name == "postgresql":
        async with _advisory_lock(connection, wait_seconds):
            yield
        return
    path = sqlite_lock_path(database_url)
    if path is None:  # in memory: no other process can see it
        yield
        return
    async with _file_lock(path, wait_seconds):
        yield


@asynccontextmanager
async def _advisory_lock(connection: AsyncConnection, wait_seconds: float) -> AsyncIterator[None]:
    key = {"key": MIGRATION_LOCK_KEY}
    deadline = time.monotonic() + wait_seconds
    waited = False
    while True:
        got = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), key)
        await connection.commit()  # Alembic must find no transaction (see above)
        if got:
            break
        if time.monotonic() >= deadline:
            raise MigrationLockTimeout(wait_seconds)
        if not waited:
            waited = True
            _waiting(wait_seconds)
        await asyncio.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        try:
            if connection.in_transaction():
                await connection.rollback()
            await connection.execute(text("SELECT pg_advisory_unlock(:key)"), key)
            await connection.commit()
        except DBAPIError:
            pass  # the connection is gone, and its session's locks with it


@asynccontextmanager
async def _file_lock(path: Path, wait_seconds: float) -> AsyncIterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, LOCK_FILE_MODE)
    try:
        deadline = time.monotonic() + wait_seconds
        waited = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise MigrationLockTimeout(wait_seconds) from None
                if not waited:
                    waited = True
                    _waiting(wait_seconds)
                await asyncio.sleep(POLL_SECONDS)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
