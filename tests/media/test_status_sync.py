"""Status sync end to end: Overseerr's own webhook deliveries to a served app, the pushes
the owner receives over Socket.IO, and the periodic reconcile."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp, create_app
from medianest.auth.cookies import SESSION_COOKIE
from medianest.auth.models import User
from medianest.auth.sessions import store as session_store
from medianest.db.engine import session_scope
from medianest.media import sync
from medianest.media.models import MediaRequest
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator
from tests.factories.users import create_user, signed_in_client
from tests.media.conftest import WEBHOOK_SECRET
from tests.support.servers import ServedApp
from tests.support.socket_listener import Listener


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[ServedApp]:
    server = ServedApp(create_app(settings, run_migrations=False))
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


async def listen_as(app: MediaNestApp, user: User, url: str) -> Listener:
    async with session_scope(app.ctx.session_factory) as session:
        issued = await session_store.create_session(
            session, user=user, settings=app.ctx.settings, ip="127.0.0.1", user_agent="pytest"
        )
    return await Listener().connect(url, cookie=f"{SESSION_COOKIE}={issued.token}")


async def wait_for_status(
    app: MediaNestApp, request_id: str, status: str, timeout: float = 10.0
) -> MediaRequest:
    async with asyncio.timeout(timeout):
        while True:
            async with session_scope(app.ctx.session_factory) as session:
                row = await session.get(MediaRequest, uuid.UUID(request_id))
            if row is not None and row.status == status:
                return row
            await asyncio.sleep(0.05)


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_overseerr_webhook_deliveries_update_the_request_and_reach_only_the_owner(
    app: MediaNestApp,
    alice: User,
    bob: User,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
    served: ServedApp,
) -> None:
    alice_socket = await listen_as(app, alice, served.url)
    bob_socket = await listen_as(app, bob, served.url)
    try:
        made = await alice_client.post(
            "/api/media/request", json={"mediaType": "movie", "tmdbId": 400007}
        )
        request_id, overseerr_id = made.json()["data"]["id"], made.json()["data"]["overseerrId"]
        overseerr_sim.set_webhook(f"{served.url}/api/webhooks/overseerr", WEBHOOK_SECRET)
        await asyncio.to_thread(overseerr_sim.complete_request, overseerr_id)
        deliveries = await asyncio.to_thread(overseerr_sim.wait_for_deliveries, 2)
        assert [d["status"] for d in deliveries] == [200, 200]
        assert [d["payload"]["notification_type"] for d in deliveries] == [
            "MEDIA_APPROVED",
            "MEDIA_AVAILABLE",
        ]
        assert await alice_socket.wait_for("request:status", 2) == [
            {"requestId": request_id, "status": "processing"},
            {"requestId": request_id, "status": "available"},
        ]
        approved, available = await alice_socket.wait_for("notification", 2)
        assert approved["type"] == "info"
        assert available["type"] == "success"
        assert available["message"] == 'Your request for "Sprite Fright" is now available in Plex.'
        assert set(available) == {"type", "message", "timestamp"}
        await wait_for_status(app, request_id, "available")
        await asyncio.sleep(0.2)
        assert bob_socket.received("request:status") == []
        assert bob_socket.received("notification") == []
    finally:
        await alice_socket.client.disconnect()
        await bob_socket.client.disconnect()


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_overseerr_delivery_with_a_wrong_secret_is_refused(
    alice_client: httpx.AsyncClient,
    app: MediaNestApp,
    overseerr_sim: OverseerrSimulator,
    served: ServedApp,
) -> None:
    made = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": 400007}
    )
    overseerr_sim.set_webhook(f"{served.url}/api/webhooks/overseerr", "not-the-secret")
    await asyncio.to_thread(
        overseerr_sim.set_request_status, made.json()["data"]["overseerrId"], "DECLINED"
    )
    (delivery,) = await asyncio.to_thread(overseerr_sim.wait_for_deliveries, 1)
    assert delivery["status"] == 401
    row = await wait_for_status(app, made.json()["data"]["id"], "pending")
    assert row.completed_at is None


async def test_overseerr_test_notification_is_accepted(
    overseerr_sim: OverseerrSimulator, served: ServedApp
) -> None:
    overseerr_sim.set_webhook(f"{served.url}/api/webhooks/overseerr", WEBHOOK_SECRET)
    overseerr_sim.send_test_notification()
    (delivery,) = await asyncio.to_thread(overseerr_sim.wait_for_deliveries, 1)
    assert delivery["status"] == 200


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_reconcile_pulls_changes_missed_by_the_webhook(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    movie = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": 400007}
    )
    show = await alice_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": 500003, "seasons": [1]}
    )
    untouched = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": 400006}
    )
    overseerr_sim.complete_request(movie.json()["data"]["overseerrId"])
    overseerr_sim.set_request_status(show.json()["data"]["overseerrId"], "DECLINED")
    assert await sync.reconcile(app.ctx) == 2
    statuses = {
        r["id"]: r["status"] for r in (await alice_client.get("/api/media/requests")).json()["data"]
    }
    assert statuses == {
        movie.json()["data"]["id"]: "available",
        show.json()["data"]["id"]: "declined",
        untouched.json()["data"]["id"]: "pending",
    }
    assert await sync.reconcile(app.ctx) == 0


async def test_reconcile_reaches_every_open_request_when_there_are_more_than_a_batch(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A home with more open requests than one round checks (200; 2 here): the rounds
    take turns over them. Before, each round took the 200 least recently changed, which
    stay unchanged while they wait, so newer requests were never asked about again."""
    monkeypatch.setattr(sync, "RECONCILE_BATCH", 2)
    made = [
        await alice_client.post("/api/media/request", json={"mediaType": "movie", "tmdbId": tmdb})
        for tmdb in (400003, 400004, 400005)
    ]
    assert all(answer.status_code == 201 for answer in made)
    newest = made[-1].json()["data"]
    overseerr_sim.complete_request(newest["overseerrId"])  # no webhook set: missed
    for _ in range(3):
        await sync.reconcile(app.ctx)
    assert (await wait_for_status(app, newest["id"], "available", 1.0)).completed_at is not None


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_reconcile_keeps_statuses_while_overseerr_is_down(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    made = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": 400007}
    )
    overseerr_sim.set_fault("error")
    with pytest.raises(Exception, match="Overseerr answered with an error"):
        await sync.reconcile(app.ctx)
    assert (await wait_for_status(app, made.json()["data"]["id"], "pending")).completed_at is None


@pytest.mark.housekeeping
async def test_background_reconcile_runs_at_start_and_then_periodically(
    app_factory: Callable[[Settings], Any],
    make_settings: Callable[..., Settings],
    settings: Settings,
    overseerr_sim: OverseerrSimulator,
) -> None:
    quick = settings.model_copy(update={"request_sync_interval_seconds": 0.2})
    app: MediaNestApp = await app_factory(quick)
    dave = await create_user(app, "dave", plex_id="1005")
    async with await signed_in_client(app, dave) as dave_client:
        made = await dave_client.post(
            "/api/media/request", json={"mediaType": "movie", "tmdbId": 400007}
        )
    overseerr_sim.complete_request(made.json()["data"]["overseerrId"])
    row = await wait_for_status(app, made.json()["data"]["id"], "available", timeout=5)
    assert row.completed_at is not None


async def test_a_request_status_this_version_does_not_know_leaves_the_history_as_it_was(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """A newer Overseerr or Seerr with a request status past COMPLETED (5), its media with
    a status past DELETED (7): the reconcile guesses nothing (before: "approved", or
    "available" by the media), and the history pages still answer."""
    made = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": 400007}
    )
    assert made.status_code == 201, made.text
    before = made.json()["data"]["status"]  # approved at once: "processing"
    upstream = overseerr_sim.media_requests[made.json()["data"]["overseerrId"]]
    with overseerr_sim.lock:
        upstream.status, upstream.media.status = 9, 8
    assert await sync.reconcile(app.ctx) == 0
    listed = await alice_client.get("/api/media/requests")
    assert [r["status"] for r in listed.json()["data"]] == [before]
    page = await alice_client.get("/media/requests", headers={"HX-Request": "true"})
    assert page.status_code == 200 and "Sprite Fright" in page.text
    with overseerr_sim.lock:  # a status it knows again: followed
        upstream.status, upstream.media.status = 2, 5
    assert await sync.reconcile(app.ctx) == 1
    assert (await alice_client.get("/api/media/requests")).json()["data"][0]["status"] == (
        "available"
    )
