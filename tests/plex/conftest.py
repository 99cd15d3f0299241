"""Plex fixtures: one Plex simulator per session (reset before each test), a plex.tv
simulator that lists its shares (the Plex simulator takes its shared users, their
tokens and libraries from it, as Plex Media Server does), settings pointing at both,
users whose Plex tokens are plex.tv's (alice, bob: friends the server is shared with;
carol: a Home member), and a signed-in client that fails any test whose responses (body
or headers) ever carry the Plex token."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.settings import Settings
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plextv_models import (
    ALICE_SERVER_TOKEN,
    ALICE_TOKEN,
    BOB_SERVER_TOKEN,
    BOB_TOKEN,
    OWNER_TOKEN,
)
from tests.factories.users import create_user


@pytest.fixture
def plex_sim(plex: PlexSimulator, plex_shares: PlexTvSimulator) -> PlexSimulator:
    return plex


@pytest.fixture
def make_settings(
    make_settings: Callable[..., Settings], plextv: PlexTvSimulator
) -> Callable[..., Settings]:
    """Settings whose plex.tv is the simulator (users' server tokens come from it)."""

    def factory(**overrides: Any) -> Settings:
        return make_settings(**({"plex_tv_url": plextv.url} | overrides))

    return factory


@pytest.fixture
def settings(make_settings: Callable[..., Settings], plex_sim: PlexSimulator) -> Settings:
    return make_settings(plex_url=plex_sim.url, plex_token=OWNER_TOKEN)


@pytest.fixture
async def alice(app: MediaNestApp) -> User:
    return await create_user(app, "alice", plex_id="1002", plex_token=ALICE_TOKEN)


@pytest.fixture
async def bob(app: MediaNestApp) -> User:
    return await create_user(app, "bob", plex_id="1003", plex_token=BOB_TOKEN)


async def refuse_token_leaks(response: httpx.Response) -> None:
    body = await response.aread()
    for token in (OWNER_TOKEN, ALICE_SERVER_TOKEN, BOB_SERVER_TOKEN):
        assert token.encode() not in body, f"token in the body of {response.url}"
        for name, value in response.headers.items():
            assert token not in value, f"token in header {name} of {response.url}"


@pytest.fixture
async def viewer(alice_client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Alice, signed in; every response is checked for the Plex token."""
    alice_client.event_hooks["response"].append(refuse_token_leaks)
    yield alice_client
