"""The notifications page and the PWA pieces, through the same services as the API:
the centre, adding a channel (errors next to the field), "send test", quiet hours, the
manifest and the root-scoped service worker."""

from __future__ import annotations

import httpx

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.notifications import channels, preferences, service
from tests.notifications.receivers import HttpReceiver


async def test_the_page_shows_the_centre_and_the_bell(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        await service.notify(
            session, user_ids=[alice.id], event="download.finished", title="Clip done"
        )
    page = await alice_client.get("/notifications")
    assert page.status_code == 200
    assert "Clip done" in page.text and 'id="bell"' in page.text
    assert 'data-unread="1"' in page.text
    assert 'rel="manifest"' in page.text and "notifications.js" in page.text
    read = await alice_client.post("/notifications/read-all")
    assert read.status_code == 200 and 'data-unread="0"' in read.text


async def test_adding_a_channel_from_the_page_and_sending_a_test(
    alice_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    bad = await alice_client.post(
        "/notifications/channels", data={"url": "nonsense://x", "events": ["download.finished"]}
    )
    assert bad.status_code == 400 and "Apprise does not understand" in bad.text
    assert 'aria-invalid="true"' in bad.text
    url = f"json://127.0.0.1:{webhook.port}/page-secret-path"
    good = await alice_client.post(
        "/notifications/channels", data={"url": url, "events": ["download.finished"]}
    )
    assert good.status_code == 200 and "json://127.0.0.1" in good.text
    assert "page-secret-path" not in good.text
    channel_id = (await alice_client.get("/api/notifications/channels")).json()["data"][0]["id"]
    tested = await alice_client.post(f"/notifications/channels/{channel_id}/test")
    assert tested.status_code == 200 and "Test sent." in tested.headers["HX-Trigger"]
    assert (await webhook.wait_for(1))[0].json()["title"] == "MediaNest test"


async def test_quiet_hours_are_saved_and_bad_times_are_explained(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    bad = await alice_client.post(
        "/notifications/settings", data={"quietStart": "25:00", "quietEnd": "07:00"}
    )
    assert bad.status_code == 400 and "HH:MM" in bad.text
    half = await alice_client.post("/notifications/settings", data={"quietStart": "22:00"})
    assert half.status_code == 400 and "both ends" in half.text
    zone = await alice_client.post(
        "/notifications/settings",
        data={"quietStart": "22:00", "quietEnd": "07:00", "timezone": "Mars/Olympus"},
    )
    assert zone.status_code == 400
    saved = await alice_client.post(
        "/notifications/settings",
        data={
            "quietStart": "22:30",
            "quietEnd": "07:00",
            "timezone": "Europe/Berlin",
            "digest": "weekly",
        },
    )
    assert saved.status_code == 200 and 'value="22:30"' in saved.text
    async with session_scope(app.ctx.session_factory) as session:
        row = await preferences.load(session, user_id=alice.id)
    assert (row.quiet_start_minute, row.quiet_end_minute) == (22 * 60 + 30, 7 * 60)
    assert row.timezone == "Europe/Berlin" and row.digest == "weekly"


async def test_the_service_worker_and_manifest_are_served_from_the_root(
    client: httpx.AsyncClient,
) -> None:
    worker = await client.get("/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"].startswith("text/javascript")
    assert "showNotification" in worker.text
    manifest = await client.get("/manifest.webmanifest")
    assert (
        manifest.json()["start_url"] == "/dashboard" and manifest.json()["display"] == "standalone"
    )


async def test_the_page_needs_a_signed_in_user(client: httpx.AsyncClient) -> None:
    answer = await client.get("/notifications", follow_redirects=False)
    assert answer.status_code in (302, 303, 401)


async def test_events_left_out_of_the_centre_are_not_listed_but_still_sent(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    await alice_client.post(
        "/api/notifications/channels",
        json={"url": f"json://127.0.0.1:{webhook.port}/x", "events": ["download.finished"]},
    )
    kept = ["request.available", "download.failed"]
    saved = await alice_client.post(
        "/notifications/settings", data={"centreEvents": ["", *kept], "timezone": "UTC"}
    )
    assert saved.status_code == 200
    async with session_scope(app.ctx.session_factory) as session:
        assert (await preferences.load(session, user_id=alice.id)).centre_events == kept
        await service.notify(session, user_ids=[alice.id], event="download.finished", title="Quiet")
        await service.notify(session, user_ids=[alice.id], event="download.failed", title="Shown")
    items = (await alice_client.get("/api/notifications")).json()["data"]["items"]
    assert [i["title"] for i in items] == ["Shown"]
    assert (await webhook.wait_for(1))[0].json()["title"] == "Quiet"


async def test_the_page_and_the_api_share_the_test_limit_and_the_page_says_why(
    alice_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    url = f"json://127.0.0.1:{webhook.port}/limited"
    made = await alice_client.post("/api/notifications/channels", json={"url": url})
    channel_id = made.json()["data"]["id"]
    for _ in range(3):
        assert (
            await alice_client.post(f"/api/notifications/channels/{channel_id}/test")
        ).is_success
    htmx = {"HX-Request": "true"}
    for _ in range(channels.TESTS_PER_MINUTE - 3):
        tested = await alice_client.post(f"/notifications/channels/{channel_id}/test", headers=htmx)
        assert tested.status_code == 200 and "Test sent." in tested.headers["HX-Trigger"]
    refused = await alice_client.post(f"/notifications/channels/{channel_id}/test", headers=htmx)
    assert refused.status_code == 429
    assert channels.TESTS_LIMITED_MESSAGE in refused.text  # app.js shows it as a toast
    assert 'data-error-code="RATE_LIMIT_EXCEEDED"' in refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    assert len(webhook.received) == channels.TESTS_PER_MINUTE
