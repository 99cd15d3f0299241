"""Upgrade day: several MediaNest processes start at once on a database behind the head
(two `serve` replicas, `serve` + `worker`, a hand-run `medianest migrate` during a
restart). Each is a real `python -m medianest migrate` process here, started together:
every one exits 0, and the schema is at the head once (db/migration_lock.py)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest
import sqlalchemy as sa

from medianest.db import migrate
from medianest.models import Base
from tests.db.conftest import connected
from tests.db.test_migrations import tables_of

PROCESSES = 3
# The revision before the head: a database the previous MediaNest left.
PREVIOUS_REVISION = "rd_1"
# Several releases behind: more steps, a wider window for the processes to collide.
OLDER_REVISION = "nt_1"


def _start_migrate(
    url: str, data_dir: Path, arguments: tuple[str, ...] = (), **env: str
) -> subprocess.Popen[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.upper().startswith("MEDIANEST_")}
    variables = {"MEDIANEST_DATA_DIR": str(data_dir), "MEDIANEST_DATABASE_URL": url, **env}
    return subprocess.Popen(
        [sys.executable, "-m", "medianest", "migrate", *arguments],
        env={**inherited, **variables},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _migrate_together(url: str, data_dir: Path) -> list[tuple[int, str, str]]:
    processes = [_start_migrate(url, data_dir) for _ in range(PROCESSES)]
    outputs = [p.communicate(timeout=180) for p in processes]
    return [(p.returncode, *output) for p, output in zip(processes, outputs, strict=True)]


def _versions(url: str) -> list[str]:
    async def read(conn: sa.ext.asyncio.AsyncConnection) -> list[str]:
        rows = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        return [row[0] for row in rows]

    return connected(url, read)


def _assert_all_at_head(results: list[tuple[int, str, str]], url: str, sync: str | None) -> None:
    for code, out, err in results:
        assert code == 0, (code, out, err)
        assert out.strip() == "database at head", (out, err)
        assert "error" not in err.lower() and "cannot use" not in err, err
    assert _versions(url) == [migrate.HEAD_REVISION]
    assert tables_of(url, sync) == set(Base.metadata.tables)


def test_three_processes_migrating_an_empty_database_together_all_succeed(empty_database, tmp_path):
    url, sync = empty_database
    _assert_all_at_head(_migrate_together(url, tmp_path / "data"), url, sync)


@pytest.mark.parametrize("revision", [PREVIOUS_REVISION, OLDER_REVISION])
def test_three_processes_upgrading_an_older_revision_together_all_succeed(
    empty_database, tmp_path, revision
):
    url, sync = empty_database
    migrate.upgrade(url, revision)
    _assert_all_at_head(_migrate_together(url, tmp_path / "data"), url, sync)


class _HeldLock:
    """The migration lock as another MediaNest process holds it while it migrates."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.pg: asyncpg.Connection | None = None
        self.loop = asyncio.Runner()  # the connection's loop, from taking to releasing
        self.file: int | None = None

    def take(self) -> None:
        from medianest.db.migration_lock import MIGRATION_LOCK_KEY, sqlite_lock_path

        path = sqlite_lock_path(self.url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.file = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self.file, fcntl.LOCK_EX)
            return
        dsn = self.url.replace("postgresql+asyncpg://", "postgresql://")
        self.pg = self.loop.run(asyncpg.connect(dsn))
        self.loop.run(self.pg.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY))

    def release(self) -> None:
        if self.file is not None:
            os.close(self.file)  # closing drops the flock, as a dying holder's would
        if self.pg is not None:
            self.loop.run(self.pg.close())  # the session ends: PostgreSQL drops its locks
        self.loop.close()


def test_a_process_waits_for_the_migrating_one_then_finds_the_head(empty_database, tmp_path):
    url, sync = empty_database
    migrate.upgrade(url, PREVIOUS_REVISION)
    held = _HeldLock(url)
    held.take()
    waiting = _start_migrate(url, tmp_path / "data")
    try:
        # Its first word is that it waits (however long a loaded machine takes to start
        # it): proof it reached the lock and stopped there.
        first = _first_error_line(waiting)
        assert "migration_waiting" in first, first
        time.sleep(1)
        assert waiting.poll() is None, waiting.communicate()
        assert _versions(url) == [PREVIOUS_REVISION]  # it has not run past the lock
    finally:
        held.release()
    out, rest = waiting.communicate(timeout=120)
    err = first + rest
    assert waiting.returncode == 0, (out, err)
    assert err.count("migration_waiting") == 1, err  # why the start took long, once
    _assert_all_at_head([(0, out, err)], url, sync)


def _first_error_line(process: subprocess.Popen[str], seconds: float = 120) -> str:
    """The first line the process writes on stderr ('' if it ended without one)."""
    assert process.stderr is not None
    with ThreadPoolExecutor(1) as reader:
        return reader.submit(process.stderr.readline).result(timeout=seconds)


def test_a_process_gives_up_waiting_for_the_lock_with_one_clear_line(empty_database, tmp_path):
    url, _ = empty_database
    migrate.upgrade(url, PREVIOUS_REVISION)
    held = _HeldLock(url)
    held.take()
    try:
        started = time.monotonic()
        process = _start_migrate(
            url, tmp_path / "data", MEDIANEST_MIGRATION_LOCK_TIMEOUT_SECONDS="2"
        )
        out, err = process.communicate(timeout=120)
        waited = time.monotonic() - started
    finally:
        held.release()
    assert process.returncode == 2, (out, err)
    lines = err.strip().splitlines()
    # Said once when the wait began, then the one line of giving up.
    assert len(lines) == 2, err
    assert "migration_waiting" in lines[0], lines
    assert "another MediaNest process is migrating" in lines[1], lines
    assert "2 s" in lines[1], lines
    assert 2 <= waited < 30
    assert _versions(url) == [PREVIOUS_REVISION]
