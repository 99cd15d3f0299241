"""The in-app centre: events written with their cause, listed newest first with an unread
count, marked read (only the caller's), and a request that became available carrying a
link that opens the item in the Plex web app."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import func, select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.media.models import MediaRequest
from medianest.notifications import service
from medianest.notifications.models import Notification, NotificationDelivery
from medianest_simulators import PlexSimulator
from medianest_simulators.plex_seed import MOVIES_SECTION
from tests.notifications.conftest import overseerr_payload, post_overseerr_hook


async def notify(
    app: MediaNestApp, user: User, title: str, event: str = "download.finished"
) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        await service.notify(session, user_ids=[user.id], event=event, title=title)


async def centre(client: httpx.AsyncClient, **params: object) -> dict:
    answer = await client.get("/api/notifications", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


async def test_the_centre_lists_the_users_own_notifications_newest_first_with_the_unread_count(
    app: MediaNestApp, alice: User, bob: User, alice_client: httpx.AsyncClient
) -> None:
    for n in range(3):
        await notify(app, alice, f"alice {n}")
    await notify(app, bob, "bob's")
    data = await centre(alice_client)
    assert [item["title"] for item in data["items"]] == ["alice 2", "alice 1", "alice 0"]
    assert data["unread"] == 3
    assert all(item["readAt"] is None for item in data["items"])


async def test_marking_read_changes_only_the_callers_notifications(
    app: MediaNestApp,
    alice: User,
    bob: User,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
) -> None:
    await notify(app, alice, "first")
    await notify(app, alice, "second")
    await notify(app, bob, "bob's")
    alice_items = (await centre(alice_client))["items"]
    bob_item = (await centre(bob_client))["items"][0]

    # Bob marking Alice's id (and his own) read touches only his.
    answer = await bob_client.post(
        "/api/notifications/read", json={"ids": [alice_items[0]["id"], bob_item["id"]]}
    )
    assert answer.json()["data"] == {"unread": 0}
    assert (await centre(alice_client))["unread"] == 2

    answer = await alice_client.post(
        "/api/notifications/read", json={"ids": [alice_items[1]["id"]]}
    )
    assert answer.json()["data"] == {"unread": 1}
    assert (await alice_client.post("/api/notifications/read", json={"all": True})).json()[
        "data"
    ] == {"unread": 0}
    assert [i["title"] for i in (await centre(alice_client, unread="true"))["items"]] == []


async def test_mark_read_rejects_bad_bodies_with_a_400(alice_client: httpx.AsyncClient) -> None:
    for body in ({}, {"all": True, "ids": []}, {"ids": ["not-a-uuid"]}, {"all": True, "x": 1}):
        answer = await alice_client.post("/api/notifications/read", json=body)
        assert answer.status_code in (400, 422), (body, answer.status_code)
        assert answer.json()["success"] is False


async def test_unknown_events_are_refused_by_the_service(app: MediaNestApp, alice: User) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        try:
            await service.notify(session, user_ids=[alice.id], event="nope", title="x")
        except ValueError:
            pass
        else:
            raise AssertionError("an unknown event was recorded")


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_a_request_made_available_notifies_its_owner_with_a_plex_link(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, plex: PlexSimulator
) -> None:
    made = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": 400004}
    )
    assert made.status_code == 201, made.text
    request = made.json()["data"]
    for kind, status in (("MEDIA_APPROVED", "PROCESSING"), ("MEDIA_AVAILABLE", "AVAILABLE")):
        payload = overseerr_payload(
            kind, request_id=request["overseerrId"], tmdb_id=400004, status=status
        )
        assert (await post_overseerr_hook(app, payload)).status_code == 200

    async with asyncio.timeout(5):
        while True:
            items = (await centre(alice_client))["items"]
            if items and items[0]["link"]:
                break
            await asyncio.sleep(0.05)
    assert [i["title"] for i in items] == [
        "“Caminandes: Llamigos” is now available in Plex",
        "“Caminandes: Llamigos” was approved",
    ]
    movie = next(
        i for i in plex.items_in_section(MOVIES_SECTION) if i["title"] == "Caminandes: Llamigos"
    )
    link = unquote(items[0]["link"])
    assert link.startswith("http://127.0.0.1:9/desktop/#!/server/")
    assert (
        f"/server/{plex.machine_identifier}/details?key=/library/metadata/{movie['ratingKey']}"
        in link
    )


async def test_the_notification_is_written_in_the_events_transaction(
    app: MediaNestApp, alice: User
) -> None:
    # An event rolled back leaves no notification and nothing in the outbox.
    try:
        async with session_scope(app.ctx.session_factory) as session:
            session.add(
                MediaRequest(user_id=alice.id, title="Rolled back", media_type="movie", tmdb_id=1)
            )
            await service.notify(session, user_ids=[alice.id], event="request.failed", title="x")
            raise RuntimeError("the event fails after the notification was added")
    except RuntimeError:
        pass
    async with session_scope(app.ctx.session_factory) as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 0
        assert await session.scalar(select(func.count()).select_from(NotificationDelivery)) == 0


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_approved_is_announced_once_even_when_processing_follows(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    made = (
        await alice_client.post("/api/media/request", json={"mediaType": "movie", "tmdbId": 400007})
    ).json()["data"]
    for status in ("PENDING", "PROCESSING"):
        payload = overseerr_payload(
            "MEDIA_APPROVED", request_id=made["overseerrId"], tmdb_id=400007, status=status
        )
        await post_overseerr_hook(app, payload)
    titles = [i["title"] for i in (await centre(alice_client))["items"]]
    assert titles == ["“Sprite Fright” was approved"]
    assert uuid.UUID(made["id"])
