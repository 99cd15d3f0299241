"""Every Alembic revision runs up and down on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from medianest.db import migrate
from medianest.db.base import JSONColumn
from medianest.models import Base
from medianest.youtube.models import ACTIVE_STATUSES_SQL
from tests.db.conftest import across, add_download, add_user, connected, users_table


def _tables(sync_url: str) -> set[str]:
    engine = create_engine(sync_url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


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


async def _pg_index_definition(url: str, name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return str(
            await conn.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = $1", name)
        )
    finally:
        await conn.close()


def index_definition(async_url: str, sync_url: str | None, name: str) -> str:
    if sync_url is None:
        return asyncio.run(_pg_index_definition(async_url, name))
    engine = create_engine(sync_url)
    try:
        with engine.connect() as conn:
            query = text("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :name")
            return str(conn.execute(query, {"name": name}).scalar_one())
    finally:
        engine.dispose()


def test_one_active_download_per_url_is_a_partial_unique_index_on_both_databases(
    empty_database,
):
    # The model names only SQLite's WHERE (youtube/models.py); the migration makes both.
    async_url, sync_url = empty_database
    migrate.upgrade(async_url)
    definition = index_definition(async_url, sync_url, "uq_youtube_downloads_active_url")
    assert definition.upper().startswith("CREATE UNIQUE INDEX"), definition
    where = definition.partition(" WHERE ")[2]
    assert all(f"'{status}'" in where for status in ("queued", "downloading", "processing"))
    assert "'completed'" not in where and "'failed'" not in where
    if sync_url is not None:
        assert where == ACTIVE_STATUSES_SQL  # as the model names it


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


# The tables as `nr_1` finds them: the columns a row needs, JSON as the models bind it.
CHANNELS = sa.table(
    "notification_channels",
    sa.column("id", sa.Uuid()),
    sa.column("user_id", sa.Uuid()),
    sa.column("events", JSONColumn()),
    *(sa.column(c) for c in ("kind", "label", "secret", "fingerprint", "created_at")),
)
SETTINGS = sa.table(
    "notification_settings",
    sa.column("user_id", sa.Uuid()),
    sa.column("centre_events", JSONColumn()),
    *(sa.column(c) for c in ("timezone", "digest", "digest_everything")),
)


async def _choices_around_nr_1(conn: AsyncConnection, write: bool) -> dict[str, Any]:
    """Before `nr_1` (`write`): two users and the event choices people made; after:
    what they became, by row."""
    if write:
        await _seed_choices(conn)
    rows = await conn.execute(sa.select(CHANNELS.c.id, CHANNELS.c.events))
    found: dict[str, Any] = {str(key): events for key, events in rows}
    rows = await conn.execute(sa.select(SETTINGS.c.user_id, SETTINGS.c.centre_events))
    found |= {f"settings:{key}": events for key, events in rows}
    return found


async def _seed_choices(conn: AsyncConnection) -> None:
    now = datetime.now(UTC)
    for user_id, name in ((ALICE, "alice"), (BOB, "bob")):
        await add_user(conn, user_id, name)
    for channel_id, user_id, events in CHANNEL_CHOICES:
        await conn.execute(
            CHANNELS.insert().values(
                id=channel_id,
                user_id=user_id,
                events=events,
                kind="apprise",
                label="ntfy://ntfy.sh",
                secret="sealed",
                fingerprint=channel_id.hex,
                created_at=now,
            )
        )
    for user_id, centre in ((ALICE, ["request.approved", "request.declined"]), (BOB, None)):
        await conn.execute(
            SETTINGS.insert().values(
                user_id=user_id,
                centre_events=centre,
                timezone="UTC",
                digest="off",
                digest_everything=False,
            )
        )


ALICE, BOB = uuid.uuid4(), uuid.uuid4()
DECLINED_ONLY, WITHOUT, BOTH, HOUSEHOLD = (uuid.uuid4() for _ in range(4))
CHANNEL_CHOICES = [
    (DECLINED_ONLY, ALICE, ["request.approved", "request.declined", "download.finished"]),
    (WITHOUT, ALICE, ["request.available"]),
    (BOTH, BOB, ["request.removed", "request.declined"]),
    (HOUSEHOLD, None, ["request.declined"]),
]


def test_nr_1_adds_request_removed_wherever_request_declined_was_chosen(empty_database):
    """A channel (a person's or the household's) or a centre choice that wanted declines
    hears removals too, right after them; other choices and "everything" (None) stay."""
    async_url, _ = empty_database
    before, after = across(async_url, "pp_1", _choices_around_nr_1)
    assert before[str(DECLINED_ONLY)] == CHANNEL_CHOICES[0][2]
    expected = {
        str(DECLINED_ONLY): [
            "request.approved",
            "request.declined",
            "request.removed",
            "download.finished",
        ],
        str(WITHOUT): ["request.available"],
        str(BOTH): ["request.removed", "request.declined"],
        str(HOUSEHOLD): ["request.declined", "request.removed"],
        f"settings:{ALICE}": ["request.approved", "request.declined", "request.removed"],
        f"settings:{BOB}": None,
    }
    assert after == expected
    # Down keeps the choice (it cannot be told from a ticked one); up again adds nothing.
    migrate.downgrade(async_url, "pp_1")
    migrate.upgrade(async_url)
    assert connected(async_url, partial(_choices_around_nr_1, write=False)) == expected


async def _links_around_al_1(conn: AsyncConnection, write: bool) -> dict[str, Any]:
    """Before `al_1` (`write`): a linked and an unlinked user; after: who chose each link."""
    users = users_table("overseerr_user_id")
    if write:
        for user_id, name, link in ((ALICE, "alice", 7), (BOB, "bob", None)):
            await add_user(conn, user_id, name, overseerr_user_id=link)
        return {}
    rows = await conn.execute(
        sa.select(users.c.id, users.c.overseerr_user_id, sa.column("overseerr_link"))
        .select_from(users)
        .where(users.c.id.in_([ALICE, BOB]))
    )
    return {str(key): (linked, chosen) for key, linked, chosen in rows}


def test_al_1_marks_the_links_made_before_as_the_admins(empty_database):
    """Every link stored before was an admin's: never replaced by the automatic one."""
    async_url, _ = empty_database
    _, after = across(async_url, "nr_1", _links_around_al_1)
    assert after == {
        str(ALICE): (7, "admin"),
        str(BOB): (None, None),
    }


async def _downloads_around_rd_1(conn: AsyncConnection, write: bool) -> dict[str, Any]:
    """Before `rd_1` (`write`): completed downloads with and without a Plex note; after:
    which are pending a delivery."""
    cases = {
        "unshared": ("completed", 'Downloaded, but not delivered to Plex: The Plex library "Y"'),
        "plex_down": ("completed", "Downloaded, but the Plex collection was not updated: Plex: x"),
        "failed_items": ("completed", "1 of 3 items failed"),
        "delivered": ("completed", None),
        "failed": ("failed", "Downloaded, but not delivered to Plex (an odd one)"),
    }
    if not write:
        rows = await conn.execute(sa.text("SELECT url, plex_pending FROM youtube_downloads"))
        return {url: bool(pending) for url, pending in rows}
    await add_user(conn, ALICE, "alice")
    for name, (status, error) in cases.items():
        await add_download(conn, ALICE, name, status, error=error)
    return {}


def test_rd_1_makes_the_downloads_completed_with_a_plex_note_pending(empty_database):
    """What completed undelivered before is delivered at the next change of the shares."""
    async_url, _ = empty_database
    _, after = across(async_url, "al_1", _downloads_around_rd_1)
    assert after == {
        "unshared": True,
        "plex_down": True,
        "failed_items": False,
        "delivered": False,
        "failed": False,
    }
