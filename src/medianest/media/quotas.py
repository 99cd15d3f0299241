"""The weekly media request quota of a user, counted from `media_requests` (the
configuration and the window are `limits/quotas.py`)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import User
from medianest.db.base import utcnow
from medianest.limits.quotas import WEEK_SECONDS, RoleQuotas, Usage, load_config, window_reset
from medianest.media.models import MediaRequest


async def media_request_usage(
    session: AsyncSession, *, user_id: uuid.UUID, quotas: RoleQuotas
) -> Usage:
    since = utcnow() - timedelta(seconds=WEEK_SECONDS)
    rows = await session.scalars(
        select(MediaRequest.created_at)
        .where(MediaRequest.user_id == user_id, MediaRequest.created_at >= since)
        .order_by(MediaRequest.created_at)
    )
    stamps = [(at, 1) for at in rows]
    limit = quotas.media_requests_per_week
    return Usage(
        "mediaRequestsPerWeek",
        "requests",
        limit,
        len(stamps),
        WEEK_SECONDS,
        window_reset(stamps, limit, WEEK_SECONDS),
    )


async def enforce_media_requests(session: AsyncSession, user: User) -> None:
    """429 QUOTA_EXCEEDED when the weekly media request quota is used up."""
    quotas = (await load_config(session)).for_role(user.role)
    usage = await media_request_usage(session, user_id=user.id, quotas=quotas)
    if usage.exhausted:
        raise usage.error()
