"""A kid whose share admits only G and PG films (plex.tv `filterMovies=contentRating=
G%2CPG`) and an unrestricted friend: a "your request is available" link is looked up in
each one's own view of Plex, which leaves out what their restrictions hide, so a PG-13
film gets the Plex web app's start page for the kid and a link for the friend; the
digest's "everything new" tells each only of what their token can read."""

from __future__ import annotations

import time
from urllib.parse import unquote

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plex_restrictions import Restrictions
from medianest_simulators.plextv_models import BOB_TOKEN
from tests.factories.users import create_user, signed_in_client
from tests.notifications.test_links_follow_shares import available_link

FILMS = {"Sintel": 103, "Caminandes: Llamigos": 106}  # PG-13, G


@pytest.mark.parametrize("title", sorted(FILMS))
async def test_a_kid_is_linked_only_to_a_film_its_restrictions_admit(
    title: str,
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    plex: PlexSimulator,
    plex_shares: PlexTvSimulator,
) -> None:
    plex_shares.restrict("bob", Restrictions.of(filterMovies="contentRating=G%2CPG"))
    bob = await create_user(app, "bob", plex_id="1003", plex_token=BOB_TOKEN)
    item = f"/details?key=/library/metadata/{FILMS[title]}"
    data = {"plex": {"title": title, "type": "movie"}}
    async with await signed_in_client(app, bob) as kid:
        kids_link = await available_link(app, bob, kid, data=data)
    friends_link = await available_link(app, alice, alice_client, data=data)
    assert item in friends_link
    if title == "Sintel":
        assert kids_link == f"{app.ctx.settings.plex_app_url.rstrip('/')}/desktop"
    else:
        assert item in kids_link


async def test_a_kids_digest_tells_only_of_new_films_its_restrictions_admit(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    plex: PlexSimulator,
    plex_shares: PlexTvSimulator,
) -> None:
    plex_shares.restrict("bob", Restrictions.of(filterMovies="contentRating=G%2CPG"))
    bob = await create_user(app, "bob", plex_id="1003", plex_token=BOB_TOKEN)
    with plex.lock:
        for key in FILMS.values():
            plex.library.items[key].added_at = int(time.time()) - 3600
    choice = {"digest": "daily", "digestEverything": "true"}
    async with await signed_in_client(app, bob) as kid:
        pages = []
        for client in (kid, alice_client):
            assert (await client.post("/notifications/settings", data=choice)).status_code == 200
            pages.append(unquote((await client.get("/notifications/digest")).text))
    kids, friends = pages
    assert "Caminandes: Llamigos" in kids and "Sintel" not in kids
    assert "/library/metadata/103" not in kids
    assert "Caminandes: Llamigos" in friends and "Sintel" in friends
