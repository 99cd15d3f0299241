"""Test databases: a migrated SQLite template copied per test, or one migrated
PostgreSQL database per run truncated between tests."""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO

import asyncpg
from sqlalchemy import make_url

from medianest.core.data_changes import EVERYTHING, changes_of
from medianest.db import migrate
from medianest.models import Base

PG_ADMIN_DSN = os.environ.get("MEDIANEST_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MEDIANEST_TEST_REDIS_URL", "redis://127.0.0.1:6379")
# Redis databases 4-15 belong to test processes (one each: redis_process_url); 3 is
# the benchmarks' (bench/backends.py); 2 is used by nothing, so a test may listen there
# as "another deployment" and hear nothing but what it sends itself.
REDIS_PROCESS_DBS = range(4, 16)
REDIS_QUIET_DB = 2


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def make_sqlite_template(directory: Path) -> Path:
    template = directory / "template.db"
    migrate.upgrade(sqlite_url(template))
    return template


def refill_sqlite_database(template: Path, target: Path) -> str:
    """`target` becomes a fresh copy of the template: written beside it, then renamed over
    it, its old WAL and shared-memory files removed first (a WAL left behind would be read
    into the new copy). A connection still open on the old file keeps that file, not the
    new one. What this process kept from the database (core/data_changes.py) is out of
    date, as after `truncate_pg`."""
    for suffix in ("-wal", "-shm", "-journal"):
        target.with_name(target.name + suffix).unlink(missing_ok=True)
    fresh = target.with_name(target.name + ".new")
    shutil.copyfile(template, fresh)
    os.replace(fresh, target)
    url = sqlite_url(target)
    forget_what_was_kept(url)
    return url


def copy_sqlite_template(template: Path, target_dir: Path) -> str:
    target = target_dir / "medianest.db"
    shutil.copyfile(template, target)
    return sqlite_url(target)


def redis_process_url() -> str:
    """This test process's own Redis database, so no other process flushes its keys: the
    xdist workers of a run, and the runs of other checkouts on this machine. A database
    is taken with an exclusive lock on a file named after it, held until the process
    ends; with every one taken, the process waits for the first it tried."""
    global _redis_db_lock
    if _redis_db_lock is None:
        count = len(REDIS_PROCESS_DBS)
        first = os.getpid() % count
        order = [REDIS_PROCESS_DBS[(first + n) % count] for n in range(count)]
        for db in order:
            lock = _db_lock_file(db)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.close()
                continue
            _redis_db_lock = (lock, db)
            break
        else:
            lock = _db_lock_file(order[0])
            fcntl.flock(lock, fcntl.LOCK_EX)
            _redis_db_lock = (lock, order[0])
    return f"{REDIS_URL}/{_redis_db_lock[1]}"


_redis_db_lock: tuple[IO[str], int] | None = None


def _db_lock_file(db: int) -> IO[str]:
    return (Path(tempfile.gettempdir()) / f"medianest-test-redis-db-{db}.lock").open("w")


async def pg_reachable() -> bool:
    try:
        conn = await asyncio.wait_for(asyncpg.connect(PG_ADMIN_DSN), 3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


async def create_pg_database() -> tuple[str, str]:
    """A fresh database for this run; returns (name, sqlalchemy url)."""
    name = f"medianest_test_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return name, f"{base}/{name}"


async def drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


async def truncate_pg(url: str) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        # DELETE, children first, in one transaction: ~5x cheaper than TRUNCATE for tables of
        # a few rows (TRUNCATE makes new files for every table); no table has a sequence.
        deletes = "".join(f'DELETE FROM "{t.name}";' for t in reversed(Base.metadata.sorted_tables))
        await conn.execute(f"BEGIN;{deletes}COMMIT;")
    finally:
        await conn.close()
    forget_what_was_kept(url)


def forget_what_was_kept(url: str) -> None:
    """The database at `url` was emptied behind SQLAlchemy's back, as another process
    would: what this process kept from it (core/data_changes.py) is out of date."""
    changes_of(str(make_url(url))).changed({EVERYTHING}, relay=False)
