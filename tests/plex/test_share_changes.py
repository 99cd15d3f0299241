"""A share the owner narrows — "Photos" taken out of a friend's libraries, the friend kept
(python-plexapi myplex.py `updateFriend(sections=)`) — leaves the friend's token valid,
so nothing refuses it: what MediaNest kept of the friend's view (the library list, pages
of Photos, for `MEDIANEST_PLEX_LIBRARY_CACHE_SECONDS`, and as last good answers while
Plex is down) must not outlive the change. The audience sweep reads plex.tv's
`shared_servers` and drops shared users' kept answers when the shares changed; a refusal
from Plex drops the refused answer, so that a later outage cannot bring it back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plex_library import (
    HOME_VIDEOS_SECTION,
    MOVIES_SECTION,
    MUSIC_SECTION,
    PHOTOS_SECTION,
    SHOWS_SECTION,
    YOUTUBE_SECTION,
)
from medianest_simulators.plex_seed import MUSIC_COLLECTION_KEY
from medianest_simulators.plextv_models import (
    ALICE_SERVER_TOKEN,
    ALICE_TOKEN,
    MACHINE_IDENTIFIER,
)
from tests.factories.users import create_user, signed_in_client

ALL_LIBRARIES = ["Movies", "TV Shows", "YouTube", "Music", "Photos", "Home Videos"]
WITHOUT_PHOTOS = [
    MOVIES_SECTION,
    SHOWS_SECTION,
    YOUTUBE_SECTION,
    MUSIC_SECTION,
    HOME_VIDEOS_SECTION,
]


async def library_titles(client: httpx.AsyncClient) -> list[str]:
    answer = await client.get("/api/plex/libraries")
    assert answer.status_code == 200, answer.text
    return [library["title"] for library in answer.json()["data"]]


async def photos(client: httpx.AsyncClient) -> httpx.Response:
    return await client.get(f"/api/plex/library/{PHOTOS_SECTION}/items")


def narrow_alices_share(plextv: PlexTvSimulator) -> None:
    """The owner takes Photos out of alice's share (same share, same server token)."""
    plextv.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=WITHOUT_PHOTOS)


async def test_a_narrowed_share_drops_the_friends_kept_view_at_the_next_sweep(
    app_factory: Callable[..., Any],
    settings: Settings,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
) -> None:
    """Library answers are kept ten minutes (the default); the sweep runs often here.
    Alice's library list and her kept Photos pages go at the next sweep after the owner
    narrows her share; Movies still works for her; the owner's view is untouched."""
    assert settings.plex_library_cache_seconds >= 600
    app: MediaNestApp = await app_factory(
        settings.model_copy(update={"plex_audience_refresh_seconds": 0.2}), housekeeping=True
    )
    # Her plex.tv account id: the sweep keeps her signed in, as she is still shared.
    plex_id = str(plextv.accounts["alice"].id)
    alice = await create_user(app, "alice", plex_id=plex_id, plex_token=ALICE_TOKEN)
    admin = await create_user(app, "owner-admin", role="admin")
    async with (
        await signed_in_client(app, alice) as friend,
        await signed_in_client(app, admin) as owner,
    ):
        assert await library_titles(friend) == ALL_LIBRARIES
        kept = await photos(friend)
        assert kept.status_code == 200 and kept.json()["meta"]["total"] > 0
        assert (await friend.get(f"/api/plex/library/{MOVIES_SECTION}/items")).is_success
        assert await library_titles(owner) == ALL_LIBRARIES
        assert (await photos(owner)).is_success

        narrow_alices_share(plextv)
        async with asyncio.timeout(15):  # a hang guard: the sweep runs every 0.2 s
            while "Photos" in await library_titles(friend):
                await asyncio.sleep(0.2)
        assert await library_titles(friend) == [t for t in ALL_LIBRARIES if t != "Photos"]
        refused = await photos(friend)
        assert refused.status_code == 404, refused.text
        movies = await friend.get(f"/api/plex/library/{MOVIES_SECTION}/items")
        assert movies.status_code == 200 and movies.json()["meta"]["total"] == 8
        assert await library_titles(owner) == ALL_LIBRARIES
        assert (await photos(owner)).is_success

        # Plex goes away: the friend's kept Movies page is still served (stale), her
        # Photos page from before the change is not; the owner keeps his whole view.
        plex_sim.set_fault("error")
        down_movies = await friend.get(f"/api/plex/library/{MOVIES_SECTION}/items")
        assert down_movies.status_code == 200 and down_movies.json()["meta"]["total"] == 8
        down_photos = await photos(friend)
        assert down_photos.status_code != 200, down_photos.text
        assert "Photos" not in await library_titles(friend)
        assert (await photos(owner)).is_success


async def test_a_refusal_is_never_answered_from_the_stale_cache(
    app_factory: Callable[..., Any],
    settings: Settings,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
) -> None:
    """No sweep runs here. Alice opened the Music collection; the owner takes Music out of
    her share; Plex refuses her the collection (asked by key, not through the library
    list); when Plex is down a moment later, her old copy is not served in its place."""
    app: MediaNestApp = await app_factory(
        settings.model_copy(update={"plex_library_cache_seconds": 0.01})
    )
    alice = await create_user(app, "alice", plex_id="1002", plex_token=ALICE_TOKEN)
    collection = f"/api/plex/collections/{MUSIC_COLLECTION_KEY}"
    async with await signed_in_client(app, alice) as friend:
        assert (await friend.get(collection)).is_success
        assert (await friend.get(f"/api/plex/library/{MOVIES_SECTION}/items")).is_success
        without_music = [s for s in WITHOUT_PHOTOS if s != MUSIC_SECTION] + [PHOTOS_SECTION]
        plextv.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=without_music)
        refused = await friend.get(collection)
        assert refused.status_code == 404, refused.text
        plex_sim.set_fault("error")
        while_down = await friend.get(collection)
        assert while_down.status_code != 200, while_down.text
        assert while_down.json()["success"] is False
        # What Plex did not refuse is still bridged over the outage.
        movies = await friend.get(f"/api/plex/library/{MOVIES_SECTION}/items")
        assert movies.status_code == 200 and movies.json()["meta"]["stale"] is True
