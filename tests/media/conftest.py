"""Media fixtures: one Overseerr and one Plex simulator per session (reset before each
test), and app settings pointing at them; the webhook secret is known to the tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator, PlexSimulator
from medianest_simulators.overseerr_data import API_KEY as OVERSEERR_API_KEY
from medianest_simulators.plextv_models import OWNER_TOKEN

WEBHOOK_SECRET = "overseerr-hook-secret-for-tests"


@pytest.fixture
def overseerr_sim(overseerr: OverseerrSimulator) -> OverseerrSimulator:
    return overseerr


@pytest.fixture
def plex_sim(plex: PlexSimulator) -> PlexSimulator:
    return plex


@pytest.fixture
def overseerr_new_people() -> str:
    """What a request of a Plex user Overseerr has no user for does. These tests are about
    other things and their Overseerr is not set up with a Plex server, so its import could
    not work: their people request as the API key's admin, as the admin may choose.
    test_overseerr_import.py (and the link tests) override it with the default, `import`."""
    return "as_admin"


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings],
    overseerr_sim: OverseerrSimulator,
    plex_sim: PlexSimulator,
    overseerr_new_people: str,
) -> Settings:
    return make_settings(
        overseerr_new_people=overseerr_new_people,
        overseerr_url=overseerr_sim.url,
        overseerr_api_key=OVERSEERR_API_KEY,
        overseerr_webhook_secret=WEBHOOK_SECRET,
        plex_url=plex_sim.url,
        plex_token=OWNER_TOKEN,
    )


@pytest.fixture
def hook(app: MediaNestApp) -> Callable[..., Any]:
    """POST a webhook payload to the app as Overseerr would (secret by default)."""

    async def post(
        payload: Any, *, authorization: str | None = WEBHOOK_SECRET, raw: bytes | None = None
    ) -> httpx.Response:
        headers = {"Authorization": authorization} if authorization is not None else {}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            if raw is not None:
                headers["Content-Type"] = "application/json"
                return await c.post("/api/webhooks/overseerr", content=raw, headers=headers)
            return await c.post("/api/webhooks/overseerr", json=payload, headers=headers)

    return post
