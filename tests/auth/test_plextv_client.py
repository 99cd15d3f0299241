"""The plex.tv client against the simulator: typed answers, 401 as a rejected token,
404 as an expired PIN, and health."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from medianest.integrations.http import ResilientClient
from medianest.integrations.plextv import PlexTokenRejected, PlexTvClient
from medianest.settings import Settings
from medianest_simulators import PlexTvSimulator
from medianest_simulators.plextv_models import ALICE_TOKEN, EVE_TOKEN, MACHINE_IDENTIFIER


@pytest.fixture
async def plextv_client(
    plex_settings: Callable[..., Settings], plextv: PlexTvSimulator
) -> AsyncIterator[PlexTvClient]:
    settings = plex_settings()
    http = ResilientClient("plextv", settings.plex_tv_url, settings=settings)
    yield PlexTvClient(http, client_identifier="test-client-id", settings=settings)
    await http.aclose()


async def test_a_strong_pin_is_created_and_read_back(
    plextv_client: PlexTvClient, plextv: PlexTvSimulator
) -> None:
    pin = await plextv_client.create_pin(strong=True)
    assert len(pin.code) > 4 and pin.auth_token is None
    plextv.approve_pin(pin.id, "alice")
    again = await plextv_client.get_pin(pin.id)
    assert again is not None and again.auth_token == ALICE_TOKEN
    assert plextv.requests("/api/v2/pins", "POST")[0].query == "strong=true"


async def test_an_expired_pin_reads_as_none(
    plextv_client: PlexTvClient, plextv: PlexTvSimulator
) -> None:
    pin = await plextv_client.create_pin()
    plextv.expire_pin(pin.id)
    assert await plextv_client.get_pin(pin.id) is None


async def test_account_and_resources_of_a_token(plextv_client: PlexTvClient) -> None:
    account = await plextv_client.get_account(ALICE_TOKEN)
    assert account.username == "alice" and account.email
    servers = [r for r in await plextv_client.resources(ALICE_TOKEN) if r.is_server]
    assert [s.client_identifier for s in servers] == [MACHINE_IDENTIFIER]
    eve_servers = await plextv_client.resources(EVE_TOKEN)
    assert MACHINE_IDENTIFIER not in [r.client_identifier for r in eve_servers]


async def test_a_revoked_token_is_rejected(
    plextv_client: PlexTvClient, plextv: PlexTvSimulator
) -> None:
    plextv.revoke_token(ALICE_TOKEN)
    with pytest.raises(PlexTokenRejected):
        await plextv_client.get_account(ALICE_TOKEN)


async def test_health_is_online_when_plex_tv_answers_and_offline_when_it_fails(
    plextv_client: PlexTvClient, plextv: PlexTvSimulator
) -> None:
    online = await plextv_client.health_check()
    assert online.status == "online" and online.response_time_ms is not None
    plextv.set_fault("error")
    assert (await plextv_client.health_check()).status == "offline"
