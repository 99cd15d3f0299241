"""Recording events and the in-app centre: `notify` writes the notification and its
outbox rows in the caller's transaction (so an event and its notifications commit or
roll back together); the worker in `delivery` sends them after the commit.

Services never commit; the caller's session does.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.auth.models import Role, User, UserStatus
from medianest.db.base import utcnow
from medianest.notifications import quiet_hours
from medianest.notifications.events import EVENTS
from medianest.notifications.models import (
    INAPP_TARGET,
    Notification,
    NotificationChannel,
    NotificationDelivery,
    NotificationSettings,
)

HISTORY_DAYS = 30
PAGE_LIMIT_MAX = 100


@dataclass(frozen=True)
class CentrePage:
    items: list[Notification]
    unread: int


async def notify(
    session: AsyncSession,
    *,
    user_ids: Iterable[uuid.UUID],
    event: str,
    title: str,
    body: str = "",
    link: str | None = None,
    data: dict[str, Any] | None = None,
    subject: str | None = None,
    household: bool = True,
) -> list[Notification]:
    """Record `event` for each user and queue its deliveries: the user's in-app centre,
    the user's channels that chose the event, and (once per call, not once per user)
    the household channels that chose it."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    recipients = list(dict.fromkeys(user_ids))
    now = utcnow()
    created: list[Notification] = []
    household_done = not household
    for user_id in recipients:
        settings = await session.get(NotificationSettings, user_id)
        row = Notification(
            id=uuid.uuid4(),
            user_id=user_id,
            event=event,
            title=title[:300],
            body=body,
            link=link,
            subject=subject,
            data=data or {},
            in_centre=settings is None
            or settings.centre_events is None
            or event in settings.centre_events,
            created_at=now,
        )
        session.add(row)
        created.append(row)
        if row.in_centre:
            session.add(_delivery(row, None, now))
        channels = await _channels_for(session, user_id=user_id, event=event)
        if not household_done:
            channels += await _channels_for(session, user_id=None, event=event)
            household_done = True
        # Quiet hours hold the user's outside channels; the centre shows it at once.
        send_at = quiet_hours.next_allowed(settings, now)
        for channel in channels:
            session.add(_delivery(row, channel, send_at if channel.user_id else now))
    await session.flush()
    return created


async def notify_admins(
    session: AsyncSession,
    *,
    event: str,
    title: str,
    body: str = "",
    link: str | None = None,
    subject: str | None = None,
) -> list[Notification]:
    """Record an admin event for every active admin (household channels get it once)."""
    admin_ids = await session.scalars(
        select(User.id).where(User.role == Role.ADMIN, User.status == UserStatus.ACTIVE)
    )
    return await notify(
        session,
        user_ids=list(admin_ids),
        event=event,
        title=title,
        body=body,
        link=link,
        subject=subject,
    )


async def notify_admins_once(
    session: AsyncSession, *, event: str, subject: str, title: str, body: str = ""
) -> None:
    """`notify_admins`, unless this `event` was already told of this `subject`."""
    if not await already_notified(session, subject=subject, event=event):
        await notify_admins(session, event=event, title=title, body=body, subject=subject)


async def already_notified(session: AsyncSession, *, subject: str, event: str) -> bool:
    found = await session.scalar(
        select(Notification.id)
        .where(Notification.subject == subject, Notification.event == event)
        .limit(1)
    )
    return found is not None


async def notified_since(session: AsyncSession, *, subject: str, since: datetime) -> bool:
    found = await session.scalar(
        select(Notification.id)
        .where(Notification.subject == subject, Notification.created_at >= since)
        .limit(1)
    )
    return found is not None


def _delivery(
    notification: Notification, channel: NotificationChannel | None, at: datetime
) -> NotificationDelivery:
    return NotificationDelivery(
        id=uuid.uuid4(),
        notification_id=notification.id,
        channel_id=channel.id if channel else None,
        target=str(channel.id) if channel else INAPP_TARGET,
        next_attempt_at=at,
        created_at=at,
    )


async def _channels_for(
    session: AsyncSession, *, user_id: uuid.UUID | None, event: str
) -> list[NotificationChannel]:
    owner = (
        NotificationChannel.user_id.is_(None)
        if user_id is None
        else NotificationChannel.user_id == user_id
    )
    rows = await session.scalars(select(NotificationChannel).where(owner))
    # Events are a short JSON list; filtering here keeps one query for both databases.
    return [row for row in rows if event in (row.events or []) and row.last_status != "gone"]


# --- the centre ----------------------------------------------------------------------
def _visible(user_id: uuid.UUID) -> Any:
    return (
        (Notification.user_id == user_id)
        & Notification.in_centre.is_(True)
        & (Notification.created_at >= utcnow() - timedelta(days=HISTORY_DAYS))
    )


async def unread_count(session: AsyncSession, *, user_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(_visible(user_id), Notification.read_at.is_(None))
    )
    return int(count or 0)


async def list_centre(
    session: AsyncSession, *, user_id: uuid.UUID, limit: int = 50, unread_only: bool = False
) -> CentrePage:
    """The user's notifications of the last 30 days, newest first, and the unread count."""
    query = select(Notification).where(_visible(user_id))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    rows = await session.scalars(
        query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(
            max(1, min(limit, PAGE_LIMIT_MAX))
        )
    )
    return CentrePage(list(rows), await unread_count(session, user_id=user_id))


async def mark_read(
    session: AsyncSession, *, user_id: uuid.UUID, ids: Sequence[uuid.UUID] | None
) -> int:
    """Mark the given notifications (None: all) of this user read; returns the unread count.
    Ids of other users' notifications match nothing."""
    query = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if ids is not None:
        query = query.where(Notification.id.in_(list(ids)))
    await session.execute(query.values(read_at=utcnow()))
    return await unread_count(session, user_id=user_id)


async def prune_history(session: AsyncSession) -> int:
    """Delete notifications older than the history (their deliveries go with them)."""
    result = await session.execute(
        delete(Notification).where(
            or_(Notification.created_at < utcnow() - timedelta(days=HISTORY_DAYS + 1))
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
