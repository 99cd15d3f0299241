"""Quiet hours: a daily window, in the user's time zone, in which outside channels
(push, Apprise) hold their messages until the window ends. The centre is never held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTES_PER_DAY = 24 * 60


class QuietWindow(Protocol):
    quiet_start_minute: int | None
    quiet_end_minute: int | None
    timezone: str


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def is_valid_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def next_allowed(window: QuietWindow | None, now: datetime) -> datetime:
    """`now` outside the window; inside it, the window's end (in UTC)."""
    if window is None or window.quiet_start_minute is None or window.quiet_end_minute is None:
        return now
    start, end = window.quiet_start_minute, window.quiet_end_minute
    if start == end:
        return now
    local = now.astimezone(zone(window.timezone))
    minute = local.hour * 60 + local.minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if not inside:
        return now
    minutes_left = (end - minute) % MINUTES_PER_DAY
    ends = local.replace(second=0, microsecond=0) + timedelta(minutes=minutes_left)
    return ends.astimezone(UTC)
