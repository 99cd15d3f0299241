"""A unit of work cancelled while its write waits for SQLite's lock must not keep the lock
once it gets it: the next writer (here another process's connection) goes on at once.

The shape CI met: a download's progress heartbeat (`UPDATE ... RETURNING`) waited for
the lock behind another write, the job paused and stopped the heartbeat, and the pause's
own write then waited 30 s and failed with "database is locked".
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from medianest.db.engine import create_engine, create_session_factory, session_scope
from medianest.db.sqlite_rows import PrefetchingConnection

STATEMENTS = {
    "update returning": "UPDATE beats SET n = n + 1 WHERE id = 1 RETURNING n",
    "plain update": "UPDATE beats SET n = n + 1 WHERE id = 1",
}


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[tuple[Path, AsyncEngine]]:
    path = tmp_path / "cancel.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE beats (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        setup.execute("INSERT INTO beats VALUES (1, 0)")
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    yield path, engine
    await engine.dispose()


def write_lock_free(path: Path) -> bool:
    """Whether another connection can take the write lock within 2 s."""
    other = sqlite3.connect(path, timeout=2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


async def beat(factory: async_sessionmaker[AsyncSession], statement: str) -> None:
    async with session_scope(factory) as session:
        await session.execute(text(statement))


@pytest.mark.parametrize("statement", STATEMENTS.values(), ids=STATEMENTS.keys())
async def test_a_write_cancelled_while_waiting_for_the_lock_does_not_keep_it(
    database: tuple[Path, AsyncEngine], statement: str
) -> None:
    path, engine = database
    factory = create_session_factory(engine)
    holder = sqlite3.connect(path, timeout=30, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer: ours waits in aiosqlite's thread
    waiting = asyncio.create_task(beat(factory, statement))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    waiting.cancel()
    await asyncio.sleep(0.1)
    holder.execute("ROLLBACK")  # ours now runs (its caller gone) and takes the lock
    holder.close()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.sleep(0.2)  # its rollback or close runs on aiosqlite's thread
    assert write_lock_free(path)
    async with session_scope(factory) as session:  # the app's own next write, too
        assert (await session.execute(text("SELECT n FROM beats"))).scalar_one() == 0


async def test_rows_read_as_the_statement_runs_come_back_in_order_by_every_fetch(
    database: tuple[Path, AsyncEngine],
) -> None:
    _path, engine = database
    async with engine.begin() as connection:
        await connection.execute(text("INSERT INTO beats VALUES (2, 20), (3, 30), (4, 40)"))
        rows = await connection.execute(
            text("UPDATE beats SET n = n + 1 WHERE id > 1 RETURNING id, n")
        )
        assert sorted(rows.all()) == [(2, 21), (3, 31), (4, 41)]
        streamed = await connection.stream(text("SELECT id FROM beats ORDER BY id"))
        assert [row.id async for row in streamed] == [1, 2, 3, 4]
    raw = sqlite3.connect(":memory:", factory=PrefetchingConnection)
    cursor = raw.execute("SELECT value FROM json_each('[1,2,3,4,5]')")
    assert cursor.fetchone() == (1,)
    assert cursor.fetchmany(2) == [(2,), (3,)]
    assert list(cursor) == [(4,), (5,)]
    assert cursor.fetchall() == [] and cursor.fetchone() is None
    raw.execute("CREATE TABLE t (v)")
    cursor.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    assert cursor.fetchall() == [] and cursor.rowcount == 2
    raw.close()
