"""The data directory and what the app writes there (database, WAL, log) are private:
files 0600, the directory 0700, whatever the process umask (it used to leave 0644 in
a 0755 directory, readable by every local user)."""

from __future__ import annotations

import logging.handlers
import os
from pathlib import Path

from sqlalchemy.engine import make_url

PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
# When downloads live inside the data directory, Plex's group must still pass through
# it to reach them (2750 folders): traverse only, nothing listed.
TRAVERSABLE_DIR_MODE = 0o711

# SQLite keeps its write-ahead log and shared memory next to the database.
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def protect_data_dir(data_dir: Path, *, download_root: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    inside = download_root.resolve().is_relative_to(data_dir.resolve())
    os.chmod(data_dir, TRAVERSABLE_DIR_MODE if inside else PRIVATE_DIR_MODE)


def sqlite_path(database_url: str) -> Path | None:
    url = make_url(database_url)
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def protect_sqlite_files(database_url: str) -> None:
    """Create the database file 0600 if it is new (SQLite gives its WAL and shared-memory
    files the database's mode) and make any existing ones 0600."""
    path = sqlite_path(database_url)
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.chmod(companion, PRIVATE_FILE_MODE)


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose every file (the first and each after a rollover) is 0600."""

    def _open(self):  # type: ignore[no-untyped-def]  # the stdlib's own signature
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
        os.chmod(self.baseFilename, PRIVATE_FILE_MODE)
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)
