"""Auth fixtures: the plex.tv simulator on loopback and apps pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plextv_models import OWNER_TOKEN
from tests.factories.users import make_client


@pytest.fixture
def plex_server(plex: PlexSimulator) -> PlexSimulator:
    return plex


@pytest.fixture
def plex_settings(
    make_settings: Callable[..., Settings], plextv: PlexTvSimulator, plex: PlexSimulator
) -> Callable[..., Settings]:
    """Settings for an app whose plex.tv and Plex server are the simulators (sign-in is
    then open to the server's people: plexowner, carol at home, friends alice and bob)."""

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "plex_tv_url": plextv.url,
            "plex_app_url": plextv.url,
            "plex_url": plex.url,
            "plex_token": OWNER_TOKEN,
            "http_retry_attempts": 1,
        }
        values.update(overrides)
        return make_settings(**values)

    return factory


@pytest.fixture
async def plex_app(
    app_factory: Callable[[Settings], Any], plex_settings: Callable[..., Settings]
) -> MediaNestApp:
    started: MediaNestApp = await app_factory(plex_settings())
    return started


@pytest.fixture
async def browser(plex_app: MediaNestApp) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous browser (keeps cookies) talking to the plex-enabled app."""
    async with make_client(plex_app) as client:
        yield client
