"""Quiet hours in the user's own time zone (including windows across midnight and a
daylight-saving day), and the centre keeping 30 days of history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.notifications import service
from medianest.notifications.models import Notification
from medianest.notifications.quiet_hours import next_allowed


@dataclass
class Window:
    quiet_start_minute: int | None
    quiet_end_minute: int | None
    timezone: str = "UTC"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_outside_the_window_messages_go_at_once() -> None:
    now = at("2026-12-04T12:00:00")
    assert next_allowed(Window(22 * 60, 7 * 60), now) == now
    assert next_allowed(Window(None, None), now) == now
    assert next_allowed(None, now) == now


def test_a_window_across_midnight_holds_until_its_end_the_next_morning() -> None:
    assert next_allowed(Window(22 * 60, 7 * 60), at("2026-12-04T23:30:00")) == at(
        "2026-12-05T07:00:00"
    )
    assert next_allowed(Window(22 * 60, 7 * 60), at("2026-12-05T06:59:00")) == at(
        "2026-12-05T07:00:00"
    )


def test_the_window_is_in_the_users_time_zone() -> None:
    berlin = Window(22 * 60, 7 * 60, "Europe/Berlin")  # UTC+1 in December
    # 21:30 UTC is 22:30 in Berlin: held until 07:00 Berlin = 06:00 UTC.
    assert next_allowed(berlin, at("2026-12-04T21:30:00")) == at("2026-12-05T06:00:00")
    assert next_allowed(berlin, at("2026-12-04T20:30:00")) == at("2026-12-04T20:30:00")
    # The night summer time ends (Oct 25th 2026): 07:00 local is 06:00 UTC again.
    assert next_allowed(berlin, at("2026-10-24T23:00:00")) == at("2026-10-25T06:00:00")


async def test_the_centre_keeps_thirty_days_and_older_rows_are_pruned(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        for age_days, title in ((40, "old"), (29, "recent"), (0, "today")):
            (row,) = await service.notify(
                session, user_ids=[alice.id], event="download.finished", title=title
            )
            row.created_at = datetime.now(UTC) - timedelta(days=age_days)
    titles = [
        i["title"] for i in (await alice_client.get("/api/notifications")).json()["data"]["items"]
    ]
    assert titles == ["today", "recent"]
    # The delivery loop prunes too, on its own schedule: it may have taken the old row first.
    async with session_scope(app.ctx.session_factory) as session:
        stored = await session.scalar(select(func.count()).select_from(Notification))
        assert await service.prune_history(session) == stored - 2
        assert await session.scalar(select(func.count()).select_from(Notification)) == 2
