"""A "your request is available" link for a kid whose share admits only G and PG films
(plex.tv `filterMovies=contentRating=G%2CPG`): the item is looked up in their own view
of Plex, which leaves out what their restrictions hide, so a PG-13 film gets the Plex
web app's start page for them and a link to the film for an unrestricted friend."""

from __future__ import annotations

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
