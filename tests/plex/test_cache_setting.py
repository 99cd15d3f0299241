"""`MEDIANEST_PLEX_LIBRARY_CACHE_SECONDS` reaches the Plex client itself, so the Plex page
and the API reuse library data for the same time (the page used to ignore it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest_simulators import PlexSimulator
from medianest_simulators.plextv_models import ALICE_TOKEN, OWNER_TOKEN
from tests.factories.users import create_user, signed_in_client


async def _section_reads(app: MediaNestApp, plex_sim: PlexSimulator, paths: tuple[str, ...]) -> int:
    user = await create_user(app, "sam", plex_token=ALICE_TOKEN)  # a friend
    async with await signed_in_client(app, user) as client:
        for path in paths:
            assert (await client.get(path)).status_code == 200, path
            await asyncio.sleep(0.3)  # longer than the short setting below
            assert (await client.get(path)).status_code == 200, path
    return plex_sim.log.count("/library/sections", "GET")


async def test_the_page_and_the_api_follow_the_library_cache_setting(
    app_factory: Callable[[Settings], Any],
    make_settings: Callable[..., Settings],
    plex_sim: PlexSimulator,
) -> None:
    paths = ("/plex", "/api/plex/libraries")
    long_cache = await app_factory(make_settings(plex_url=plex_sim.url, plex_token=OWNER_TOKEN))
    plex_sim.log.clear()
    kept = await _section_reads(long_cache, plex_sim, paths)
    short_cache = await app_factory(
        make_settings(plex_url=plex_sim.url, plex_token=OWNER_TOKEN, plex_library_cache_seconds=0.1)
    )
    plex_sim.log.clear()
    asked_again = await _section_reads(short_cache, plex_sim, paths)
    # With 10 minutes, one read of the sections serves both the page and the API twice;
    # with 0.1 s, every one of the four answers asks Plex again (some more than once).
    assert kept == 1
    assert asked_again >= 4
