"""Consistent SQLite snapshots for backups (PostgreSQL's are in backup_pg.py).

SQLite's online backup API copies pages under its own locking: a point-in-time copy
while the app keeps running. The copy is then read back whole (integrity check, every
table's rows) and kept only when its row counts are the database's at that moment.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(RuntimeError):
    """A backup or restore cannot go on; the message is one line for the operator."""


def sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


@dataclass(frozen=True)
class SnapshotContents:
    """What a database snapshot holds, read from the snapshot itself: its Alembic
    revision and the rows of each table."""

    revision: str | None
    rows: dict[str, int]


def _row_counts(connection: sqlite3.Connection) -> dict[str, int]:
    tables = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    counts: dict[str, int] = {}
    for (name,) in tables:
        # A table name read from the catalog, quoted as an identifier: not user input.
        quoted = '"' + str(name).replace('"', '""') + '"'
        counts[str(name)] = int(connection.execute(f"SELECT count(*) FROM {quoted}").fetchone()[0])  # noqa: S608
    return counts


def snapshot_sqlite(database_url: str, target: Path) -> SnapshotContents:
    """Copy the live database into `target`, then read the copy back: it is kept only
    when it passes SQLite's integrity check and every table has in it the rows it had
    in the database when it was copied."""
    source_path = sqlite_path(database_url)
    if not source_path.exists():
        raise BackupError(f"no database at {source_path}")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, isolation_level=None)
    destination = sqlite3.connect(target)
    try:
        # One read transaction: the counts and the copy see the same moment while the
        # app keeps writing (the backup runs inside it, from the source connection).
        source.execute("BEGIN")
        counts = _row_counts(source)
        source.backup(destination)
        source.execute("COMMIT")
        destination.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
    finally:
        destination.close()
        source.close()
    return same_rows(counts, read_snapshot(target), "the copy")


def same_rows(held: dict[str, int], contents: SnapshotContents, what: str) -> SnapshotContents:
    """`contents`, when every table has in it the rows the database `held`."""
    if contents.rows != held:
        differing = sorted(
            name
            for name in held.keys() | contents.rows.keys()
            if held.get(name) != contents.rows.get(name)
        )
        raise BackupError(
            f"{what} does not hold what the database held (rows differ in {', '.join(differing)})"
        )
    return contents


def read_snapshot(path: Path) -> SnapshotContents:
    """The whole snapshot read: SQLite's integrity check, then every table's rows; a file
    that is not a sound SQLite database raises BackupError."""
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            rows = _row_counts(connection) if problems == ["ok"] else {}
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the database snapshot is not a SQLite database ({exc})") from None
    if problems != ["ok"]:
        raise BackupError(f"the database snapshot is damaged: {problems[0]}")
    return SnapshotContents(revision=sqlite_revision(path), rows=rows)


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
