"""`medianest backup` says what it checked: how many tables and rows it read back from
the snapshot it keeps (the dump through pg_restore; the SQLite copy, after its
integrity check), and the SHA-256 the manifest records. The counts it prints are those
the seeded database holds, counted here by the database itself.

Before: it printed the archive's name, database kind, revision and secrets only.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from medianest.db.engine import session_scope
from medianest.platform import audit
from medianest.settings import Settings
from tests.ops.conftest import run_medianest_in_process
from tests.ops.test_backup import cli_env, fill_with_data, source_settings  # noqa: F401
from tests.ops.test_backup_checks import member

SEEDED_AUDIT_ROWS = 1_200  # past a thousand: the count is printed with a separator
CHECKED = re.compile(
    r"^checked: (?P<tables>\d+) tables, (?P<rows>[\d,]+) rows read back from (?P<source>.+), "
    r"each table's count equal to the database's$"
)


async def real_row_counts(engine: AsyncEngine) -> dict[str, int]:
    """The rows of every table the database's catalog lists, counted by the database."""
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        return {
            name: int(await connection.scalar(text(f'SELECT count(*) FROM "{name}"')) or 0)
            for name in names
        }


async def test_a_backup_prints_the_tables_and_rows_it_read_back_and_the_checksum(
    backend: str,
    app_factory: Callable[[Settings], Any],
    source_settings: Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    source = await app_factory(source_settings)
    alice = await fill_with_data(source)
    async with session_scope(source.ctx.session_factory) as session:
        for n in range(SEEDED_AUDIT_ROWS):
            audit.record(session, action="test.backup", actor_id=alice.id, details={"n": n})
    archive = tmp_path / "backup.tar.gz"

    result = run_medianest_in_process("backup", "-o", str(archive), env=cli_env(source_settings))

    assert result.returncode == 0, result.stderr
    held = await real_row_counts(source.ctx.engine)
    assert held["audit_log"] == SEEDED_AUDIT_ROWS + 1  # and fill_with_data's one
    wrote, checked, checksum = result.stdout.splitlines()
    assert wrote.startswith(f"wrote {archive} (")
    found = CHECKED.match(checked)
    assert found is not None, checked
    assert found["source"] == (
        "the dump (pg_restore)" if backend == "postgres" else "the copy (integrity_check ok)"
    )
    assert int(found["tables"]) == len(held)
    assert found["rows"] == f"{sum(held.values()):,}"
    manifest = json.loads(member(archive, "manifest.json"))
    snapshot = (
        "database/medianest.pgdump" if backend == "postgres" else "database/medianest.sqlite3"
    )
    digest = hashlib.sha256(member(archive, snapshot)).hexdigest()
    assert manifest["database_sha256"] == digest
    assert checksum == f"sha256 {digest} (in the manifest; restore checks it)"


def keep_inserting(database: Path, stop: threading.Event) -> None:
    """Another writer of the live database, committing a row at a time meanwhile."""
    writer = sqlite3.connect(database, isolation_level=None, timeout=30)
    try:
        while not stop.is_set():
            writer.execute("INSERT INTO load (filler) VALUES (1)")
    finally:
        writer.close()


async def test_a_sqlite_backup_counts_and_copies_the_same_moment_while_the_database_is_written(
    backend: str,
    app_factory: Callable[[Settings], Any],
    source_settings: Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The rows are counted and the pages copied in one read transaction, so a writer
    committing all the while never makes a sound copy fail as short of rows; and the
    counts printed are the copy's own. A copy of 40 MB takes long enough for commits to
    land between a count and a copy taken apart: counted outside the copy's transaction,
    the first backup failed in 3 runs of 3."""
    if backend != "sqlite":
        pytest.skip("SQLite's own copy")
    await app_factory(source_settings)
    database = Path(source_settings.resolved_database_url.split("///", 1)[1])
    with sqlite3.connect(database) as seed:
        seed.execute("CREATE TABLE load (filler)")
        seed.executemany("INSERT INTO load VALUES (randomblob(2000))", [()] * 20_000)
    stop = threading.Event()
    writer = threading.Thread(target=keep_inserting, args=(database, stop))
    writer.start()
    try:
        results = [
            run_medianest_in_process(
                "backup", "-o", str(tmp_path / f"{n}.tar.gz"), env=cli_env(source_settings)
            )
            for n in range(3)
        ]
    finally:
        stop.set()
        writer.join()
    for n, result in enumerate(results):
        assert result.returncode == 0, result.stderr
        copy = tmp_path / f"{n}.sqlite3"
        copy.write_bytes(member(tmp_path / f"{n}.tar.gz", "database/medianest.sqlite3"))
        with sqlite3.connect(copy) as opened:
            tables = [
                t for (t,) in opened.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            rows = sum(opened.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables)
        found = CHECKED.match(result.stdout.splitlines()[1])
        assert found is not None, result.stdout
        assert (int(found["tables"]), found["rows"]) == (len(tables), f"{rows:,}")
