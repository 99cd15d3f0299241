"""A user's YouTube quotas (items per day, gigabytes per week), counted from the download
archive, and every quota of a user for the pages (the configuration and the window are
`limits/quotas.py`)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import User
from medianest.db.base import utcnow
from medianest.limits.quotas import (
    DAY_SECONDS,
    GB,
    WEEK_SECONDS,
    RoleQuotas,
    Usage,
    load_config,
    window_reset,
)
from medianest.media.quotas import media_request_usage
from medianest.youtube.models import YoutubeArchiveEntry


async def youtube_usage(
    session: AsyncSession, *, user_id: uuid.UUID, quotas: RoleQuotas
) -> tuple[Usage, Usage]:
    now = utcnow()
    # The day's entries are the week's last ones: one query, not two (each query of a page
    # remade under load waits a turn of the event loop).
    week_rows = await _archive_rows(session, user_id, now - timedelta(seconds=WEEK_SECONDS))
    day_start = now - timedelta(seconds=DAY_SECONDS)
    day_rows = [row for row in week_rows if row[0] >= day_start]
    items_limit = quotas.youtube_items_per_day
    items = Usage(
        "youtubeItemsPerDay",
        "items",
        items_limit,
        len(day_rows),
        DAY_SECONDS,
        window_reset([(at, 1) for at, _ in day_rows], items_limit, DAY_SECONDS),
    )
    bytes_limit = (
        quotas.youtube_gb_per_week * GB if quotas.youtube_gb_per_week is not None else None
    )
    size = Usage(
        "youtubeGbPerWeek",
        "bytes",
        bytes_limit,
        sum(b for _, b in week_rows),
        WEEK_SECONDS,
        window_reset(week_rows, bytes_limit, WEEK_SECONDS),
    )
    return items, size


async def _archive_rows(
    session: AsyncSession, user_id: uuid.UUID, since: datetime
) -> list[tuple[datetime, int]]:
    rows = await session.execute(
        select(YoutubeArchiveEntry.created_at, YoutubeArchiveEntry.bytes)
        .where(YoutubeArchiveEntry.user_id == user_id, YoutubeArchiveEntry.created_at >= since)
        .order_by(YoutubeArchiveEntry.created_at)
    )
    return [(at, int(size or 0)) for at, size in rows]


async def user_usage(session: AsyncSession, user: User) -> list[Usage]:
    """Every quota of `user` (for `GET /api/youtube/quota` and the pages)."""
    quotas = (await load_config(session)).for_role(user.role)
    items, size = await youtube_usage(session, user_id=user.id, quotas=quotas)
    requests = await media_request_usage(session, user_id=user.id, quotas=quotas)
    return [items, size, requests]


# --- enforcement ---------------------------------------------------------------------------
async def youtube_quotas_of(session: AsyncSession, user: User) -> tuple[Usage, Usage]:
    """`user`'s YouTube quotas (items per day, bytes per week) as they stand now."""
    quotas = (await load_config(session)).for_role(user.role)
    return await youtube_usage(session, user_id=user.id, quotas=quotas)


async def exhausted_youtube_quota(session: AsyncSession, user: User) -> Usage | None:
    """The first used-up YouTube quota of `user`, or None."""
    for usage in await youtube_quotas_of(session, user):
        if usage.exhausted:
            return usage
    return None


async def bytes_free_at(
    session: AsyncSession, user: User, needed: int
) -> tuple[Usage, datetime | None]:
    """The weekly byte quota, and when `needed` bytes fit in it as downloads leave the
    window oldest first (None: they never fit, the quota is smaller)."""
    size = (await youtube_quotas_of(session, user))[1]
    if size.limit is None or needed > size.limit:
        return size, None
    now = utcnow()
    rows = await _archive_rows(session, user.id, now - timedelta(seconds=WEEK_SECONDS))
    return size, window_reset(rows, size.limit, WEEK_SECONDS, needed=needed) or now


async def enforce_youtube(session: AsyncSession, user: User) -> None:
    """429 QUOTA_EXCEEDED (with when it resets) when a YouTube quota is used up."""
    usage = await exhausted_youtube_quota(session, user)
    if usage is not None:
        raise usage.error()
