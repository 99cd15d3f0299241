"""The delivery worker against real receivers: a JSON webhook and an SMTP server through
Apprise, a channel that is down (retried with backoff, delivered once when it is back),
two instances sharing one database (each message sent once), household channels once
per event, and quiet hours holding outside channels but not the centre."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.notifications import service
from medianest.notifications.models import (
    DeliveryStatus,
    NotificationDelivery,
    NotificationSettings,
)
from medianest.settings import Settings
from tests.factories.users import create_user, signed_in_client
from tests.notifications.conftest import overseerr_payload, post_overseerr_hook
from tests.notifications.receivers import HttpReceiver, SmtpReceiver


async def add_channel(client: httpx.AsyncClient, url: str, events: list[str], **more: Any) -> str:
    answer = await client.post(
        "/api/notifications/channels", json={"url": url, "events": events, **more}
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["data"]["id"])


async def notify(
    app: MediaNestApp, user: User, title: str, event: str = "download.finished"
) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        await service.notify(
            session, user_ids=[user.id], event=event, title=title, body=f"{title}!"
        )


async def deliveries(app: MediaNestApp) -> list[NotificationDelivery]:
    async with session_scope(app.ctx.session_factory) as session:
        return list(await session.scalars(select(NotificationDelivery)))


async def test_a_request_made_available_reaches_the_centre_and_a_json_webhook_once_within_5s(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    await add_channel(alice_client, f"json://127.0.0.1:{webhook.port}/alice", ["request.available"])
    made = (
        await alice_client.post("/api/media/request", json={"mediaType": "movie", "tmdbId": 400004})
    ).json()["data"]
    started = asyncio.get_running_loop().time()
    payload = overseerr_payload(
        "MEDIA_AVAILABLE", request_id=made["overseerrId"], tmdb_id=400004, status="AVAILABLE"
    )
    assert (await post_overseerr_hook(app, payload)).status_code == 200
    received = await webhook.wait_for(1, timeout=5)
    elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 5
    message = received[0].json()
    assert message["title"] == "“Caminandes: Llamigos” is now available in Plex"
    assert "/desktop/#!/server/" in message["message"]  # the Plex link travels along
    centre = (await alice_client.get("/api/notifications")).json()["data"]
    assert centre["unread"] == 1
    await asyncio.sleep(1.0)  # a second round of the worker sends nothing more
    assert len(webhook.received) == 1
    assert {d.status for d in await deliveries(app)} == {DeliveryStatus.SENT}


async def test_apprise_email_reaches_a_real_smtp_server(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, smtp: SmtpReceiver
) -> None:
    url = (
        f"mailto://127.0.0.1:{smtp.port}?from=medianest@example.test"
        "&to=alice@example.test&mode=insecure"
    )
    await add_channel(alice_client, url, ["download.finished"])
    await notify(app, alice, "Your playlist finished downloading")
    messages = await smtp.wait_for(1)
    assert messages[0]["Subject"] == "Your playlist finished downloading"
    assert messages[0]["To"] == "alice@example.test"
    texts = [
        part.get_payload(decode=True).decode()
        for part in messages[0].walk()
        if part.get_content_type() == "text/plain"
    ]
    assert any("Your playlist finished downloading!" in text for text in texts)


async def test_a_channel_that_is_down_is_retried_and_gets_the_message_once_when_back(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    await add_channel(alice_client, f"json://127.0.0.1:{webhook.port}/a", ["download.failed"])
    webhook.answer = 503
    await notify(app, alice, "A download failed", event="download.failed")
    async with asyncio.timeout(10):
        while len(webhook.refused) < 2:
            await asyncio.sleep(0.02)
    pending = [d for d in await deliveries(app) if d.channel_id is not None]
    assert pending[0].status in (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    assert pending[0].attempts >= 1 and "503" in (pending[0].last_error or "")
    # Backoff: the retries are spaced out, not hammered.
    gaps = [b.at - a.at for a, b in zip(webhook.refused, webhook.refused[1:], strict=False)]
    assert all(gap >= 0.1 for gap in gaps)
    channels = (await alice_client.get("/api/notifications/channels")).json()["data"]
    assert channels[0]["lastStatus"] == "failed" and "503" in channels[0]["lastError"]

    webhook.answer = 200
    await webhook.wait_for(1, timeout=10)
    await asyncio.sleep(1.5)
    assert len(webhook.received) == 1
    sent = next(d for d in await deliveries(app) if d.channel_id is not None)
    assert sent.status == DeliveryStatus.SENT and sent.last_error is None


async def test_a_channel_that_never_comes_back_ends_failed_with_its_reason(
    app_factory: Callable[[Settings], Any], settings: Settings, webhook: HttpReceiver
) -> None:
    # The only instance running (no `app` fixture), so its limit is the one that counts.
    app: MediaNestApp = await app_factory(
        settings.model_copy(update={"notification_max_attempts": 2})
    )
    alice = await create_user(app, "alice")
    async with await signed_in_client(app, alice) as client:
        await add_channel(client, f"json://127.0.0.1:{webhook.port}/a", ["download.failed"])
    webhook.answer = 500
    await notify(app, alice, "A download failed", event="download.failed")
    async with asyncio.timeout(10):
        while True:
            outside = [d for d in await deliveries(app) if d.channel_id is not None]
            if outside and outside[0].status == DeliveryStatus.FAILED:
                break
            await asyncio.sleep(0.05)
    assert outside[0].attempts == 2 and "500" in (outside[0].last_error or "")
    assert len(webhook.refused) == 2


async def test_two_instances_send_each_message_once(
    app_factory: Callable[[Settings], Any],
    settings: Settings,
    alice: User,
    webhook: HttpReceiver,
) -> None:
    first: MediaNestApp = await app_factory(settings)
    second: MediaNestApp = await app_factory(settings)
    assert first.ctx.instance_id != second.ctx.instance_id
    async with await signed_in_client(first, alice) as client:
        await add_channel(client, f"json://127.0.0.1:{webhook.port}/a", ["download.finished"])
    titles = [f"video {n}" for n in range(12)]
    for title in titles:
        await notify(first, alice, title)
    await webhook.wait_for(len(titles), timeout=20)
    await asyncio.sleep(1.5)  # time for any duplicate to arrive
    counts = Counter(r.json()["title"] for r in webhook.received)
    assert counts == Counter(titles)


async def test_household_channels_get_an_event_once_however_many_people_it_concerns(
    app: MediaNestApp,
    admin: User,
    alice: User,
    bob: User,
    admin_client: httpx.AsyncClient,
    webhook: HttpReceiver,
) -> None:
    await add_channel(
        admin_client, f"json://127.0.0.1:{webhook.port}/house", ["service.down"], household=True
    )
    async with session_scope(app.ctx.session_factory) as session:
        await service.notify_admins(session, event="service.down", title="Plex is down")
        # An event alice and bob share reaches each centre, the household once.
        await service.notify(
            session, user_ids=[alice.id, bob.id], event="service.down", title="Both"
        )
    await webhook.wait_for(2)
    await asyncio.sleep(1.0)
    assert sorted(r.json()["title"] for r in webhook.received) == ["Both", "Plex is down"]


async def test_quiet_hours_hold_outside_channels_but_not_the_centre(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    await add_channel(alice_client, f"json://127.0.0.1:{webhook.port}/a", ["download.finished"])
    now = utcnow()
    minute = now.hour * 60 + now.minute
    async with session_scope(app.ctx.session_factory) as session:
        session.add(
            NotificationSettings(
                user_id=alice.id,
                quiet_start_minute=(minute - 60) % 1440,
                quiet_end_minute=(minute + 60) % 1440,
                timezone="UTC",
            )
        )
    await notify(app, alice, "At night")
    centre = (await alice_client.get("/api/notifications")).json()["data"]
    assert [i["title"] for i in centre["items"]] == ["At night"]
    await asyncio.sleep(1.0)
    assert webhook.received == []
    held = next(d for d in await deliveries(app) if d.channel_id is not None)
    assert held.status == DeliveryStatus.PENDING
    assert timedelta(minutes=58) < held.next_attempt_at - now <= timedelta(minutes=61)


async def test_a_deleted_channel_drops_what_was_queued_for_it(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, webhook: HttpReceiver
) -> None:
    channel_id = await add_channel(
        alice_client, f"json://127.0.0.1:{webhook.port}/a", ["download.failed"]
    )
    webhook.answer = 503
    await notify(app, alice, "x", event="download.failed")
    async with asyncio.timeout(10):
        while not webhook.refused:
            await asyncio.sleep(0.02)
    assert (
        await alice_client.delete(f"/api/notifications/channels/{channel_id}")
    ).status_code == 204
    webhook.answer = 200
    await asyncio.sleep(1.0)
    assert webhook.received == []
    assert all(d.channel_id != uuid.UUID(channel_id) for d in await deliveries(app))
