"""Every notification type the Overseerr simulator sends, as it sends it: the body is the
real default template rendered by the simulator (src/medianest_simulators/
overseerr_webhook.py), POSTed by the simulator itself to a served MediaNest. Each one
must be accepted by MediaNest's webhook parser (200, not 400) and leave the request in
the status its notification means, for a movie and for a series."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp, create_app
from medianest.db.engine import session_scope
from medianest.integrations.overseerr_models import NOTIFICATION_REQUEST_STATUS
from medianest.media.models import MediaRequest
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator
from tests.media.conftest import WEBHOOK_SECRET
from tests.support.servers import ServedApp

SPRITE_FRIGHT = 400007  # a movie nobody requested in the seed
RENDER_FARM = 500003  # a series nobody requested in the seed

Trigger = Callable[[OverseerrSimulator, int], None]


def approve_quietly_then_make_available(sim: OverseerrSimulator, overseerr_id: int) -> None:
    """MEDIA_AVAILABLE alone: the approval goes out while no webhook is set."""
    url, authorization = sim.webhook_url, sim.webhook_authorization
    sim.set_webhook(None)
    sim.set_request_status(overseerr_id, "APPROVED")
    sim.set_webhook(url, authorization)
    title = sim.media_requests[overseerr_id].media.title
    sim.set_media_status(title.media_type, title.tmdb_id, "AVAILABLE")


# notification type -> (what makes the simulator send it, our status afterwards)
NOTIFICATIONS: dict[str, tuple[Trigger, str]] = {
    "MEDIA_AUTO_APPROVED": (
        lambda sim, oid: sim.set_request_status(oid, "APPROVED", notify="MEDIA_AUTO_APPROVED"),
        "processing",
    ),
    "MEDIA_APPROVED": (lambda sim, oid: sim.set_request_status(oid, "APPROVED"), "processing"),
    "MEDIA_DECLINED": (lambda sim, oid: sim.set_request_status(oid, "DECLINED"), "declined"),
    "MEDIA_FAILED": (lambda sim, oid: sim.set_request_status(oid, "FAILED"), "failed"),
    "MEDIA_AVAILABLE": (approve_quietly_then_make_available, "available"),
}

REQUESTS: dict[str, dict[str, Any]] = {
    "movie": {"mediaType": "movie", "tmdbId": SPRITE_FRIGHT},
    "tv": {"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": [1]},
}


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[ServedApp]:
    server = ServedApp(create_app(settings, run_migrations=False))
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


async def stored(app: MediaNestApp, request_id: str) -> MediaRequest:
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(MediaRequest, uuid.UUID(request_id))
    assert row is not None
    return row


def assert_default_template(payload: dict[str, Any], kind: str, media_type: str) -> None:
    """The shape of Overseerr's default template: strings, and the media and request
    objects present for a request notification."""
    assert payload["notification_type"] == kind
    assert payload["media"]["media_type"] == media_type
    assert payload["request"]["request_id"].isdigit()
    assert payload["issue"] is None and payload["comment"] is None
    # `{{extra}}` becomes the notification's list of name/value pairs (seasons of a series).
    assert all(set(pair) == {"name", "value"} for pair in payload["extra"]), payload["extra"]
    nested = ("media", "request", "issue", "comment", "extra")
    flat = {k: v for k, v in payload.items() if k not in nested}
    flat |= payload["media"] | payload["request"]
    assert all(isinstance(value, str) for value in flat.values()), flat


async def make_request(client: httpx.AsyncClient, media_type: str) -> tuple[str, int]:
    made = await client.post("/api/media/request", json=REQUESTS[media_type])
    assert made.status_code == 201, made.text
    data = made.json()["data"]
    assert data["status"] == "pending"
    return data["id"], int(data["overseerrId"])


@pytest.mark.parametrize("media_type", sorted(REQUESTS))
@pytest.mark.parametrize("kind", sorted(NOTIFICATIONS))
@pytest.mark.usefixtures("alice_in_overseerr")
async def test_each_notification_the_simulator_sends_moves_the_request(
    kind: str,
    media_type: str,
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
    served: ServedApp,
) -> None:
    request_id, overseerr_id = await make_request(alice_client, media_type)
    overseerr_sim.set_webhook(f"{served.url}/api/webhooks/overseerr", WEBHOOK_SECRET)
    trigger, expected = NOTIFICATIONS[kind]
    await asyncio.to_thread(trigger, overseerr_sim, overseerr_id)
    (delivery,) = await asyncio.to_thread(overseerr_sim.wait_for_deliveries, 1)
    assert delivery["status"] == 200, delivery
    assert_default_template(delivery["payload"], kind, media_type)
    assert delivery["payload"]["request"]["request_id"] == str(overseerr_id)
    row = await stored(app, request_id)
    assert row.status == expected
    assert (row.completed_at is not None) == (expected in ("available", "declined", "failed"))


@pytest.mark.parametrize("media_type", sorted(REQUESTS))
@pytest.mark.usefixtures("alice_in_overseerr")
async def test_a_new_request_notification_is_accepted_and_leaves_it_pending(
    media_type: str,
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
    served: ServedApp,
) -> None:
    """MEDIA_PENDING goes out when the request reaches Overseerr."""
    overseerr_sim.set_webhook(f"{served.url}/api/webhooks/overseerr", WEBHOOK_SECRET)
    request_id, overseerr_id = await make_request(alice_client, media_type)
    (delivery,) = await asyncio.to_thread(overseerr_sim.wait_for_deliveries, 1)
    assert delivery["status"] == 200, delivery
    assert_default_template(delivery["payload"], "MEDIA_PENDING", media_type)
    assert delivery["payload"]["request"]["request_id"] == str(overseerr_id)
    assert (await stored(app, request_id)).status == "pending"


# Overseerr sends MEDIA_AUTO_REQUESTED for Plex-watchlist auto-requests, which the
# simulator does not model (see src/medianest_simulators/README-overseerr.md).
NOT_SENT_BY_THE_SIMULATOR = {"MEDIA_AUTO_REQUESTED"}


def test_every_notification_medianest_acts_on_has_a_delivery_test() -> None:
    """A notification type added to MediaNest's table needs a case above."""
    acted_on = set(NOTIFICATION_REQUEST_STATUS) - NOT_SENT_BY_THE_SIMULATOR
    assert acted_on == set(NOTIFICATIONS) | {"MEDIA_PENDING"}


@pytest.mark.parametrize("decision", ["APPROVED", "DECLINED", "FAILED"])
@pytest.mark.usefixtures("alice_in_overseerr")
async def test_a_notification_about_someone_elses_request_leaves_ours_alone(
    decision: str,
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
    served: ServedApp,
) -> None:
    """Overseerr notifies per request (entity/MediaRequest.ts sendNotification, with
    `request` set): bob asked for season 1 of the series in Overseerr itself, alice for
    season 2 through MediaNest. The admin deciding bob's request says nothing about
    alice's, which stays pending (a decline was final: the sync never looked again)."""
    made = await alice_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": [2]}
    )
    assert made.status_code == 201, made.text
    request_id = made.json()["data"]["id"]
    title = overseerr_sim.media_requests[int(made.json()["data"]["overseerrId"])].media
    bob = overseerr_sim.add_request(
        title, overseerr_sim.users[3], is4k=False, seasons=[1], extra={}
    )
    overseerr_sim.set_webhook(f"{served.url}/api/webhooks/overseerr", WEBHOOK_SECRET)
    await asyncio.to_thread(overseerr_sim.set_request_status, bob.id, decision)
    (delivery,) = await asyncio.to_thread(overseerr_sim.wait_for_deliveries, 1)
    assert delivery["status"] == 200, delivery
    assert delivery["payload"]["request"]["request_id"] == str(bob.id)
    assert delivery["payload"]["media"]["tmdbId"] == str(RENDER_FARM)
    row = await stored(app, request_id)
    assert (row.status, row.completed_at) == ("pending", None)
