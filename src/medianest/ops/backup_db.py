"""Consistent SQLite snapshots for backups (PostgreSQL's are in backup_pg.py).

SQLite's online backup API copies pages under its own locking: a point-in-time copy
while the app keeps running.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


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
