"""Plex fixtures: one Plex simulator per session (reset before each test), settings
pointing at it, and a signed-in client that fails any test whose responses (body or
headers) ever carry the Plex token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from medianest.settings import Settings
from medianest_simulators import PlexSimulator
from medianest_simulators.plextv_models import OWNER_TOKEN


@pytest.fixture
def plex_sim(plex: PlexSimulator) -> PlexSimulator:
    return plex


@pytest.fixture
def settings(make_settings: Callable[..., Settings], plex_sim: PlexSimulator) -> Settings:
    return make_settings(plex_url=plex_sim.url, plex_token=OWNER_TOKEN)


async def refuse_token_leaks(response: httpx.Response) -> None:
    body = await response.aread()
    assert OWNER_TOKEN.encode() not in body, f"token in the body of {response.url}"
    for name, value in response.headers.items():
        assert OWNER_TOKEN not in value, f"token in header {name} of {response.url}"


@pytest.fixture
async def viewer(alice_client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Alice, signed in; every response is checked for the Plex token."""
    alice_client.event_hooks["response"].append(refuse_token_leaks)
    yield alice_client
