"""Subscriptions API: who may do what (401/404), validation, limits, pause/resume, check now,
and the quota summary; no workers or scheduler run here."""

from __future__ import annotations

import uuid

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.youtube.downloads import service as youtube_service
from medianest.youtube.models import YoutubeSubscription
from medianest.youtube.subscriptions import service as subscriptions
from medianest_simulators.media_server import MediaServerSimulator

CHANNEL = "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv"


async def subscribe(client: httpx.AsyncClient, url: str, **extra: object) -> httpx.Response:
    return await client.post("/api/youtube/subscriptions", json={"url": url, **extra})


async def test_anonymous_callers_get_401_on_every_subscription_route(
    client: httpx.AsyncClient,
) -> None:
    some = f"/api/youtube/subscriptions/{uuid.uuid4()}"
    calls = [
        ("GET", "/api/youtube/subscriptions"),
        ("POST", "/api/youtube/subscriptions"),
        ("GET", some),
        ("PATCH", some),
        ("DELETE", some),
        ("POST", f"{some}/check"),
        ("GET", "/api/youtube/quota"),
    ]
    for method, path in calls:
        response = await client.request(method, path, json={"url": CHANNEL})
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_another_users_subscription_is_404_for_read_change_check_and_delete(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    created = await subscribe(alice_client, media.feed_url())
    assert created.status_code == 201, created.text
    path = f"/api/youtube/subscriptions/{created.json()['data']['id']}"

    assert (await bob_client.get(path)).status_code == 404
    assert (await bob_client.patch(path, json={"paused": True})).status_code == 404
    assert (await bob_client.post(f"{path}/check")).status_code == 404
    assert (await bob_client.delete(path)).status_code == 404
    assert (await bob_client.get("/api/youtube/subscriptions")).json()["data"] == []
    still = await alice_client.get(path)
    assert still.status_code == 200
    assert still.json()["data"]["paused"] is False


async def test_a_new_subscription_shows_its_schedule_and_is_due_at_once(
    alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    response = await subscribe(alice_client, media.feed_url(), intervalHours=2, quality="720p")
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["intervalHours"] == 2
    assert data["quality"] == "720p"
    assert data["lastCheckAt"] is None
    assert data["nextCheckAt"] is not None
    assert data["itemsFound"] == 0
    assert data["lastError"] is None
    listed = (await alice_client.get("/api/youtube/subscriptions")).json()["data"]
    assert [s["id"] for s in listed] == [data["id"]]


async def test_a_channel_link_becomes_its_uploads_playlist(
    alice_client: httpx.AsyncClient,
) -> None:
    response = await subscribe(alice_client, CHANNEL + "/videos")
    assert response.status_code == 201, response.text
    assert response.json()["data"]["url"] == (
        "https://www.youtube.com/playlist?list=UUabcdefghijklmnopqrstuv"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://example.com/feed.xml", "only YouTube links"),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "not a single video"),
        ("https://www.youtube.com/@somechannel", "/channel/UC"),
        ("http://127.0.0.1:1/feed.xml", "IP addresses"),
    ],
)
async def test_links_outside_the_allow_list_or_single_videos_are_refused(
    alice_client: httpx.AsyncClient, url: str, reason: str
) -> None:
    response = await subscribe(alice_client, url)
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]["message"]


async def test_an_interval_under_one_hour_is_refused(
    alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    response = await subscribe(alice_client, media.feed_url(), intervalHours=0.5)
    assert response.status_code == 422
    assert "intervalHours" in response.text


async def test_subscribing_to_the_same_link_twice_is_409(
    alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    assert (await subscribe(alice_client, media.feed_url())).status_code == 201
    again = await subscribe(alice_client, media.feed_url())
    assert again.status_code == 409
    assert "already subscribed" in again.json()["error"]["message"]


async def test_at_most_the_configured_number_of_subscriptions_per_user(
    app: MediaNestApp, alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    app.ctx.settings.youtube_max_subscriptions_per_user = 2
    for name in ("one", "two"):
        media.add_feed(name, name)
        assert (await subscribe(alice_client, media.feed_url(name))).status_code == 201
    media.add_feed("three", "three")
    refused = await subscribe(alice_client, media.feed_url("three"))
    assert refused.status_code == 409
    assert refused.json()["error"]["details"] == {"limit": 2}


async def test_pause_resume_interval_and_check_now(
    alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    created = (await subscribe(alice_client, media.feed_url())).json()["data"]
    path = f"/api/youtube/subscriptions/{created['id']}"

    paused = await alice_client.patch(path, json={"paused": True, "intervalHours": 12})
    assert paused.status_code == 200, paused.text
    assert paused.json()["data"]["paused"] is True
    assert paused.json()["data"]["intervalHours"] == 12
    refused = await alice_client.post(f"{path}/check")
    assert refused.status_code == 409
    assert "resume" in refused.json()["error"]["message"]

    resumed = await alice_client.patch(path, json={"paused": False, "delivery": "collection"})
    assert resumed.json()["data"]["paused"] is False
    assert resumed.json()["data"]["delivery"] == "collection"
    checked = await alice_client.post(f"{path}/check")
    assert checked.status_code == 202
    assert checked.json()["data"]["nextCheckAt"] <= checked.json()["meta"]["timestamp"]

    unknown_field = await alice_client.patch(path, json={"url": "https://x.test"})
    assert unknown_field.status_code == 422


async def test_deleting_a_subscription_removes_it(
    alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    created = (await subscribe(alice_client, media.feed_url())).json()["data"]
    path = f"/api/youtube/subscriptions/{created['id']}"
    assert (await alice_client.delete(path)).status_code == 204
    assert (await alice_client.get(path)).status_code == 404


async def test_the_quota_summary_is_unlimited_until_the_admin_sets_limits(
    alice_client: httpx.AsyncClient,
) -> None:
    response = await alice_client.get("/api/youtube/quota")
    assert response.status_code == 200
    names = {q["name"]: q for q in response.json()["data"]}
    assert set(names) == {"youtubeItemsPerDay", "youtubeGbPerWeek", "mediaRequestsPerWeek"}
    assert all(q["limit"] is None and q["remaining"] is None for q in names.values())


async def test_a_subscription_check_does_not_use_the_hourly_downloads_and_the_count_is_shown(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    limit = youtube_service.youtube_limit(app.ctx)
    page = await alice_client.get("/youtube", headers={"Accept": "text/html"})
    assert f"{limit} of {limit} downloads left this hour." in page.text
    created = (await subscribe(alice_client, media.feed_url())).json()["data"]
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(YoutubeSubscription, uuid.UUID(created["id"]))
        assert row is not None
        result = await subscriptions.check(session, ctx=app.ctx, subscription=row)
    assert result.download_id is not None, result  # the check queued the feed's items
    assert (await youtube_service.hourly_left(app.ctx, alice)).remaining == limit
    # A download started by hand counts, and the pages say what is left before the next.
    started = await alice_client.post(
        "/api/youtube/download", json={"url": media.item_url("sintel")}
    )
    assert started.status_code in (201, 202), started.text
    page = await alice_client.get("/youtube", headers={"Accept": "text/html"})
    assert f"{limit - 1} of {limit} downloads left this hour." in page.text
    dashboard = await alice_client.get("/dashboard", headers={"Accept": "text/html"})
    assert "Downloads this hour" in dashboard.text
    assert f"<dd>{limit - 1} of {limit}</dd>" in dashboard.text
