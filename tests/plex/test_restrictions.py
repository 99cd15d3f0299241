"""Share restrictions: a kid's account (bob) the owner restricted on plex.tv — content
ratings G and PG (python-plexapi `updateFriend(filterMovies={"contentRating": [...]})`),
or a label excluded — and an unrestricted friend (alice) on the same libraries. Plex
applies restrictions to the account's own token; MediaNest browses with it, so each
sees exactly what Plex gives their token: in lists, collections and their items,
posters (resized too), pages, and through caches, ETags and a Plex outage, asked in turn
or at once. A restriction added later reaches what MediaNest kept at the next sweep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plex_library import MOVIES_SECTION
from medianest_simulators.plex_restrictions import Restrictions
from medianest_simulators.plextv_models import (
    BOB_SERVER_TOKEN,
    BOB_TOKEN,
    MACHINE_IDENTIFIER,
    OWNER_TOKEN,
)
from tests.factories.users import create_user, signed_in_client
from tests.plex.conftest import refuse_token_leaks
from tests.support.http import http_client

KIDS = Restrictions.of(filterMovies="contentRating=G%2CPG")
EVERY_FILM = {
    "Big Buck Bunny",
    "Elephants Dream",
    "Sintel",
    "Tears of Steel",
    "Cosmos Laundromat",
    "Caminandes: Llamigos",
    "Agent 327: Operation Barbershop",
    "The Daily Dweebs",
}
PG13 = {"Sintel", "Tears of Steel"}  # ratingKeys 103 and 104
ITEMS = f"/api/plex/library/{MOVIES_SECTION}/items"
TEARS_POSTER = "/library/metadata/104/thumb/1700014460"
HTML = {"Accept": "text/html"}


async def film_titles(client: httpx.AsyncClient) -> set[str]:
    answer = await client.get(ITEMS, params={"pageSize": 100})
    assert answer.status_code == 200, answer.text
    assert answer.json()["meta"]["total"] == len(answer.json()["data"])
    return {item["title"] for item in answer.json()["data"]}


async def collection_titles(client: httpx.AsyncClient) -> set[str]:
    answer = await client.get("/api/plex/collections", params={"libraryId": MOVIES_SECTION})
    assert answer.status_code == 200, answer.text
    return {c["title"] for c in answer.json()["data"]}


async def poster(client: httpx.AsyncClient, **extra: Any) -> httpx.Response:
    return await client.get("/api/plex/image", params={"path": TEARS_POSTER, **extra})


async def test_a_kid_and_a_friend_each_see_what_plex_gives_their_token_asked_in_any_order(
    bob_client: httpx.AsyncClient,
    alice_client: httpx.AsyncClient,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
) -> None:
    """Three rounds of both viewers' reads at once (the later ones from the per-token
    caches); then each sends the other's ETags; then Plex goes down."""
    plextv.restrict("bob", KIDS)
    for client in (bob_client, alice_client):
        client.event_hooks["response"].append(refuse_token_leaks)
    for _ in range(3):
        kid_films, friend_films, kid_cols, friend_cols, *posters = await asyncio.gather(
            film_titles(bob_client),
            film_titles(alice_client),
            collection_titles(bob_client),
            collection_titles(alice_client),
            poster(bob_client),
            poster(alice_client),
            poster(bob_client, width=64),
            poster(alice_client, width=64),
            bob_client.get("/api/plex/collections/1001"),
            alice_client.get("/api/plex/collections/1001"),
        )
        assert kid_films == EVERY_FILM - PG13 and friend_films == EVERY_FILM
        # Collections have no content rating: a ratings allow list leaves them all out.
        assert kid_cols == set() and friend_cols == {"Blender Open Movies", "Animal Shorts"}
        assert [p.status_code for p in posters] == [404, 200, 404, 200, 404, 200]
    # One viewer's ETag never brings the other's answer.
    friends = await alice_client.get(ITEMS)
    kids = await bob_client.get(ITEMS, headers={"If-None-Match": friends.headers["etag"]})
    assert kids.status_code == 200 and {i["title"] for i in kids.json()["data"]} <= (
        EVERY_FILM - PG13
    )
    friends_poster = await poster(alice_client)
    refused = await poster(bob_client)
    assert refused.status_code == 404
    again = await bob_client.get(
        "/api/plex/image",
        params={"path": TEARS_POSTER},
        headers={"If-None-Match": friends_poster.headers["etag"]},
    )
    assert again.status_code == 404
    page = await bob_client.get("/plex", params={"library": str(MOVIES_SECTION)}, headers=HTML)
    assert page.status_code == 200 and "Big Buck Bunny" in page.text
    assert not any(title in page.text for title in PG13)
    # Plex away: each gets their own kept answer, never the other's.
    plex_sim.set_fault("error")
    kid_down, friend_down = await asyncio.gather(bob_client.get(ITEMS), alice_client.get(ITEMS))
    assert {i["title"] for i in kid_down.json()["data"]} == EVERY_FILM - PG13
    assert {i["title"] for i in friend_down.json()["data"]} == EVERY_FILM


async def test_a_kids_hidden_poster_is_refused_without_asking_plex_for_the_image(
    bob_client: httpx.AsyncClient,
    alice_client: httpx.AsyncClient,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
) -> None:
    """The poster is refused from the metadata the kid's token cannot read; Plex is not
    asked for the image itself, as whether its image endpoints and photo transcoder apply
    restrictions was never measured on a real server. The friend's come from Plex."""
    plextv.restrict("bob", KIDS)

    def image_calls() -> int:
        return plex_sim.log.count(TEARS_POSTER) + plex_sim.log.count("/photo/:/transcode")

    for size in ({}, {"width": 120}, {"height": 90}):
        before = image_calls()
        assert (await poster(bob_client, **size)).status_code == 404
        assert image_calls() == before
        assert (await poster(alice_client, **size)).status_code == 200
        assert image_calls() == before + 1


async def test_a_collection_opened_by_a_label_restricted_kid_leaves_out_what_the_label_hides(
    bob_client: httpx.AsyncClient,
    alice_client: httpx.AsyncClient,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
) -> None:
    """The owner labels "Tears of Steel" `grown-ups` and excludes that label from bob's
    share (Plex: Restrictions → Exclude labels). "Blender Open Movies" (101-104) has no
    such label, so bob sees the collection — but not that film in it, on the API or the
    page, while alice sees all four."""
    with plex_sim.lock:
        plex_sim.library.items[104].labels.append("grown-ups")
    plextv.restrict("bob", Restrictions.of(filterMovies="label!=grown-ups"))
    kid, friend = await asyncio.gather(
        bob_client.get("/api/plex/collections/1001"), alice_client.get("/api/plex/collections/1001")
    )
    assert kid.status_code == 200, kid.text
    assert {i["title"] for i in kid.json()["data"]["items"]} == {
        "Big Buck Bunny",
        "Elephants Dream",
        "Sintel",
    }
    assert kid.json()["data"]["total"] == 3
    assert len(friend.json()["data"]["items"]) == 4
    page = await bob_client.get("/plex/collections/1001", headers=HTML)
    assert page.status_code == 200 and "Sintel" in page.text
    assert "Tears of Steel" not in page.text
    assert "Tears of Steel" in (await alice_client.get("/plex/collections/1001", headers=HTML)).text


async def test_a_restriction_added_later_drops_the_kids_kept_view_at_the_next_sweep(
    app_factory: Callable[..., Any],
    settings: Settings,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
) -> None:
    """Library answers are kept ten minutes; the owner restricts bob's account on plex.tv
    (his token stays valid, so nothing refuses it). At the next sweep his kept pages
    go — not served fresh, nor as stale while Plex is down — and the owner's stay."""
    assert settings.plex_library_cache_seconds >= 600
    app: MediaNestApp = await app_factory(
        settings.model_copy(update={"plex_audience_refresh_seconds": 0.2}), housekeeping=True
    )
    bob = await create_user(
        app, "bob", plex_id=str(plextv.accounts["bob"].id), plex_token=BOB_TOKEN
    )
    admin = await create_user(app, "owner-admin", role="admin")
    # The sweep's first round finds nothing kept and drops every shared view anyway: the
    # kid's view is kept after it, so only seeing the restriction can drop it.
    shared_servers = f"/api/servers/{MACHINE_IDENTIFIER}/shared_servers"
    async with asyncio.timeout(15):
        while plextv.log.count(shared_servers, "GET") < 2:
            await asyncio.sleep(0.05)
    async with (
        await signed_in_client(app, bob) as kid,
        await signed_in_client(app, admin) as owner,
    ):
        assert await film_titles(kid) == EVERY_FILM
        assert (await poster(kid)).status_code == 200
        assert await film_titles(owner) == EVERY_FILM

        plextv.restrict("bob", KIDS)
        async with asyncio.timeout(15):  # a hang guard: the sweep runs every 0.2 s
            while await film_titles(kid) != EVERY_FILM - PG13:
                await asyncio.sleep(0.2)
        assert (await poster(kid)).status_code == 404
        assert await film_titles(owner) == EVERY_FILM

        plex_sim.set_fault("error")
        down = await kid.get(ITEMS, params={"pageSize": 100})
        assert down.status_code == 200, down.text
        assert {i["title"] for i in down.json()["data"]} == EVERY_FILM - PG13
        assert await film_titles(owner) == EVERY_FILM


@pytest.mark.parametrize("role", ["user", "admin"])
async def test_only_an_admin_without_a_plex_account_sees_the_owners_playlists(
    role: str, app: MediaNestApp, plex_sim: PlexSimulator
) -> None:
    """A user without a Plex account is refused browsing (403, never the owner's view);
    their playlists are not the owner's either — those hold the owner's private lists,
    unrestricted. The bootstrap admin, who browses as the owner, sees them."""
    uri = f"server://{MACHINE_IDENTIFIER}/com.plexapp.plugins.library/library/metadata/103,104"
    async with http_client(timeout=5) as plex:
        made = await plex.post(
            plex_sim.url + "/playlists",
            params={"type": "video", "title": "Owner's late films", "uri": uri},
            headers={"X-Plex-Token": OWNER_TOKEN, "Accept": "application/json"},
        )
    playlist = made.json()["MediaContainer"]["Metadata"][0]["ratingKey"]
    user = await create_user(app, f"local-{role}", role=role, password="a-long-password-1")
    async with await signed_in_client(app, user) as client:
        listed = await client.get("/api/plex/playlists")
        opened = await client.get(f"/api/plex/playlists/{playlist}")
    assert listed.status_code == 200, listed.text
    titles = [p["title"] for p in listed.json()["data"]]
    if role == "admin":
        assert titles == ["Owner's late films"] and opened.status_code == 200
    else:
        assert titles == [] and opened.status_code == 404


async def test_a_kids_own_playlist_lists_only_what_its_restrictions_admit(
    bob_client: httpx.AsyncClient, plextv: PlexTvSimulator, plex_sim: PlexSimulator
) -> None:
    """bob made a playlist of a G film and a PG-13 one before the owner restricted him."""
    uri = f"server://{MACHINE_IDENTIFIER}/com.plexapp.plugins.library/library/metadata/101,104"
    async with http_client(timeout=5) as plex:
        made = await plex.post(
            plex_sim.url + "/playlists",
            params={"type": "video", "title": "Saturday", "uri": uri},
            headers={"X-Plex-Token": BOB_SERVER_TOKEN, "Accept": "application/json"},
        )
    playlist = made.json()["MediaContainer"]["Metadata"][0]["ratingKey"]
    plextv.restrict("bob", KIDS)
    opened = await bob_client.get(f"/api/plex/playlists/{playlist}")
    assert opened.status_code == 200, opened.text
    assert [i["title"] for i in opened.json()["data"]["items"]] == ["Big Buck Bunny"]
