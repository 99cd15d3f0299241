"""Subscribing is one action: the page's form and the JSON API store the same
subscription (link, quality, interval, delivery, schedule) and refuse the same links."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.youtube.models import YoutubeSubscription
from medianest_simulators.media_server import MediaServerSimulator


async def _stored(app: MediaNestApp, user: User) -> list[dict[str, Any]]:
    async with session_scope(app.ctx.session_factory) as session:
        rows = await session.scalars(
            select(YoutubeSubscription).where(YoutubeSubscription.user_id == user.id)
        )
        return [
            {
                "url": row.url,
                "quality": row.quality,
                "interval": row.interval_hours,
                "delivery": row.delivery,
                "paused": row.paused,
                "due": row.next_check_at is not None,
            }
            for row in rows
        ]


async def test_the_page_and_the_api_subscribe_alike(
    app: MediaNestApp,
    alice: User,
    bob: User,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    media: MediaServerSimulator,
) -> None:
    by_api = await alice_client.post(
        "/api/youtube/subscriptions",
        json={"url": media.feed_url(), "quality": "720p", "intervalHours": 2},
    )
    assert by_api.status_code == 201, by_api.text
    by_page = await bob_client.post(
        "/youtube/subscriptions",
        data={"url": media.feed_url(), "quality": "720p", "intervalHours": "2"},
        headers={"HX-Request": "true"},
    )
    assert by_page.status_code == 200, by_page.text
    assert await _stored(app, alice) == await _stored(app, bob) != []
    # The same refusal, in the envelope and in the form.
    video = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
    refused_api = await alice_client.post("/api/youtube/subscriptions", json={"url": video})
    refused_page = await bob_client.post(
        "/youtube/subscriptions", data={"url": video}, headers={"HX-Request": "true"}
    )
    message = refused_api.json()["error"]["message"]
    assert refused_api.status_code == 400 and "not a single video" in message
    assert "not a single video" in refused_page.text
    assert len(await _stored(app, bob)) == 1
