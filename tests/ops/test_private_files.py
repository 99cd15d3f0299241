"""L10: the data directory is 0700 and the database, its WAL and shared memory, and the
log file are 0600, whatever the umask (before: 0644 files in a 0755 directory).

`medianest serve` runs as its own process in the embedded mode (SQLite under the data
directory) with a permissive umask of 022; an existing database is made private by the
app's start in the test process.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from medianest.app import MediaNestApp
from medianest.settings import Settings
from tests.faults.support import AppProcess
from tests.support import databases
from tests.support.http import http_client


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> object:
    previous = os.umask(0o022)  # inherited by the served process
    yield None
    os.umask(previous)


@pytest.mark.timeout(120)
async def test_the_data_dir_is_0700_and_database_wal_and_log_are_0600(
    make_settings: Callable[..., Settings], tmp_path: Path, umask_022: object
) -> None:
    data_dir = tmp_path / "data"
    log_file = data_dir / "medianest.log"
    settings = make_settings(
        database_url=None,
        redis_url=None,
        data_dir=data_dir,
        download_root=tmp_path / "downloads",
        log_file=log_file,
    )
    with AppProcess(settings, tmp_path / "server.log") as served:
        async with http_client(base_url=served.url) as http:
            # A failed sign-in writes an audit row: the WAL exists while the app runs.
            await http.post("/api/auth/admin", json={"username": "x", "password": "y" * 12})
        database = data_dir / "medianest.db"
        written = [database, database.with_name("medianest.db-wal"), log_file]
        assert all(p.exists() for p in written), [p for p in written if not p.exists()]
        assert mode(data_dir) == 0o700
        assert {p.name: oct(mode(p)) for p in data_dir.iterdir() if p.is_file()} == {
            p.name: "0o600" for p in data_dir.iterdir() if p.is_file()
        }


async def test_an_existing_world_readable_database_is_made_private_at_start(
    app_factory: Callable[[Settings], Awaitable[MediaNestApp]],
    make_settings: Callable[..., Settings],
    sqlite_template: Path,
    tmp_path: Path,
    umask_022: object,
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    database = data_dir / "medianest.db"
    databases.copy_sqlite_template(sqlite_template, data_dir)
    os.chmod(database, 0o644)
    settings = make_settings(
        database_url=None, redis_url=None, data_dir=data_dir, download_root=data_dir / "dl"
    )
    # The app's start in the test process: `serve` (above) runs the same one in its own.
    await app_factory(settings)
    assert mode(database) == 0o600
    # Downloads inside the data dir: Plex's group may pass through, not list it.
    assert mode(data_dir) == 0o711
