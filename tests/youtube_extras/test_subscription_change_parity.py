"""Changing a subscription is one action: pausing, resuming and changing the interval
from the subscriptions page store exactly what the same change through
`PATCH /api/youtube/subscriptions/{id}` stores, and both refuse strangers the same way."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx

from medianest.app import MediaNestApp
from medianest.db.engine import session_scope
from medianest.youtube.models import YoutubeSubscription
from medianest_simulators.media_server import MediaServerSimulator

PAGE = {"HX-Request": "1"}


async def _subscribe(client: httpx.AsyncClient, url: str) -> str:
    created = await client.post("/api/youtube/subscriptions", json={"url": url})
    assert created.status_code == 201, created.text
    subscription_id: str = created.json()["data"]["id"]
    return subscription_id


async def _stored(app: MediaNestApp, subscription_id: str) -> dict[str, Any]:
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(YoutubeSubscription, uuid.UUID(subscription_id))
        assert row is not None
        return {
            "paused": row.paused,
            "interval_hours": row.interval_hours,
            "quality": row.quality,
            "delivery": row.delivery,
            "next_check_at": row.next_check_at,
            "last_check_at": row.last_check_at,
        }


def _without_times(stored: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stored.items() if not isinstance(v, datetime)}


async def test_pausing_and_resuming_from_the_page_stores_what_the_api_stores(
    app: MediaNestApp, alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    by_page = await _subscribe(alice_client, media.feed_url())
    by_api = await _subscribe(alice_client, media.feed_url("second"))

    paused_page = await alice_client.post(f"/youtube/subscriptions/{by_page}/pause", headers=PAGE)
    paused_api = await alice_client.patch(
        f"/api/youtube/subscriptions/{by_api}", json={"paused": True}
    )
    assert paused_page.status_code == 200, paused_page.text
    assert 'data-state="paused"' in paused_page.text
    assert paused_api.status_code == 200, paused_api.text
    page_row, api_row = await _stored(app, by_page), await _stored(app, by_api)
    assert page_row["paused"] is True
    assert _without_times(page_row) == _without_times(api_row)

    resumed_page = await alice_client.post(f"/youtube/subscriptions/{by_page}/resume", headers=PAGE)
    resumed_api = await alice_client.patch(
        f"/api/youtube/subscriptions/{by_api}", json={"paused": False}
    )
    assert resumed_page.status_code == 200 and resumed_api.status_code == 200
    page_row, api_row = await _stored(app, by_page), await _stored(app, by_api)
    assert page_row["paused"] is False
    assert _without_times(page_row) == _without_times(api_row)


async def test_changing_the_interval_from_the_page_stores_what_the_api_stores(
    app: MediaNestApp, alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    by_page = await _subscribe(alice_client, media.feed_url())
    by_api = await _subscribe(alice_client, media.feed_url("second"))

    page = await alice_client.post(
        f"/youtube/subscriptions/{by_page}/interval", data={"intervalHours": "24"}, headers=PAGE
    )
    api = await alice_client.patch(
        f"/api/youtube/subscriptions/{by_api}", json={"intervalHours": 24}
    )
    assert page.status_code == 200, page.text
    assert api.status_code == 200, api.text
    assert "every 24 h" in page.text
    page_row, api_row = await _stored(app, by_page), await _stored(app, by_api)
    assert page_row["interval_hours"] == 24
    assert _without_times(page_row) == _without_times(api_row)
    # Never checked yet: both move the next check to a day after the change.
    assert abs((page_row["next_check_at"] - api_row["next_check_at"]).total_seconds()) < 60


async def test_an_interval_out_of_range_is_refused_by_page_and_api_and_nothing_changes(
    app: MediaNestApp, alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    subscription_id = await _subscribe(alice_client, media.feed_url())
    before = await _stored(app, subscription_id)
    for hostile in ("0.5", "100000", "soon", "1e400"):
        page = await alice_client.post(
            f"/youtube/subscriptions/{subscription_id}/interval",
            data={"intervalHours": hostile},
            headers=PAGE,
        )
        assert page.status_code == 422, (hostile, page.text)
        assert "Choose a listed interval." in page.text
    api = await alice_client.patch(
        f"/api/youtube/subscriptions/{subscription_id}", json={"intervalHours": 0.5}
    )
    assert api.status_code == 422
    assert api.json()["success"] is False
    assert await _stored(app, subscription_id) == before


async def test_strangers_get_404_and_anonymous_callers_401_from_page_and_api(
    app: MediaNestApp,
    client: httpx.AsyncClient,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    media: MediaServerSimulator,
) -> None:
    subscription_id = await _subscribe(alice_client, media.feed_url())
    before = await _stored(app, subscription_id)
    page = f"/youtube/subscriptions/{subscription_id}"
    api = f"/api/youtube/subscriptions/{subscription_id}"
    for path, data in ((f"{page}/pause", None), (f"{page}/interval", {"intervalHours": "24"})):
        assert (await bob_client.post(path, data=data, headers=PAGE)).status_code == 404
        anonymous = await client.post(path, data=data, headers=PAGE)
        # htmx is sent to the sign-in page; nothing is done.
        assert anonymous.status_code == 204, anonymous.text
        assert anonymous.headers["HX-Redirect"].startswith("/login")
    assert (await bob_client.patch(api, json={"paused": True})).status_code == 404
    assert (await client.patch(api, json={"paused": True})).status_code == 401
    assert await _stored(app, subscription_id) == before


async def _exists(app: MediaNestApp, subscription_id: str) -> bool:
    async with session_scope(app.ctx.session_factory) as session:
        return await session.get(YoutubeSubscription, uuid.UUID(subscription_id)) is not None


async def test_unsubscribing_from_the_page_removes_what_the_api_removes(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    media: MediaServerSimulator,
) -> None:
    by_page = await _subscribe(alice_client, media.feed_url())
    by_api = await _subscribe(alice_client, media.feed_url("second"))
    # A stranger's attempt changes nothing, from either side.
    assert (
        await bob_client.delete(f"/youtube/subscriptions/{by_page}", headers=PAGE)
    ).status_code == 404
    assert (await bob_client.delete(f"/api/youtube/subscriptions/{by_api}")).status_code == 404
    assert await _exists(app, by_page) and await _exists(app, by_api)

    page = await alice_client.delete(f"/youtube/subscriptions/{by_page}", headers=PAGE)
    api = await alice_client.delete(f"/api/youtube/subscriptions/{by_api}")
    assert page.status_code == 200 and api.status_code == 204
    assert not await _exists(app, by_page) and not await _exists(app, by_api)
