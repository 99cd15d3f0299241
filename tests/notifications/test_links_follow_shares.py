"""A "your request is available" link opens the item in the Plex web app only when the
notified user can open it there: the item is looked up in their own view of Plex (their
server token, as they browse), so a friend whose share leaves out the item's library
gets no link to it (Plex would refuse them the page); admins look up as the owner."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.notifications import service
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plex_library import MOVIES_SECTION, MUSIC_SECTION, SHOWS_SECTION
from medianest_simulators.plex_seed import MUSIC_COLLECTION_KEY
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN, MACHINE_IDENTIFIER
from tests.factories.users import create_user, signed_in_client

TITLE = "Caminandes: Llamigos"  # a film in "Movies"


async def available_link(
    app: MediaNestApp,
    user: User,
    client: httpx.AsyncClient,
    event: str = "request.available",
    data: dict[str, Any] | None = None,
) -> str:
    """Notify `user` that the film is available; the link the worker gives it."""
    async with session_scope(app.ctx.session_factory) as session:
        await service.notify(
            session,
            user_ids=[user.id],
            event=event,
            title=f"“{TITLE}” is now available in Plex",
            data=data or {"plex": {"title": TITLE, "type": "movie"}},
        )
    async with asyncio.timeout(10):  # a hang guard; the worker polls every 0.1 s
        while True:
            items = (await client.get("/api/notifications")).json()["data"]["items"]
            if items and items[0]["link"]:
                return unquote(items[0]["link"])
            await asyncio.sleep(0.05)


def item_link(plex: PlexSimulator) -> str:
    movie = next(i for i in plex.items_in_section(MOVIES_SECTION) if i["title"] == TITLE)
    return f"/server/{plex.machine_identifier}/details?key=/library/metadata/{movie['ratingKey']}"


@pytest.mark.parametrize("shared", [True, False])
async def test_a_friend_gets_a_plex_link_only_to_an_item_in_a_library_shared_with_them(
    shared: bool,
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    plex: PlexSimulator,
    plex_shares: PlexTvSimulator,
) -> None:
    sections = [MOVIES_SECTION, SHOWS_SECTION] if shared else [SHOWS_SECTION]
    plex_shares.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=sections)
    link = await available_link(app, alice, alice_client)
    if shared:
        assert item_link(plex) in link
    else:
        assert "/details?key=" not in link and "/library/metadata/" not in link
        assert link == f"{app.ctx.settings.plex_app_url.rstrip('/')}/desktop"
    # An admin is linked to the item whatever alice's share: they browse as the owner.
    admin = await create_user(app, "house-admin", role="admin")
    async with await signed_in_client(app, admin) as admin_client:
        assert item_link(plex) in await available_link(app, admin, admin_client)


@pytest.mark.parametrize("shared", [True, False])
async def test_a_download_link_to_a_collection_follows_the_share_too(
    shared: bool,
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    plex: PlexSimulator,
    plex_shares: PlexTvSimulator,
) -> None:
    """A finished download's collection (in a library the owner has since taken out of
    alice's share): linked only while she can open it."""
    sections = [MUSIC_SECTION, SHOWS_SECTION] if shared else [SHOWS_SECTION]
    plex_shares.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=sections)
    data = {"plex_key": {"kind": "collection", "key": str(MUSIC_COLLECTION_KEY)}}
    link = await available_link(app, alice, alice_client, "download.finished", data)
    collection = f"/details?key=/library/collections/{MUSIC_COLLECTION_KEY}"
    assert (collection in link) is shared, link
