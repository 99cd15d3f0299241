"""`rr_1` on SQLite and PostgreSQL: when the admin had already set a content rating for
downloaded videos, what was delivered before is due for it (youtube/jobs/rerating.py);
with none set, nothing is."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from medianest.db import migrate
from medianest.db.base import JSONType
from tests.db.conftest import across, add_download, add_user

ALICE = uuid.uuid4()
CASES = {  # url: (status, plex_pending)
    "delivered": ("completed", False),
    "pending": ("completed", True),
    "failed": ("failed", False),
    "queued": ("queued", False),
}


SETTINGS = sa.table(
    "system_settings", sa.column("key"), sa.column("value", JSONType), sa.column("updated_at")
)


async def _rows_around_rr_1(conn: AsyncConnection, write: bool, rating: str | None) -> Any:
    """Before `rr_1` (`write`): alice's downloads of each case, and the admin's rating (if
    any); after: which downloads are due for the rating, and the round's stored total."""
    if write:
        await add_user(conn, ALICE, "alice")
        for name, (status, pending) in CASES.items():
            await add_download(conn, ALICE, name, status, plex_pending=pending)
        if rating is not None:
            await conn.execute(
                SETTINGS.insert().values(
                    key="youtube_content_rating",
                    value={"rating": rating},
                    updated_at=datetime.now(UTC),
                )
            )
        return None
    rows = await conn.execute(sa.text("SELECT url, rating_due_at FROM youtube_downloads"))
    due = {url: at is not None for url, at in rows}
    total = await conn.scalar(
        sa.select(SETTINGS.c.value).where(SETTINGS.c.key == "youtube_rerating")
    )
    return due, total


@pytest.mark.parametrize("rating", ["G", "", None])
def test_rr_1_makes_what_was_delivered_before_a_rating_was_set_due_for_it(
    empty_database: tuple[str, str | None], rating: str | None
) -> None:
    database, _ = empty_database
    _, (due, total) = across(database, "rd_1", partial(_rows_around_rr_1, rating=rating))
    if rating:
        assert due == {"delivered": True, "pending": False, "failed": False, "queued": False}
        assert total == {"total": 1}
    else:
        assert not any(due.values()) and total is None
    migrate.downgrade(database, "rd_1")  # and back down: the columns and the round go
    migrate.upgrade(database)
