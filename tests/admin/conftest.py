"""Fixtures for the admin service-configuration tests: the simulators, and an app whose
services were seeded from the environment to point at them (as on a first start)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest_simulators.overseerr_data import API_KEY as OVERSEERR_KEY
from medianest_simulators.plextv_models import OWNER_TOKEN
from medianest_simulators.uptime_kuma import API_KEY as KUMA_KEY
from tests.factories.users import (
    create_user,
    htmx_client,
    prepare_bootstrap_admin,
    signed_in_client,
    token_client,
)

SECRETS = (OWNER_TOKEN, OVERSEERR_KEY, KUMA_KEY)


@pytest.fixture
def simulator_env(plex, overseerr, kuma, plextv) -> dict[str, Any]:
    return {
        "plex_tv_url": plextv.url,
        "plex_url": plex.url,
        "plex_token": OWNER_TOKEN,
        "overseerr_url": overseerr.url,
        "overseerr_api_key": OVERSEERR_KEY,
        "uptime_kuma_url": kuma.url,
        "uptime_kuma_api_key": KUMA_KEY,
    }


@pytest.fixture
async def seeded_app(
    app_factory: Callable[..., Any], make_settings: Callable[..., Any], simulator_env
) -> MediaNestApp:
    app: MediaNestApp = await app_factory(make_settings(**simulator_env))
    return app


@pytest.fixture
async def seeded_admin(seeded_app: MediaNestApp) -> AsyncIterator[httpx.AsyncClient]:
    admin = await prepare_bootstrap_admin(seeded_app)
    async with await signed_in_client(seeded_app, admin) as client:
        yield client


@pytest.fixture
async def seeded_user(seeded_app: MediaNestApp) -> AsyncIterator[httpx.AsyncClient]:
    carol = await create_user(seeded_app, "carol", plex_id="1009", plex_token="carol-plex-token")
    async with await signed_in_client(seeded_app, carol) as client:
        yield client


@pytest.fixture
async def browser(seeded_app: MediaNestApp) -> AsyncIterator[httpx.AsyncClient]:
    """The bootstrap admin's browser on the pages (htmx requests, CSRF as app.js sends it)."""
    client = await htmx_client(seeded_app, await prepare_bootstrap_admin(seeded_app))
    yield client
    await client.aclose()


@pytest.fixture
async def script(seeded_app: MediaNestApp) -> AsyncIterator[httpx.AsyncClient]:
    """A script calling the JSON API with the bootstrap admin's personal API token."""
    async with await token_client(seeded_app, await prepare_bootstrap_admin(seeded_app)) as client:
        yield client
