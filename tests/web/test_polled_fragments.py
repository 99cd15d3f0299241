"""What a page polls is answered 304 while nothing in it changed: the pages write when
something happened (`<time data-relative>`, `<time data-countdown-until>`), and app.js
says how long ago or how long until. Text such as "12 s ago" or "in 4 min 10 s" made
every answer new bytes, and the subscriptions list, polled every 15 s, was sent whole
every time. The response cache is off here: each answer is rendered anew."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.youtube.models import YoutubeSubscription

HTMX = {"HX-Request": "true", "Accept": "text/html"}


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(response_cache_seconds=0)


async def _subscribe(app: MediaNestApp, user: User) -> YoutubeSubscription:
    """A subscription checked 12 s ago and due again in 4 min 10 s."""
    now = utcnow()
    row = YoutubeSubscription(
        user_id=user.id,
        url="https://www.youtube.com/playlist?list=PL0123456789",
        title="Weekend cooking",
        interval_hours=1.0,
        last_check_at=now - timedelta(seconds=12),
        next_check_at=now + timedelta(minutes=4, seconds=10),
    )
    async with session_scope(app.ctx.session_factory) as session:
        session.add(row)
    return row


async def test_the_polled_subscription_list_is_not_modified_a_second_later(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    row = await _subscribe(app, alice)
    first = await alice_client.get("/youtube/subscriptions/list", headers=HTMX)
    assert first.status_code == 200, first.text
    assert "Weekend cooking" in first.text
    # The moments themselves, for app.js to count from; no age and no time left.
    assert row.next_check_at is not None and row.last_check_at is not None
    next_check = row.next_check_at.strftime("%Y-%m-%dT%H:%M:%S")
    assert re.search(
        rf'data-countdown-until="{next_check}[^"]*" data-countdown-prefix="in "', first.text
    )
    last_check = row.last_check_at.strftime("%Y-%m-%dT%H:%M:%S")
    assert re.search(rf'<time data-relative datetime="{last_check}[^"]*">', first.text)
    assert not re.search(r"\d+ (s|min) ago|in \d+ min", first.text)

    await asyncio.sleep(1.1)  # every count in seconds has moved on
    again = await alice_client.get(
        "/youtube/subscriptions/list", headers={**HTMX, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


async def test_a_changed_subscription_list_is_sent_again(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    """The tag follows what the list says: a row changed by the scheduler is a new list."""
    row = await _subscribe(app, alice)
    first = await alice_client.get("/youtube/subscriptions/list", headers=HTMX)
    async with session_scope(app.ctx.session_factory) as session:
        stored = await session.get(YoutubeSubscription, row.id)
        assert stored is not None
        stored.items_found = 3
    again = await alice_client.get(
        "/youtube/subscriptions/list", headers={**HTMX, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 200
    assert again.headers["etag"] != first.headers["etag"]
    assert 'data-field="items-found">3<' in again.text


async def test_a_due_subscription_says_so_without_a_countdown(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    row = await _subscribe(app, alice)
    async with session_scope(app.ctx.session_factory) as session:
        stored = await session.get(YoutubeSubscription, row.id)
        assert stored is not None
        stored.next_check_at = utcnow() - timedelta(seconds=1)
    listed = await alice_client.get("/youtube/subscriptions/list", headers=HTMX)
    assert 'data-field="next-check">due now' in listed.text
    assert "data-countdown-until" not in listed.text
