"""A PostgreSQL backup is as trustworthy as a SQLite one: the dump is read back whole
(with the row counts of the dump's own snapshot) when it is made, and a restore reads
the whole dump, its checksum and its migration revision before it touches the data
dir or the database. Real pg_dump and pg_restore against this machine's PostgreSQL.

Before: a truncated or damaged dump reached pg_restore (or was restored silently), and
an archive from a newer MediaNest was restored on either backend, leaving a database
`serve` cannot start on.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import tarfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from medianest.db import migrate
from medianest.settings import Settings
from tests.ops.conftest import run_medianest_in_process
from tests.ops.test_backup import (  # noqa: F401
    back_up,
    cli_env,
    fill_with_data,
    restore_target,
    source_settings,
)
from tests.ops.test_restore_validation import refused_cleanly, rewritten
from tests.support import databases

DUMP = "database/medianest.pgdump"
MANIFEST = "manifest.json"
FUTURE_REVISION = "zz_1_from_a_newer_medianest"


def pg_dsn(settings: Settings) -> str:
    return settings.resolved_database_url.replace("postgresql+asyncpg://", "postgresql://")


async def pg_tables(settings: Settings) -> list[str]:
    conn = await asyncpg.connect(pg_dsn(settings))
    try:
        rows = await conn.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    finally:
        await conn.close()
    return [row[0] for row in rows]


def left_untouched(target: Settings) -> None:
    data_dir = target.data_dir
    assert not data_dir.exists() or [p.name for p in data_dir.iterdir()] == []


@pytest.fixture
async def pg_archive(
    backend: str,
    app_factory: Callable[[Settings], Any],
    source_settings: Settings,  # noqa: F811
    tmp_path: Path,
) -> Path:
    if backend != "postgres":
        pytest.skip("the checks of a pg_dump archive")
    await app_factory(source_settings)
    archive = tmp_path / "backup.tar.gz"
    back_up(source_settings, archive)
    return archive


def member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive, "r:gz") as opened:
        handle = opened.extractfile(name)
        assert handle is not None
        return handle.read()


def without_checksum(archive: Path, target: Path) -> Path:
    """The archive as a MediaNest from before checksums wrote it."""
    manifest = json.loads(member(archive, MANIFEST))
    del manifest["database_sha256"]
    return rewritten(archive, target, member=MANIFEST, data=json.dumps(manifest).encode())


def renamed_table(data: bytes) -> bytes:
    """One byte changed in a table's definition (a bit flip on disk, say)."""
    definition = b"CREATE TABLE public.media_requests"
    assert definition in data
    return data.replace(definition, definition[:-1] + b"z", 1)


def flipped(data: bytes, at: float) -> bytes:
    damaged = bytearray(data)
    start = int(len(damaged) * at)
    for index in range(start, start + 8):
        damaged[index] ^= 0xFF
    return bytes(damaged)


@pytest.mark.parametrize(
    ("damage", "checksum", "expected"),
    [
        (lambda dump: dump[: len(dump) // 2], True, "damaged"),
        # The table definitions are plain text in the dump: pg_restore reads this happily.
        (renamed_table, True, "SHA-256 differs"),
        (lambda dump: flipped(dump, 0.6), True, "damaged"),
        # An archive from before the checksum: reading the whole dump still finds it.
        (lambda dump: dump[: len(dump) // 2], False, "dump is damaged or incomplete"),
    ],
    ids=["cut-in-half", "bytes-flipped-in-the-schema", "bytes-flipped-in-the-data", "no-checksum"],
)
async def test_a_damaged_dump_is_refused_before_the_database_or_data_dir_is_touched(
    pg_archive: Path,
    restore_target: Settings,  # noqa: F811
    tmp_path: Path,
    damage: Callable[[bytes], bytes],
    checksum: bool,
    expected: str,
) -> None:
    source = pg_archive if checksum else without_checksum(pg_archive, tmp_path / "old.tar.gz")
    bad = rewritten(source, tmp_path / "bad.tar.gz", member=DUMP, data=damage(member(source, DUMP)))
    env = cli_env(restore_target)

    refused_cleanly(run_medianest_in_process("restore", str(bad), env=env), expected)
    left_untouched(restore_target)
    assert await pg_tables(restore_target) == []

    retry = run_medianest_in_process("restore", str(pg_archive), env=env)
    assert retry.returncode == 0, retry.stderr
    assert "alembic_version" in await pg_tables(restore_target)


async def test_a_backup_archive_cut_in_half_is_refused_on_postgres_too(
    pg_archive: Path,
    restore_target: Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    whole = pg_archive.read_bytes()
    half = tmp_path / "half.tar.gz"
    half.write_bytes(whole[: len(whole) // 2])

    refused_cleanly(
        run_medianest_in_process("restore", str(half), env=cli_env(restore_target)),
        "not a MediaNest backup",
    )
    left_untouched(restore_target)
    assert await pg_tables(restore_target) == []


def pg_dump_that(tmp_path: Path, shell: str) -> dict[str, str]:
    """PATH with a `pg_dump` that runs the real one, then `shell` (what a full disk or a
    broken client would have done to its output); $out is the file it wrote."""
    tools = tmp_path / "tools"
    tools.mkdir()
    script = tools / "pg_dump"
    script.write_text(
        '#!/bin/sh\n/usr/bin/pg_dump "$@" || exit $?\n'
        'for arg in "$@"; do case "$arg" in --file=*) out="${arg#--file=}";; esac; done\n'
        f"{shell}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return {"PATH": f"{tools}:{os.environ['PATH']}"}


@pytest.mark.parametrize(
    ("shell", "expected"),
    [
        ('truncate -s $(( $(stat -c %s "$out") / 2 )) "$out"', "dump is damaged or incomplete"),
        # A dump that reads fine but lacks rows: only the snapshot's counts show it.
        (
            '/usr/bin/pg_dump "$@" --exclude-table-data=audit_log',
            "rows differ in audit_log",
        ),
    ],
    ids=["truncated-dump", "rows-missing"],
)
async def test_a_dump_that_does_not_read_back_whole_fails_the_backup(
    backend: str,
    app_factory: Callable[[Settings], Any],
    source_settings: Settings,  # noqa: F811
    tmp_path: Path,
    shell: str,
    expected: str,
) -> None:
    if backend != "postgres":
        pytest.skip("pg_dump is PostgreSQL's")
    if not Path("/usr/bin/pg_dump").exists():
        pytest.skip("pg_dump is not at /usr/bin/pg_dump")
    await fill_with_data(await app_factory(source_settings))
    archive = tmp_path / "backup.tar.gz"
    env = {**cli_env(source_settings), **pg_dump_that(tmp_path, shell)}

    refused_cleanly(run_medianest_in_process("backup", "-o", str(archive), env=env), expected)
    assert not archive.exists()


@pytest.fixture
async def newer_source(
    backend: str, sqlite_template: Path, tmp_path: Path, make_settings: Callable[..., Settings]
) -> AsyncIterator[Settings]:
    """An installation a newer MediaNest migrated: its revision is one this code lacks."""
    data_dir = tmp_path / "newer"
    data_dir.mkdir()
    if backend == "postgres":
        name, url = await databases.create_pg_database()
        await migrate.upgrade_async(url)
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            await conn.execute("UPDATE alembic_version SET version_num = $1", FUTURE_REVISION)
        finally:
            await conn.close()
        yield make_settings(data_dir=data_dir, database_url=url)
        await databases.drop_pg_database(name)
        return
    url = databases.copy_sqlite_template(sqlite_template, data_dir)
    with sqlite3.connect(data_dir / "medianest.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (FUTURE_REVISION,))
    yield make_settings(data_dir=data_dir, database_url=url)


async def test_a_backup_from_a_newer_medianest_is_refused_before_anything_is_replaced(
    backend: str,
    newer_source: Settings,
    restore_target: Settings,  # noqa: F811
    tmp_path: Path,
) -> None:
    archive = tmp_path / "newer.tar.gz"
    back_up(newer_source, archive)

    result = run_medianest_in_process("restore", str(archive), env=cli_env(restore_target))

    refused_cleanly(result, f"newer MediaNest (database revision {FUTURE_REVISION} is unknown")
    left_untouched(restore_target)
    if backend == "postgres":
        assert await pg_tables(restore_target) == []
    else:
        assert not Path(restore_target.resolved_database_url.split("///", 1)[1]).exists()
