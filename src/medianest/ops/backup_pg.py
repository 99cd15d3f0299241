"""PostgreSQL backups: pg_dump inside one exported snapshot, and a dump read back whole.

The row counts are taken in the REPEATABLE READ transaction whose snapshot pg_dump
shares (`--snapshot`), so they are the dump's own even while the app keeps writing.
`read_dump` streams the archive through `pg_restore` (no server needed), which fails
on a truncated archive, and counts the rows of every table in it: a backup is kept
only when those counts are the database's, and a restore reads the dump this way
before it touches the target database.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from medianest.db.engine import failure_line
from medianest.ops.backup_db import BackupError, SnapshotContents, same_rows

# `COPY public.users (id, ...) FROM stdin;` opens a table's rows in pg_restore's output.
_COPY_LINE = re.compile(rb"^COPY ([^ ]+) .*FROM stdin;$")
_COPY_END = b"\\.\n"


def _libpq_env(url: URL) -> dict[str, str]:
    """Connection settings for pg_dump/pg_restore; the password goes in the
    environment, never on the command line (where `ps` would show it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(
        {
            "PGHOST": url.host or "localhost",
            "PGPORT": str(url.port or 5432),
            "PGUSER": url.username or "postgres",
            "PGDATABASE": url.database or "postgres",
            "PGCONNECT_TIMEOUT": "10",
        }
    )
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _failure(tool: str, returncode: int, stderr: str) -> BackupError:
    if returncode < 0:  # pg_restore dies of SIGSEGV on some damaged archives
        return BackupError(f"{tool} failed: killed by signal {-returncode}")
    last_line = (stderr.strip().splitlines() or ["no output"])[-1]
    return BackupError(f"{tool} failed: {last_line[:300]}")


def _run(command: list[str], env: dict[str, str]) -> None:
    # The command is ours (pg_dump/pg_restore by absolute path), never user input. Its
    # stderr may quote a damaged dump's bytes: not UTF-8, so replaced, not a traceback.
    result = subprocess.run(  # noqa: S603
        command, env=env, capture_output=True, text=True, errors="replace", check=False
    )
    if result.returncode != 0:
        raise _failure(Path(command[0]).name, result.returncode, result.stderr)


def _connection_error(exc: BaseException) -> BackupError:
    return BackupError(f"cannot use PostgreSQL ({type(exc).__name__}): {failure_line(exc)}")


def _engine(database_url: str) -> Any:
    return create_async_engine(database_url, poolclass=NullPool, connect_args={"timeout": 10})


async def _pg_fetch(database_url: str, query: str) -> list[tuple[Any, ...]]:
    engine = _engine(database_url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(query))]
    finally:
        await engine.dispose()


def _pg_query(database_url: str, query: str) -> list[tuple[Any, ...]]:
    try:
        return asyncio.run(_pg_fetch(database_url, query))
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        raise _connection_error(exc) from None


async def _row_counts(connection: AsyncConnection) -> dict[str, int]:
    tables = await connection.execute(
        text(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
    )
    counts: dict[str, int] = {}
    for (name,) in tables.all():
        # A table name read from the catalog, quoted as an identifier: not user input.
        quoted = '"' + str(name).replace('"', '""') + '"'
        query = text(f"SELECT count(*) FROM {quoted}")  # noqa: S608
        counts[str(name)] = int((await connection.scalar(query)) or 0)
    return counts


async def _dump_in_snapshot(database_url: str, target: Path) -> dict[str, int]:
    engine = _engine(database_url)
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                snapshot = await connection.scalar(text("SELECT pg_export_snapshot()"))
                counts = await _row_counts(connection)
                # The transaction stays open while pg_dump runs: the snapshot lives with it.
                command = [
                    _tool("pg_dump"),
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={target}",
                ]
                await asyncio.to_thread(_run, command, _libpq_env(make_url(database_url)))
        return counts
    finally:
        await engine.dispose()


def snapshot_postgres(database_url: str, target: Path) -> SnapshotContents:
    """pg_dump in custom format, then read back whole: the backup is kept only when
    every table has in the archive the rows it had in the dump's snapshot."""
    try:
        counts = asyncio.run(_dump_in_snapshot(database_url, target))
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        raise _connection_error(exc) from None
    return same_rows(counts, read_dump(target), "the dump")


def read_dump(dump: Path) -> SnapshotContents:
    """Read the whole archive (its table of contents, then every data block) through
    pg_restore without a server; a damaged or truncated archive raises BackupError."""
    pg_restore = _tool("pg_restore")  # outside the try: a missing tool is no damage
    try:
        return _read_dump(pg_restore, dump)
    except BackupError as exc:
        raise BackupError(f"the database dump is damaged or incomplete ({exc})") from None


def _read_dump(pg_restore: str, dump: Path) -> SnapshotContents:
    _run([pg_restore, "--list", str(dump)], {**os.environ})
    rows: dict[str, int] = {}
    revision: str | None = None
    with tempfile.TemporaryFile() as errors:
        # Streamed: the SQL of a large database is never held in memory.
        process = subprocess.Popen(  # noqa: S603 - our tool, our file
            [pg_restore, "--file=-", str(dump)], stdout=subprocess.PIPE, stderr=errors
        )
        assert process.stdout is not None
        table: str | None = None
        for line in process.stdout:
            if table is None:
                match = _COPY_LINE.match(line.rstrip(b"\n"))
                if match:
                    table = match.group(1).decode().split(".", 1)[-1].strip('"')
                    rows[table] = 0
            elif line == _COPY_END:
                table = None
            else:
                rows[table] += 1
                if table == "alembic_version":
                    revision = line.decode().rstrip("\n")
        if process.wait() != 0:
            errors.seek(0)
            raise _failure("pg_restore", process.returncode, errors.read().decode(errors="replace"))
    return SnapshotContents(revision=revision, rows=rows)


def postgres_is_empty(database_url: str) -> bool:
    rows = _pg_query(
        database_url,
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    return int(rows[0][0]) == 0


def restore_postgres(snapshot: Path, database_url: str) -> None:
    """One transaction: a dump that fails halfway leaves the database empty."""
    if not postgres_is_empty(database_url):
        raise BackupError("refusing to restore into a PostgreSQL database that already has tables")
    url = make_url(database_url)
    _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={url.database}",
            str(snapshot),
        ],
        _libpq_env(url),
    )
