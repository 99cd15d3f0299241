"""Every Alembic revision runs up and down on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import create_engine, inspect

from medianest.db import migrate
from medianest.models import Base
from tests.conftest import unavailable
from tests.support import databases


def _tables(sync_url: str) -> set[str]:
    engine = create_engine(sync_url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "m.db"
        yield databases.sqlite_url(path), f"sqlite:///{path}"
        return
    if not asyncio.run(databases.pg_reachable()):
        unavailable("PostgreSQL")
    name, url = asyncio.run(databases.create_pg_database())
    yield url, None
    asyncio.run(databases.drop_pg_database(name))


async def _pg_tables(url: str) -> set[str]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {row["tablename"] for row in rows} - {"alembic_version"}


def tables_of(async_url: str, sync_url: str | None) -> set[str]:
    if sync_url is not None:
        return _tables(sync_url)
    return asyncio.run(_pg_tables(async_url))


def test_migrations_run_up_down_and_up_again(empty_database):
    async_url, sync_url = empty_database
    expected = set(Base.metadata.tables)
    migrate.upgrade(async_url)
    assert tables_of(async_url, sync_url) == expected
    migrate.downgrade(async_url, "base")
    assert tables_of(async_url, sync_url) == set()
    migrate.upgrade(async_url)
    assert tables_of(async_url, sync_url) == expected


def test_each_revision_steps_down_and_up_one_at_a_time(empty_database):
    async_url, _ = empty_database
    config = migrate.alembic_config(async_url)
    from alembic.script import ScriptDirectory

    revisions = list(ScriptDirectory.from_config(config).walk_revisions())
    migrate.upgrade(async_url)
    for _ in revisions:
        migrate.downgrade(async_url, "-1")
    for _ in revisions:
        migrate.upgrade(async_url, "+1")


def test_head_revision_constant_is_alembics_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert script.get_heads() == [migrate.HEAD_REVISION]


def test_start_up_migrates_a_new_database_and_skips_a_current_one(empty_database):
    async_url, sync_url = empty_database
    assert asyncio.run(migrate.current_revision(async_url)) is None
    assert asyncio.run(migrate.upgrade_if_needed(async_url)) is True
    assert tables_of(async_url, sync_url) == set(Base.metadata.tables)
    assert asyncio.run(migrate.current_revision(async_url)) == migrate.HEAD_REVISION
    assert asyncio.run(migrate.upgrade_if_needed(async_url)) is False
    migrate.downgrade(async_url, "-1")  # one revision behind: migrated again
    assert asyncio.run(migrate.upgrade_if_needed(async_url)) is True
    assert asyncio.run(migrate.current_revision(async_url)) == migrate.HEAD_REVISION
