"""Media fixtures: one Overseerr and one Plex simulator per session (reset before each
test), and app settings pointing at them; the webhook secret is known to the tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest.simulators import OverseerrSimulator, PlexSimulator
from medianest.simulators.overseerr_data import API_KEY as OVERSEERR_API_KEY
from medianest.simulators.plextv_models import OWNER_TOKEN

WEBHOOK_SECRET = "overseerr-hook-secret-for-tests"


@pytest.fixture(scope="session")
def _overseerr_session() -> Iterator[OverseerrSimulator]:
    with OverseerrSimulator() as sim:
        yield sim


@pytest.fixture(scope="session")
def _plex_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlexSimulator]:
    with PlexSimulator(youtube_dir=tmp_path_factory.mktemp("youtube")) as sim:
        yield sim


@pytest.fixture
def overseerr_sim(_overseerr_session: OverseerrSimulator) -> OverseerrSimulator:
    _overseerr_session.reset()
    return _overseerr_session


@pytest.fixture
def plex_sim(_plex_session: PlexSimulator) -> PlexSimulator:
    _plex_session.reset()
    return _plex_session


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings],
    overseerr_sim: OverseerrSimulator,
    plex_sim: PlexSimulator,
) -> Settings:
    return make_settings(
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
