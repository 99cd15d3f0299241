"""`medianest backup` and `medianest restore`: a round trip keeps every row and the secrets.

The round trip starts both commands as processes; the other tests run them in the test
process, where what they write and refuse is the same (~2 s of CPU less per command)."""

from __future__ import annotations

import json
import stat
import tarfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from medianest.auth.models import User
from medianest.db.engine import create_engine, session_scope
from medianest.media.models import MediaRequest
from medianest.platform import audit
from medianest.settings import Settings
from medianest.youtube.models import YoutubeDownload
from tests.factories.users import create_user
from tests.ops.conftest import (
    non_empty,
    run_medianest,
    run_medianest_in_process,
    table_contents,
)
from tests.support import databases


def cli_env(settings: Settings) -> dict[str, str]:
    env = {
        "MEDIANEST_DATA_DIR": str(settings.data_dir),
        "MEDIANEST_DATABASE_URL": settings.resolved_database_url,
    }
    if settings.secrets_file is not None:
        env["MEDIANEST_SECRETS_FILE"] = str(settings.secrets_file)
    return env


def back_up(settings: Settings, archive: Path) -> None:
    result = run_medianest_in_process("backup", "-o", str(archive), env=cli_env(settings))
    assert result.returncode == 0, result.stderr


@pytest.fixture
def source_settings(make_settings: Callable[..., Settings]) -> Settings:
    # No keys in the settings: the app generates its secrets file, as in the embedded mode.
    return make_settings(encryption_key=None, session_secret=None)


@pytest.fixture
async def restore_target(
    backend: str, tmp_path: Path, make_settings: Callable[..., Settings]
) -> AsyncIterator[Settings]:
    """Settings for an empty data dir and an empty database of the same kind."""
    data_dir = tmp_path / "restored"
    if backend == "postgres":
        name, url = await databases.create_pg_database()
        yield make_settings(
            data_dir=data_dir, database_url=url, encryption_key=None, session_secret=None
        )
        await databases.drop_pg_database(name)
        return
    yield make_settings(
        data_dir=data_dir,
        database_url=databases.sqlite_url(data_dir / "medianest.db"),
        encryption_key=None,
        session_secret=None,
    )


# The running source app's status monitor and lease heartbeats write these on their own
# schedule, so they may change between the comparison snapshot and the backup.
BACKGROUND_TABLES = ("service_status", "leases")


def without_background_tables(contents: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: rows for name, rows in contents.items() if name not in BACKGROUND_TABLES}


async def fill_with_data(app: Any) -> User:
    alice = await create_user(app, "alice", plex_id="1002", plex_token="alice-plex-token")
    async with session_scope(app.ctx.session_factory) as session:
        session.add(
            YoutubeDownload(
                user_id=alice.id,
                url="https://www.youtube.com/playlist?list=PL1",
                status="completed",
                items=[{"title": "One", "state": "completed"}],
            )
        )
        session.add(
            MediaRequest(user_id=alice.id, title="Arrival", media_type="movie", tmdb_id=329865)
        )
        audit.record(session, action="test.backup", actor_id=alice.id, details={"n": 1})
    return alice


async def test_backup_then_restore_into_an_empty_data_dir_gives_back_every_row(
    app_factory, source_settings, restore_target, tmp_path
):
    source = await app_factory(source_settings)
    await fill_with_data(source)
    before = await table_contents(source.ctx.engine)
    assert {"users", "youtube_downloads", "media_requests", "audit_log"} <= set(non_empty(before))
    archive = tmp_path / "backup.tar.gz"

    backed_up = run_medianest("backup", "--output", str(archive), env=cli_env(source_settings))
    assert backed_up.returncode == 0, backed_up.stderr
    restored = run_medianest("restore", str(archive), env=cli_env(restore_target))
    assert restored.returncode == 0, restored.stderr

    restored_engine = create_engine(restore_target.resolved_database_url)
    try:
        after = await table_contents(restored_engine)
    finally:
        await restored_engine.dispose()
    assert without_background_tables(after) == without_background_tables(before)
    target = await app_factory(restore_target)
    # The restored secrets decrypt the tokens stored under the old key.
    async with session_scope(target.ctx.session_factory) as session:
        alice = await session.scalar(select(User).where(User.username == "alice"))
    assert alice is not None and alice.plex_token is not None
    assert target.ctx.secret_box.decrypt(alice.plex_token, context="plex_token") == (
        "alice-plex-token"
    )


async def test_backup_archive_is_private_and_describes_itself(
    app_factory, source_settings, backend, tmp_path
):
    source = await app_factory(source_settings)
    archive = tmp_path / "backup.tar.gz"
    result = run_medianest_in_process("backup", "-o", str(archive), env=cli_env(source_settings))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    with tarfile.open(archive) as opened:
        names = set(opened.getnames())
        manifest = json.loads(opened.extractfile("manifest.json").read())
        public = opened.extractfile("settings/settings.json").read().decode()
    assert manifest["database"] == ("postgresql" if backend == "postgres" else "sqlite")
    assert manifest["alembic_revision"]
    assert manifest["medianest_version"]
    assert manifest["created_at"]
    assert manifest["secrets"] == "included"
    assert "settings/secrets.json" in names
    assert source.ctx.secrets.session_secret not in public
    assert source.ctx.secrets.encryption_key not in public


async def test_restore_refuses_a_data_dir_that_is_not_empty(
    app_factory, source_settings, restore_target, tmp_path
):
    await app_factory(source_settings)
    archive = tmp_path / "backup.tar.gz"
    back_up(source_settings, archive)
    restore_target.data_dir.mkdir(parents=True)
    (restore_target.data_dir / "keep-me.txt").write_text("precious")

    result = run_medianest_in_process("restore", str(archive), env=cli_env(restore_target))

    assert result.returncode == 2
    assert "not empty" in result.stderr
    assert "Traceback" not in result.stderr
    assert (restore_target.data_dir / "keep-me.txt").read_text() == "precious"


async def test_restore_refuses_a_database_that_already_has_data(
    app_factory, source_settings, settings, tmp_path
):
    await app_factory(source_settings)
    archive = tmp_path / "backup.tar.gz"
    back_up(source_settings, archive)
    # An empty data dir, but the live (migrated, non-empty) database.
    env = {**cli_env(settings), "MEDIANEST_DATA_DIR": str(tmp_path / "empty")}

    result = run_medianest_in_process("restore", str(archive), env=env)

    assert result.returncode == 2
    assert "refusing" in result.stderr
    assert "Traceback" not in result.stderr


def test_restore_of_something_that_is_not_a_backup_says_so(tmp_path):
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not a tarball")
    result = run_medianest_in_process(
        "restore", str(bogus), env={"MEDIANEST_DATA_DIR": str(tmp_path / "data")}
    )
    assert result.returncode == 2
    assert "not a MediaNest backup" in result.stderr
