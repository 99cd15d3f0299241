"""The recently-added digest: the preview page and the sent message list the period's
arrivals — the user's requests that became available and finished downloads, with links
into the Plex web app — and, when chosen, everything new the user may see in Plex; a
digest is sent once per period through the channels that chose "digest". Alice is a
friend the server is shared with: the library part is read with her own token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from urllib.parse import unquote

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.notifications import digest
from medianest.settings import Settings
from medianest.youtube.models import DownloadStatus, YoutubeDownload
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plex_library import PHOTOS_SECTION, SHOWS_SECTION
from medianest_simulators.plex_seed import MOVIES_SECTION
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN, ALICE_TOKEN, MACHINE_IDENTIFIER
from tests.factories.users import create_user
from tests.notifications.conftest import overseerr_payload, post_overseerr_hook
from tests.notifications.receivers import HttpReceiver


@pytest.fixture
def linked_plex(plex: PlexSimulator, plex_shares: PlexTvSimulator) -> PlexSimulator:
    return plex


@pytest.fixture
def settings(
    notify_settings: Callable[..., Settings],
    linked_plex: PlexSimulator,
    plextv: PlexTvSimulator,
) -> Settings:
    return notify_settings(plex_tv_url=plextv.url)


@pytest.fixture
async def alice(app: MediaNestApp) -> User:
    return await create_user(app, "alice", plex_id="1002", plex_token=ALICE_TOKEN)


async def a_week_of_arrivals(app: MediaNestApp, alice: User, client: httpx.AsyncClient) -> None:
    made = (
        await client.post("/api/media/request", json={"mediaType": "movie", "tmdbId": 400004})
    ).json()["data"]
    payload = overseerr_payload(
        "MEDIA_AVAILABLE", request_id=made["overseerrId"], tmdb_id=400004, status="AVAILABLE"
    )
    assert (await post_overseerr_hook(app, payload)).status_code == 200
    async with session_scope(app.ctx.session_factory) as session:
        session.add(
            YoutubeDownload(
                user_id=alice.id,
                url="https://www.youtube.com/playlist?list=PLdigest",
                title="Blender Studio shorts",
                status=DownloadStatus.COMPLETED,
                plex_collection_id="1001",
                completed_at=utcnow(),
            )
        )


def rating_key_of(plex: PlexSimulator, title: str) -> str:
    return str(
        next(i for i in plex.items_in_section(MOVIES_SECTION) if i["title"] == title)["ratingKey"]
    )


async def test_the_preview_lists_the_weeks_arrivals_with_plex_links(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    plex: PlexSimulator,
) -> None:
    await a_week_of_arrivals(app, alice, alice_client)
    page = await alice_client.get("/notifications/digest")
    assert page.status_code == 200
    text = unquote(page.text)
    assert "Caminandes: Llamigos" in text and "Blender Studio shorts" in text
    key = rating_key_of(plex, "Caminandes: Llamigos")
    assert f"/server/{plex.machine_identifier}/details?key=/library/metadata/{key}" in text
    assert "details?key=/library/collections/1001" in text
    # Someone else's arrivals are not in theirs.
    bobs = (await bob_client.get("/notifications/digest")).text
    assert "Caminandes" not in bobs and "Blender Studio shorts" not in bobs
    assert "Nothing new arrived" in bobs


async def test_a_digest_is_sent_once_per_period_through_the_digest_channels(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    webhook: HttpReceiver,
    plex: PlexSimulator,
) -> None:
    await a_week_of_arrivals(app, alice, alice_client)
    added = await alice_client.post(
        "/api/notifications/channels",
        json={"url": f"json://127.0.0.1:{webhook.port}/digest", "events": ["digest"]},
    )
    assert added.status_code == 201
    assert (
        await alice_client.post("/notifications/settings", data={"digest": "weekly"})
    ).status_code == 200

    async with asyncio.timeout(10):
        while await digest.send_due(app.ctx) == 0:  # the worker may hold the lease a moment
            await asyncio.sleep(0.1)
    (received,) = await webhook.wait_for(1)
    message = received.json()
    assert message["title"] == "Your weekly digest: 2 new in Plex"
    body = unquote(message["message"])
    key = rating_key_of(plex, "Caminandes: Llamigos")
    assert "• Caminandes: Llamigos — " in body and f"details?key=/library/metadata/{key}" in body
    assert "• Blender Studio shorts — " in body and "/library/collections/1001" in body

    assert await digest.send_due(app.ctx) == 0  # not due again this week
    await asyncio.sleep(1.0)
    assert len(webhook.received) == 1
    centre = (await alice_client.get("/api/notifications")).json()["data"]["items"]
    assert [i["event"] for i in centre].count("digest") == 1


async def test_everything_new_adds_the_libraries_newest_items_the_user_may_see(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient, plex: PlexSimulator
) -> None:
    key = int(rating_key_of(plex, "Sintel"))
    plex.library.items[key].added_at = int(time.time()) - 3600
    assert (
        await alice_client.post(
            "/notifications/settings", data={"digest": "daily", "digestEverything": "true"}
        )
    ).status_code == 200
    page = unquote((await alice_client.get("/notifications/digest")).text)
    assert "Sintel" in page and f"/library/metadata/{key}" in page and "new in Plex" in page
    # Old items (the rest of the seeded library) are not news.
    assert "Big Buck Bunny" not in page


async def test_the_library_part_lists_only_libraries_shared_with_the_user(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    plex: PlexSimulator,
    plextv: PlexTvSimulator,
) -> None:
    """A friend shared only Movies is not told about new family photos."""
    plextv.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=[MOVIES_SECTION])
    movie = int(rating_key_of(plex, "Sintel"))
    with plex.lock:
        photo = next(
            i
            for i in plex.library.items.values()
            if i.section_id == PHOTOS_SECTION and i.parent is None
        )
        photo.added_at = plex.library.items[movie].added_at = int(time.time()) - 3600
        photo_title = photo.title
    assert (
        await alice_client.post(
            "/notifications/settings", data={"digest": "daily", "digestEverything": "true"}
        )
    ).status_code == 200
    page = unquote((await alice_client.get("/notifications/digest")).text)
    assert "Sintel" in page
    assert photo_title not in page


async def test_a_request_in_a_library_not_shared_with_the_user_has_no_item_link(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    plex: PlexSimulator,
    plextv: PlexTvSimulator,
) -> None:
    """The film arrived in "Movies", which the owner has not shared with alice: the digest
    names it but links no Plex page she could not open (looked up with her own token)."""
    plextv.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=[SHOWS_SECTION])
    await a_week_of_arrivals(app, alice, alice_client)
    page = unquote((await alice_client.get("/notifications/digest")).text)
    assert "Caminandes: Llamigos" in page
    key = rating_key_of(plex, "Caminandes: Llamigos")
    assert f"/library/metadata/{key}" not in page
