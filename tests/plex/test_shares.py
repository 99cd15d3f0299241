"""Plex browsing as each viewer's share: a friend the owner shared only "Movies" with
sees Movies, not the family's Photos or Home Videos — not in the library list, not by
asking for another library's items, collections or posters by id — because MediaNest
reads Plex with the viewer's own token for the server (plex.tv `/api/v2/resources`),
and Plex answers it as it answers that person. Admins browse as the owner and see all.
What one viewer was shown (cached, stale while Plex is down, revalidated by ETag) never
reaches another; a viewer whose share was removed is refused, not shown the owner's view.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plex_library import (
    HOME_VIDEOS_SECTION,
    MOVIES_SECTION,
    MUSIC_SECTION,
    PHOTOS_SECTION,
)
from medianest_simulators.plex_restrictions import Restrictions
from medianest_simulators.plex_seed import FIRST_PHOTO_KEY, MUSIC_COLLECTION_KEY
from medianest_simulators.plextv_models import (
    ALICE_SERVER_TOKEN,
    ALICE_TOKEN,
    EVE_TOKEN,
    MACHINE_IDENTIFIER,
)
from tests.factories.users import create_user, signed_in_client
from tests.plex.conftest import refuse_token_leaks

ALL_LIBRARIES = ["Movies", "TV Shows", "YouTube", "Music", "Photos", "Home Videos"]
PHOTO_POSTER = f"/library/metadata/{FIRST_PHOTO_KEY}/thumb/1700000000"
MUSIC_COLLECTION_POSTER = f"/library/collections/{MUSIC_COLLECTION_KEY}/composite/1700000000"
HTML = {"Accept": "text/html"}


@pytest.fixture
def movies_only(plextv: PlexTvSimulator, plex_sim: PlexSimulator) -> None:
    """The owner shares only "Movies" with alice (python-plexapi `updateFriend(sections=)`)."""
    plextv.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=[MOVIES_SECTION])


async def library_titles(client: httpx.AsyncClient) -> list[str]:
    answer = await client.get("/api/plex/libraries")
    assert answer.status_code == 200, answer.text
    return [library["title"] for library in answer.json()["data"]]


def assert_not_found(answer: httpx.Response) -> None:
    assert answer.status_code == 404, answer.text
    body = answer.json()
    assert body["success"] is False
    assert body["error"]["code"] == "NOT_FOUND"


async def test_a_friend_shared_only_movies_sees_only_movies(
    movies_only: None, viewer: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    assert await library_titles(viewer) == ["Movies"]
    movies = await viewer.get(f"/api/plex/library/{MOVIES_SECTION}/items")
    assert movies.status_code == 200 and movies.json()["meta"]["total"] == 8
    for library in (PHOTOS_SECTION, HOME_VIDEOS_SECTION, MUSIC_SECTION):
        assert_not_found(await viewer.get(f"/api/plex/library/{library}/items"))
        assert_not_found(await viewer.get("/api/plex/collections", params={"libraryId": library}))
    assert_not_found(await viewer.get(f"/api/plex/collections/{MUSIC_COLLECTION_KEY}"))
    everything = (await viewer.get("/api/plex/collections")).json()["data"]
    assert everything and {c["title"] for c in everything}.isdisjoint({"Late Night"})
    for poster in (PHOTO_POSTER, MUSIC_COLLECTION_POSTER):
        assert_not_found(await viewer.get("/api/plex/image", params={"path": poster}))
        resized = {"path": poster, "width": 64}
        assert_not_found(await viewer.get("/api/plex/image", params=resized))
    # The pages show what the API does.
    page = await viewer.get("/plex", params={"library": str(PHOTOS_SECTION)}, headers=HTML)
    assert page.status_code == 200
    assert ">Movies<" in page.text and ">Photos<" not in page.text
    collection_page = await viewer.get(f"/plex/collections/{MUSIC_COLLECTION_KEY}", headers=HTML)
    assert collection_page.status_code == 404
    # The bootstrap admin browses as the owner: every library.
    assert await library_titles(admin_client) == ALL_LIBRARIES
    photos = await admin_client.get(f"/api/plex/library/{PHOTOS_SECTION}/items")
    assert photos.status_code == 200 and photos.json()["meta"]["total"] > 0
    poster = await admin_client.get("/api/plex/image", params={"path": PHOTO_POSTER})
    assert poster.status_code == 200


@pytest.mark.parametrize("first", ["admin", "alice", "bob"])
async def test_views_do_not_leak_through_the_cache_in_any_order(
    movies_only: None,
    first: str,
    admin_client: httpx.AsyncClient,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    plex_sim: PlexSimulator,
) -> None:
    """Library answers are kept per token (memory or Redis, by backend): whoever asks
    first, the next viewer gets their own view; bob is shared everything."""
    clients = {"admin": admin_client, "alice": alice_client, "bob": bob_client}
    expected = {"admin": ALL_LIBRARIES, "alice": ["Movies"], "bob": ALL_LIBRARIES}
    order = [first, *(name for name in clients if name != first)]
    for name in order * 2:  # the second round is answered from the caches
        client = clients[name]
        assert await library_titles(client) == expected[name], name
        photos = await client.get(f"/api/plex/library/{PHOTOS_SECTION}/items")
        poster = await client.get("/api/plex/image", params={"path": PHOTO_POSTER})
        assert (photos.status_code, poster.status_code) == (
            (404, 404) if name == "alice" else (200, 200)
        ), name
    # Each token read the sections list once: the second round came from the caches.
    assert plex_sim.log.count("/library/sections", "GET") == 3


async def test_another_viewers_etag_gets_the_viewers_own_answer(
    movies_only: None, viewer: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    owners = await admin_client.get("/api/plex/libraries")
    mine = await viewer.get(
        "/api/plex/libraries", headers={"If-None-Match": owners.headers["etag"]}
    )
    assert mine.status_code == 200
    assert [library["title"] for library in mine.json()["data"]] == ["Movies"]


async def test_while_plex_is_down_a_viewer_gets_only_their_own_last_answers(
    movies_only: None,
    plex_sim: PlexSimulator,
    app_factory: Callable[[Settings], Any],
    settings: Settings,
) -> None:
    app: MediaNestApp = await app_factory(
        settings.model_copy(update={"plex_library_cache_seconds": 0.01})
    )
    alice = await create_user(app, "alice2", plex_token=ALICE_TOKEN)
    admin = await create_user(app, "admin2", role="admin")
    async with (
        await signed_in_client(app, alice) as friend,
        await signed_in_client(app, admin) as owner_view,
    ):
        friend.event_hooks["response"].append(refuse_token_leaks)
        assert await library_titles(friend) == ["Movies"]
        assert await library_titles(owner_view) == ALL_LIBRARIES
        assert (await owner_view.get(f"/api/plex/library/{PHOTOS_SECTION}/items")).is_success
        plex_sim.set_fault("error")
        stale = await friend.get("/api/plex/libraries")
        photos = await friend.get(f"/api/plex/library/{PHOTOS_SECTION}/items")
    assert stale.json()["meta"]["stale"] is True
    assert [library["title"] for library in stale.json()["data"]] == ["Movies"]
    assert_not_found(photos)


async def test_an_account_the_server_is_not_shared_with_is_refused(
    app: MediaNestApp, plex_sim: PlexSimulator
) -> None:
    """Eve has a Plex account (sign-in open to any account) but no share of this server;
    a user without a Plex account who is not an admin has no token either."""
    eve = await create_user(app, "eve", plex_id="1004", plex_token=EVE_TOKEN)
    local = await create_user(app, "local-user", password="a-long-password-1")
    for user in (eve, local):
        async with await signed_in_client(app, user) as client:
            for path in (
                "/api/plex/libraries",
                f"/api/plex/library/{MOVIES_SECTION}/items",
                "/api/plex/collections",
            ):
                answer = await client.get(path)
                assert answer.status_code == 403, (user.username, path, answer.text)
                assert answer.json()["error"]["code"] == "PLEX_NOT_SHARED"
            poster = await client.get("/api/plex/image", params={"path": PHOTO_POSTER})
            assert poster.status_code == 403
            page = await client.get("/plex", headers=HTML)
            assert page.status_code == 403
            assert "not shared with your Plex account" in page.text
    # Nothing of the library was read for them as the owner (nor at all).
    assert [e.path for e in plex_sim.log.entries() if e.path.startswith("/library")] == []


async def test_a_removed_share_loses_access_at_the_next_token_lookup(
    app_factory: Callable[[Settings], Any],
    settings: Settings,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
) -> None:
    """The user's server token is cached; when the owner removes the share, Plex refuses
    that token, MediaNest forgets it and asks plex.tv again, which lists no access."""
    app: MediaNestApp = await app_factory(
        settings.model_copy(update={"plex_library_cache_seconds": 0.0})
    )
    user = await create_user(app, "dana", plex_token=ALICE_TOKEN)
    async with await signed_in_client(app, user) as client:
        assert await library_titles(client) == ALL_LIBRARIES
        asked = plextv.log.count("/api/v2/resources", "GET")
        assert await library_titles(client) == ALL_LIBRARIES
        assert plextv.log.count("/api/v2/resources", "GET") == asked  # the token is cached
        plextv.unshare_server("alice")
        for path in (f"/api/plex/library/{MOVIES_SECTION}/items", "/api/plex/libraries"):
            refused = await client.get(path)
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "PLEX_NOT_SHARED"
        # Plex refused the kept token: plex.tv was asked again once, and listed no access.
        assert plextv.log.count("/api/v2/resources", "GET") == asked + 1


async def test_a_restricted_account_sees_only_what_its_label_filter_allows(
    bob_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    plex_sim: PlexSimulator,
    plextv: PlexTvSimulator,
) -> None:
    """A kid's account the owner restricted to the label `kids` (Plex sharing's "allow
    labels", plex.tv `filterMovies=label=kids`): Plex filters what bob's token reads, and
    MediaNest shows that."""
    plextv.restrict("bob", Restrictions.of(filterMovies="label=kids"))
    with plex_sim.lock:
        kids_movie = plex_sim.library.items[104]
        kids_movie.labels.append("kids")
        title = kids_movie.title
    items = await bob_client.get(f"/api/plex/library/{MOVIES_SECTION}/items")
    assert [i["title"] for i in items.json()["data"]] == [title]
    assert items.json()["meta"]["total"] == 1
    hidden = {"path": "/library/metadata/105/thumb/1700000000"}
    assert_not_found(await bob_client.get("/api/plex/image", params=hidden))
    assert (await admin_client.get("/api/plex/image", params=hidden)).status_code == 200
    everything = await admin_client.get(f"/api/plex/library/{MOVIES_SECTION}/items")
    assert everything.json()["meta"]["total"] == 8


async def test_a_pages_posters_asking_at_once_look_the_token_up_once(
    alice_client: httpx.AsyncClient, plextv: PlexTvSimulator
) -> None:
    """Twelve posters of a page arrive together while alice's server token is not kept
    (first visit, or just expired): plex.tv is asked once, not once per poster."""
    asked = plextv.log.count("/api/v2/resources", "GET")
    posters = [f"/library/metadata/{101 + n % 8}/thumb/1700000000" for n in range(12)]
    answers = await asyncio.gather(
        *(alice_client.get("/api/plex/image", params={"path": p}) for p in posters)
    )
    assert [a.status_code for a in answers] == [200] * 12
    assert plextv.log.count("/api/v2/resources", "GET") == asked + 1
