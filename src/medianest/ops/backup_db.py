"""Consistent database snapshots for backups: SQLite's online backup API, or pg_dump.

Both give a point-in-time copy while the app keeps running: SQLite copies pages
under its own locking, pg_dump reads everything inside one repeatable-read snapshot.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


class BackupError(RuntimeError):
    """A backup or restore cannot go on; the message is one line for the operator."""


def sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def snapshot_sqlite(database_url: str, target: Path) -> str | None:
    """Copy the live database into `target`; returns its Alembic revision."""
    source_path = sqlite_path(database_url)
    if not source_path.exists():
        raise BackupError(f"no database at {source_path}")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    destination = sqlite3.connect(target)
    try:
        source.backup(destination)
        destination.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        destination.close()
        source.close()
    return sqlite_revision(target)


def sqlite_revision(path: Path) -> str | None:
    connection = sqlite3.connect(path)
    try:
        row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        connection.close()
    return str(row[0]) if row else None


def restore_sqlite(snapshot: Path, database_url: str) -> None:
    target = sqlite_path(database_url)
    if target.exists() and target.stat().st_size > 0:
        raise BackupError(f"refusing to overwrite the existing database {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(snapshot, target)
    os.chmod(target, 0o600)


def _pg_url(database_url: str) -> URL:
    return make_url(database_url)


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


def _run(command: list[str], env: dict[str, str]) -> None:
    # The command is ours (pg_dump/pg_restore by absolute path), never user input.
    result = subprocess.run(  # noqa: S603
        command, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackupError(f"{Path(command[0]).name} failed: {last_line[:300]}")


async def _pg_fetch(database_url: str, query: str) -> list[tuple[Any, ...]]:
    engine = create_async_engine(database_url, poolclass=NullPool, connect_args={"timeout": 10})
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(query))]
    finally:
        await engine.dispose()


def _pg_query(database_url: str, query: str) -> list[tuple[Any, ...]]:
    try:
        return asyncio.run(_pg_fetch(database_url, query))
    except (OSError, SQLAlchemyError, TimeoutError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
        raise BackupError(f"cannot use PostgreSQL ({type(exc).__name__}): {reason}") from None


def snapshot_postgres(database_url: str, target: Path) -> str | None:
    """pg_dump in custom format (compressed, restorable table by table)."""
    url = _pg_url(database_url)
    _run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"],
        _libpq_env(url),
    )
    return postgres_revision(database_url)


def postgres_revision(database_url: str) -> str | None:
    if not _pg_query(database_url, "SELECT to_regclass('public.alembic_version')")[0][0]:
        return None
    rows = _pg_query(database_url, "SELECT version_num FROM alembic_version")
    return str(rows[0][0]) if rows else None


def postgres_is_empty(database_url: str) -> bool:
    rows = _pg_query(
        database_url,
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    return int(rows[0][0]) == 0


def restore_postgres(snapshot: Path, database_url: str) -> None:
    if not postgres_is_empty(database_url):
        raise BackupError("refusing to restore into a PostgreSQL database that already has tables")
    _run(
        [
            _tool("pg_restore"),
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={_pg_url(database_url).database}",
            str(snapshot),
        ],
        _libpq_env(_pg_url(database_url)),
    )
