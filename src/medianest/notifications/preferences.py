"""A user's notification settings: which events show in the centre, quiet hours, digest."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from medianest.core.errors import ValidationFailed
from medianest.notifications.events import choosable_for
from medianest.notifications.models import NotificationSettings
from medianest.notifications.quiet_hours import is_valid_zone

DIGEST_CHOICES = ("off", "daily", "weekly")


@dataclass(frozen=True)
class PreferencesChange:
    quiet_start: str | None  # "HH:MM" or None (no quiet hours)
    quiet_end: str | None
    timezone: str
    digest: str
    digest_everything: bool
    centre_events: Sequence[str] | None = None  # None: every event


def parse_clock(value: str | None, field: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        hours, minutes = value.strip().split(":")
        minute = int(hours) * 60 + int(minutes)
        if not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
            raise ValueError
    except ValueError:
        raise ValidationFailed("Give a time as HH:MM.", details={"field": field}) from None
    return minute


def clock(minute: int | None) -> str:
    return "" if minute is None else f"{minute // 60:02d}:{minute % 60:02d}"


async def load(session: AsyncSession, *, user_id: uuid.UUID) -> NotificationSettings:
    """The user's settings (defaults when never saved; not added to the session)."""
    row = await session.get(NotificationSettings, user_id)
    return row or NotificationSettings(
        user_id=user_id, timezone="UTC", digest="off", digest_everything=False
    )


async def update(
    session: AsyncSession, *, user_id: uuid.UUID, is_admin: bool, change: PreferencesChange
) -> NotificationSettings:
    start = parse_clock(change.quiet_start, "quietStart")
    end = parse_clock(change.quiet_end, "quietEnd")
    if (start is None) != (end is None):
        raise ValidationFailed(
            "Give both ends of the quiet hours, or neither.", details={"field": "quietEnd"}
        )
    if not is_valid_zone(change.timezone):
        raise ValidationFailed("Unknown time zone.", details={"field": "timezone"})
    if change.digest not in DIGEST_CHOICES:
        raise ValidationFailed("Choose off, daily or weekly.", details={"field": "digest"})
    events = None
    if change.centre_events is not None:
        allowed = choosable_for(is_admin=is_admin)
        events = [e for e in dict.fromkeys(change.centre_events) if e in allowed]
        if set(allowed) <= set(events):
            events = None  # everything, including events added in later versions
    row = await session.get(NotificationSettings, user_id)
    if row is None:
        row = NotificationSettings(user_id=user_id)
        session.add(row)
    row.quiet_start_minute, row.quiet_end_minute = start, end
    row.timezone = change.timezone
    row.digest = change.digest
    row.digest_everything = change.digest_everything
    row.centre_events = events
    await session.flush()
    return row
