"""When YouTube pushes back: a breaker on the whole download queue.

yt-dlp errors are classified per item by the downloader (`classify_error`: bot_check,
http_403, http_429, unavailable, private, other) and stored on the item. Bot checks,
429s and 403s are YouTube telling us to slow down; retrying at once makes it worse
(and can get the server's address flagged). So when `youtube_breaker_threshold` of
them happen within `youtube_breaker_window_seconds`, the breaker opens: every worker
pauses its jobs (pause reason `YOUTUBE_PUSHBACK`) until the backoff has passed. The
backoff doubles with each opening in a row (capped at 6 hours) and starts over once an
item downloads again. Admins see the state and why in `GET /api/admin/system`.

The state is one system_settings row, updated under a row lock (PostgreSQL) or
SQLite's single writer, so workers in several processes share one breaker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from medianest.core.events import publish
from medianest.core.logging import get_logger
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.platform.models import SystemSetting
from medianest.settings import Settings
from medianest.youtube.cookies import store as youtube_cookies
from medianest.youtube.events import QueueBreakerChanged
from medianest.youtube.ytdlp.downloader import classify_error

log = get_logger(__name__)

BREAKER_KEY = "youtube_queue_breaker"
PUSHBACK_KINDS = frozenset({"bot_check", "http_429", "http_403"})
KIND_LABELS = {
    "bot_check": "bot check",
    "http_429": "HTTP 429",
    "http_403": "HTTP 403",
    "unavailable": "unavailable",
    "private": "private",
    "other": "other",
}
MAX_BACKOFF_SECONDS = 6 * 3600.0
PAUSE_REASON = "YOUTUBE_PUSHBACK"

__all__ = [
    "PUSHBACK_KINDS",
    "BreakerState",
    "advice",
    "classify_error",
    "current",
    "record_outcome",
]


@dataclass(frozen=True)
class BreakerState:
    open: bool
    until: datetime | None = None
    opened_at: datetime | None = None
    reason: str | None = None
    openings: int = 0
    recent_errors: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    bot_checks: int = 0  # in the series that opened it last
    cookies_generation: str | None = None  # the YouTube cookies set when it opened, if any

    @property
    def seconds_left(self) -> float:
        if not self.open or self.until is None:
            return 0.0
        return max(0.0, (self.until - utcnow()).total_seconds())


def _parse_time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _state(value: Any, now: datetime) -> BreakerState:
    data = value if isinstance(value, dict) else {}
    until = _parse_time(data.get("until"))
    events = data.get("events") or []
    counts: dict[str, int] = {}
    for _, kind in events:
        counts[kind] = counts.get(kind, 0) + 1
    return BreakerState(
        open=until is not None and until > now,
        until=until,
        opened_at=_parse_time(data.get("openedAt")),
        reason=data.get("reason"),
        openings=int(data.get("openings") or 0),
        recent_errors=len(events),
        counts=counts,
        bot_checks=int(data.get("botChecks") or 0),
        cookies_generation=data.get("cookiesGeneration"),
    )


async def current(session: AsyncSession) -> BreakerState:
    row = await session.get(SystemSetting, BREAKER_KEY)
    return _state(row.value if row else None, utcnow())


async def _locked_row(session: AsyncSession) -> SystemSetting:
    row = await session.scalar(
        select(SystemSetting).where(SystemSetting.key == BREAKER_KEY).with_for_update()
    )
    if row is None:
        row = SystemSetting(key=BREAKER_KEY, value={})
        session.add(row)
        await session.flush()
    return row


async def record_outcome(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, kind: str | None
) -> BreakerState | None:
    """Count one item's outcome (`kind` None = downloaded); opens the breaker when due."""
    if kind is not None and kind not in PUSHBACK_KINDS:
        return None
    async with session_scope(session_factory) as session:
        if kind is None:
            # A success ends a series of openings; only write when there is one to end.
            state = await current(session)
            if state.open or (state.openings == 0 and state.recent_errors == 0):
                return state
            row = await _locked_row(session)
            row.value = {**(row.value or {}), "openings": 0, "events": []}
            if state.openings:  # the first download after a pause: YouTube lets us again
                closed = QueueBreakerChanged(
                    opened=False, opened_at=(row.value or {}).get("openedAt")
                )
                await publish(session, closed)
            return _state(row.value, utcnow())
        return await _count_pushback(session, settings, kind)


async def _count_pushback(session: AsyncSession, settings: Settings, kind: str) -> BreakerState:
    now = utcnow()
    row = await _locked_row(session)
    data: dict[str, Any] = dict(row.value or {})
    window_start = now - timedelta(seconds=settings.youtube_breaker_window_seconds)
    events = [
        [at, k] for at, k in data.get("events") or [] if (_parse_time(at) or now) >= window_start
    ]
    events.append([now.isoformat(), kind])
    events = events[-max(settings.youtube_breaker_threshold, 1) :]
    data["events"] = events
    state = _state(data, now)
    if not state.open and len(events) >= settings.youtube_breaker_threshold:
        openings = state.openings
        backoff = min(MAX_BACKOFF_SECONDS, settings.youtube_breaker_backoff_seconds * (2**openings))
        summary = ", ".join(f"{KIND_LABELS[k]}: {n}" for k, n in sorted(state.counts.items()))
        cookies = await youtube_cookies.cookies_status(session)
        data.update(
            botChecks=state.counts.get("bot_check", 0),
            cookiesGeneration=cookies.generation,
            openedAt=now.isoformat(),
            until=(now + timedelta(seconds=backoff)).isoformat(),
            openings=openings + 1,
            events=[],
            reason=(
                f"YouTube pushed back {len(events)} times within "
                f"{settings.youtube_breaker_window_seconds:g} s ({summary}); downloads pause "
                f"for {backoff:g} s"
            ),
        )
        log.warning("youtube_queue_breaker_opened", backoff_seconds=backoff, counts=state.counts)
        opened = QueueBreakerChanged(opened=True, opened_at=data["openedAt"], reason=data["reason"])
        await publish(session, opened)
    row.value = data
    return _state(data, now)


async def close(session: AsyncSession) -> None:
    """An admin ends the pause now (the history of openings is kept)."""
    row = await _locked_row(session)
    data = dict(row.value or {})
    data.update(until=None, events=[])
    row.value = data
    await publish(session, QueueBreakerChanged(opened=False, opened_at=data.get("openedAt")))


def advice(state: BreakerState, cookies: youtube_cookies.CookiesStatus) -> str | None:
    """What the admin can do about an open breaker that bot checks opened ("Sign in to
    confirm you're not a bot", or "... your age": yt-dlp's answer to both is cookies of a
    signed-in browser, `_youtube_login_hint` in `yt_dlp/extractor/youtube/_base.py`)."""
    if not state.open or state.bot_checks == 0:
        return None
    resume = "then resume downloads"
    if cookies.set and cookies.generation != state.cookies_generation:
        return (
            "New YouTube cookies were saved after this pause began: resume downloads to try them."
        )
    if state.cookies_generation is None:
        return (
            "YouTube wants MediaNest to sign in. Set YouTube cookies (exported from a browser "
            f"signed in to YouTube, in a private window), {resume}."
        )
    if not cookies.set:
        return f"The YouTube cookies in use were removed: set fresh ones, {resume}."
    return (
        "YouTube refused the YouTube cookies that are set: export fresh ones (in a private "
        f"window, then close it), save them, {resume}."
    )
