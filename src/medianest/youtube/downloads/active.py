"""One active download per user and link: the partial unique index over the active
statuses (`uq_youtube_downloads_active_url`) decides, and every way a download becomes
active (submitted, resumed) asks it without an error, so a race is a plain 409."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Insert, Update, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.core.errors import Conflict
from medianest.db.base import insert_for
from medianest.youtube.jobs.queue import RUNNING
from medianest.youtube.models import ACTIVE_STATUSES_SQL, DownloadStatus, YoutubeDownload

ACTIVE = (DownloadStatus.QUEUED.value, *RUNNING)


async def insert_unless_active(session: AsyncSession, **values: Any) -> YoutubeDownload | None:
    """Insert a download unless its user has its URL active already (None)."""
    insert = insert_for(session.get_bind().dialect)
    new_id = await activate_unless_active(session, insert(YoutubeDownload).values(**values))
    return None if new_id is None else await session.get(YoutubeDownload, new_id)


async def activate_unless_active(
    session: AsyncSession, statement: Insert | Update
) -> uuid.UUID | None:
    """Run `statement`, which makes a download active (a new one inserted, a cancelled one
    resumed), unless its user has its URL active already (None): the partial unique index
    decides, without an error. A failed flush would doom the request's transaction (the
    page then answered 500), and SQLite's savepoints commit early."""
    statement = statement.returning(YoutubeDownload.id)
    if isinstance(statement, Insert):
        statement = statement.on_conflict_do_nothing(  # type: ignore[attr-defined]
            index_elements=["user_id", "url"], index_where=text(ACTIVE_STATUSES_SQL)
        )
    elif session.get_bind().dialect.name == "sqlite":
        statement = statement.prefix_with("OR IGNORE")  # SQLite's ON CONFLICT for an UPDATE
    else:
        # PostgreSQL has no ON CONFLICT for an UPDATE: a savepoint takes the conflict.
        try:
            async with session.begin_nested():
                return (await session.execute(statement)).scalar_one_or_none()
        except IntegrityError:
            return None
    return (await session.execute(statement)).scalar_one_or_none()


async def refuse_if_already_active(session: AsyncSession, *, user_id: uuid.UUID, url: str) -> None:
    """409 when the user already has this URL queued or running."""
    duplicate = await session.scalar(
        select(YoutubeDownload.id).where(
            YoutubeDownload.user_id == user_id,
            YoutubeDownload.url == url,
            YoutubeDownload.status.in_(ACTIVE),
        )
    )
    if duplicate is not None:
        raise already_active(duplicate)


def already_active(existing: uuid.UUID | None) -> Conflict:
    return Conflict(
        "This link is already queued or downloading.",
        details={"downloadId": str(existing)} if existing else {},
    )
