"""Notification fixtures: app settings with a fast delivery worker (pointing at the Plex
and Overseerr simulators), and the real receivers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator, PlexSimulator, PlexTvSimulator
from medianest_simulators.overseerr_data import API_KEY as OVERSEERR_API_KEY
from medianest_simulators.plextv_models import ALICE_TOKEN, OWNER_TOKEN
from tests.factories.users import create_user
from tests.notifications.receivers import HttpReceiver, SmtpReceiver
from tests.support.served_apps import Storage, carol, listeners, serve, storage_of

__all__ = ["carol", "listeners", "serve"]  # the shared fixtures of served apps

WEBHOOK_SECRET = "overseerr-hook-secret-for-notification-tests"

FAST_WORKER: dict[str, Any] = {
    "run_notification_worker": True,
    "notification_poll_seconds": 0.1,
    "notification_retry_base_seconds": 0.2,
    "notification_retry_max_seconds": 0.5,
    "notifications_allow_private_hosts": True,  # the receivers live on 127.0.0.1
}


@pytest.fixture
def notify_settings(
    make_settings: Callable[..., Settings],
    plex: PlexSimulator,
    plex_shares: PlexTvSimulator,
    overseerr: OverseerrSimulator,
) -> Callable[..., Settings]:
    """Plex following plex.tv's shares: a user's links are looked up in their own view."""

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "plex_url": plex.url,
            "plex_token": OWNER_TOKEN,
            "plex_tv_url": plex_shares.url,
            "overseerr_url": overseerr.url,
            "overseerr_api_key": OVERSEERR_API_KEY,
            "overseerr_webhook_secret": WEBHOOK_SECRET,
            # This Overseerr is not set up with a Plex server (its import of alice would
            # fail): people it has no user for request as its admin, as an admin may choose.
            "overseerr_new_people": "as_admin",
            **FAST_WORKER,
        }
        return make_settings(**(values | overrides))

    return factory


@pytest.fixture
def settings(notify_settings: Callable[..., Settings]) -> Settings:
    return notify_settings()


@pytest.fixture
async def alice(app: MediaNestApp) -> User:
    """A friend the server is shared with (her plex.tv token is the simulator's)."""
    return await create_user(app, "alice", plex_id="1002", plex_token=ALICE_TOKEN)


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    """The served apps' database, for factories and assertions (test_realtime.py)."""
    async with storage_of(settings) as storage:
        yield storage


@pytest.fixture
async def webhook() -> AsyncIterator[HttpReceiver]:
    receiver = await HttpReceiver().start()
    yield receiver
    await receiver.stop()


@pytest.fixture
async def push_service() -> AsyncIterator[HttpReceiver]:
    receiver = await HttpReceiver().start()
    receiver.answer = 201
    yield receiver
    await receiver.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    yield receiver
    receiver.stop()


def overseerr_payload(kind: str, *, request_id: int, tmdb_id: int, status: str) -> dict[str, Any]:
    """Overseerr's default webhook template about one movie request."""
    return {
        "notification_type": kind,
        "subject": "a movie",
        "media": {"media_type": "movie", "tmdbId": str(tmdb_id), "status": status},
        "request": {"request_id": str(request_id)},
    }


async def post_overseerr_hook(app: MediaNestApp, payload: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.post(
            "/api/webhooks/overseerr", json=payload, headers={"Authorization": WEBHOOK_SECRET}
        )
