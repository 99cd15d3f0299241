"""`rr_1` on SQLite and PostgreSQL: when the admin had already set a content rating for
downloaded videos, what was delivered before is due for it (youtube/jobs/rerating.py);
with none set, nothing is."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from medianest.db import migrate
from medianest.db.base import JSONType
from tests.conftest import unavailable
from tests.support import databases

ALICE = uuid.uuid4()
CASES = {  # url: (status, plex_pending)
    "delivered": ("completed", False),
    "pending": ("completed", True),
    "failed": ("failed", False),
    "queued": ("queued", False),
}


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    if request.param == "sqlite":
        yield databases.sqlite_url(tmp_path / "m.db")
        return
    if not asyncio.run(databases.pg_reachable()):
        unavailable("PostgreSQL")
    name, url = asyncio.run(databases.create_pg_database())
    yield url
    asyncio.run(databases.drop_pg_database(name))


async def _write(url: str, rating: str | None) -> None:
    """Before `rr_1`: alice's downloads of each case, and the admin's rating (if any)."""
    users = sa.table(
        "users",
        sa.column("id", sa.Uuid()),
        *(sa.column(c) for c in ("username", "role", "must_change_password", "status")),
        sa.column("created_at"),
    )
    downloads = sa.table(
        "youtube_downloads",
        sa.column("id", sa.Uuid()),
        sa.column("user_id", sa.Uuid()),
        *(sa.column(c) for c in ("url", "quality", "progress", "delivery")),
        *(sa.column(c) for c in ("bytes_downloaded", "attempts", "cancel_requested")),
        *(sa.column(c) for c in ("created_at", "items", "status", "plex_pending")),
    )
    settings = sa.table(
        "system_settings", sa.column("key"), sa.column("value", JSONType), sa.column("updated_at")
    )
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            now = datetime.now(UTC)
            await conn.execute(
                users.insert().values(
                    id=ALICE,
                    username="alice",
                    role="user",
                    must_change_password=False,
                    status="active",
                    created_at=now,
                )
            )
            for name, (status, pending) in CASES.items():
                await conn.execute(
                    downloads.insert().values(
                        id=uuid.uuid4(),
                        user_id=ALICE,
                        url=name,
                        quality="best",
                        progress=100.0,
                        delivery="playlist",
                        bytes_downloaded=0,
                        attempts=0,
                        cancel_requested=False,
                        created_at=now,
                        items=sa.text("'[]'"),
                        status=status,
                        plex_pending=pending,
                    )
                )
            if rating is not None:
                await conn.execute(
                    settings.insert().values(
                        key="youtube_content_rating", value={"rating": rating}, updated_at=now
                    )
                )
    finally:
        await engine.dispose()


async def _read(url: str) -> tuple[dict[str, bool], Any]:
    """After: which downloads are due for the rating, and the round's stored total."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            rows = await conn.execute(sa.text("SELECT url, rating_due_at FROM youtube_downloads"))
            due = {url: at is not None for url, at in rows}
            settings = sa.table("system_settings", sa.column("key"), sa.column("value", JSONType))
            total = await conn.scalar(
                sa.select(settings.c.value).where(settings.c.key == "youtube_rerating")
            )
            return due, total
    finally:
        await engine.dispose()


@pytest.mark.parametrize("rating", ["G", "", None])
def test_rr_1_makes_what_was_delivered_before_a_rating_was_set_due_for_it(
    database: str, rating: str | None
) -> None:
    migrate.upgrade(database, "rd_1")
    asyncio.run(_write(database, rating))
    migrate.upgrade(database)
    due, total = asyncio.run(_read(database))
    if rating:
        assert due == {"delivered": True, "pending": False, "failed": False, "queued": False}
        assert total == {"total": 1}
    else:
        assert not any(due.values()) and total is None
    migrate.downgrade(database, "rd_1")  # and back down: the columns and the round go
    migrate.upgrade(database)
