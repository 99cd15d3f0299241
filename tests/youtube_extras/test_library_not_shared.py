"""The owner shared "Movies" with a friend but not the "YouTube" library MediaNest delivers
to (the usual invite: Movies and TV Shows). The friend's download would "complete" where
they can never look — a collection in a library they cannot open, a playlist Plex will not
fill with items their share leaves out. MediaNest refuses it up front (API and pages alike,
409 `PLEX_LIBRARY_NOT_SHARED` naming the library), says so on a subscription's download
when the share changed later, and shows the admin whom the library is not shared with.

Plex follows plex.tv's shares here (`follow_plextv`), as Plex Media Server does."""

from __future__ import annotations

import html

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.media_server import MediaServerSimulator
from medianest_simulators.plex_library import MOVIES_SECTION, SHOWS_SECTION, YOUTUBE_SECTION
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN, MACHINE_IDENTIFIER
from tests.factories.users import signed_in_client
from tests.support.http import http_client
from tests.youtube_extras.conftest import all_finished, wait_for

HTMX = {"Accept": "text/html", "HX-Request": "true"}


@pytest.fixture
def shares(plex_shares: PlexTvSimulator) -> PlexTvSimulator:
    return plex_shares


def share_alice(plextv: PlexTvSimulator, *sections: int) -> None:
    """python-plexapi `updateFriend(sections=)`: the libraries alice's share includes."""
    plextv.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=sections)


def assert_not_shared(answer: httpx.Response) -> None:
    assert answer.status_code == 409, answer.text
    error = answer.json()["error"]
    assert error["code"] == "PLEX_LIBRARY_NOT_SHARED"
    assert '"YouTube"' in error["message"] and "Ask the server's owner" in error["message"]
    assert error["details"]["library"] == "YouTube"


async def test_a_friend_shared_only_movies_and_tv_is_refused_on_the_api_and_the_pages(
    shares: PlexTvSimulator,
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    share_alice(shares, MOVIES_SECTION, SHOWS_SECTION)
    page = await alice_client.get("/youtube", headers={"Accept": "text/html"})
    assert 'data-field="library-not-shared"' in page.text  # told before trying
    assert_not_shared(
        await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    )
    assert_not_shared(
        await alice_client.post("/api/youtube/subscriptions", json={"url": media.feed_url()})
    )
    typed = media.feed_url("typed")
    for path, data in (
        ("/youtube/download", {"url": typed}),
        ("/youtube/subscriptions", {"url": typed, "intervalHours": "6"}),
    ):
        page = await alice_client.post(path, data=data, headers=HTMX)
        assert page.status_code == 409, (path, page.text)
        assert "is not shared with your Plex account" in html.unescape(page.text), path
        assert html.escape(typed) in page.text, path  # the typed link is kept
    assert (await alice_client.get("/api/youtube/downloads")).json()["data"] == []
    assert (await alice_client.get("/api/youtube/subscriptions")).json()["data"] == []
    # Her Plex page still lists what she may see (Movies and TV Shows).
    libraries = (await alice_client.get("/api/plex/libraries")).json()["data"]
    assert [library["title"] for library in libraries] == ["Movies", "TV Shows"]
    # Asked with alice's own token (a refusal is confirmed uncached); her server token
    # is looked up at plex.tv once.
    reads = plex.log.entries("/library/sections", "GET")
    assert [e for e in reads if ALICE_SERVER_TOKEN in e.headers.values()]
    assert shares.log.count("/api/v2/resources", "GET") == 1
    # The owner shares the library: her next try is accepted at once, not after the
    # cache of her library list (MEDIANEST_PLEX_LIBRARY_CACHE_SECONDS) runs out.
    share_alice(shares, MOVIES_SECTION, SHOWS_SECTION, YOUTUBE_SECTION)
    accepted = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    assert accepted.status_code == 201, accepted.text
    page = await alice_client.get("/youtube", headers={"Accept": "text/html"})
    assert page.status_code == 200 and 'data-field="library-not-shared"' not in page.text


async def test_a_friend_with_the_youtube_library_shared_gets_the_playlist(
    shares: PlexTvSimulator,
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    share_alice(shares, MOVIES_SECTION, YOUTUBE_SECTION)
    async with await signed_in_client(worker_app, alice) as client:
        created = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        assert created.status_code == 201, created.text
        rows = await wait_for(worker_app, all_finished(1), user_id=alice.id)
    assert rows[0].status == "completed" and rows[0].error is None, rows[0].error
    assert rows[0].plex_playlist_id is not None
    async with http_client(base_url=plex.url) as http:
        items = await http.get(
            f"/playlists/{rows[0].plex_playlist_id}/items",
            headers={"X-Plex-Token": ALICE_SERVER_TOKEN, "Accept": "application/json"},
        )
    assert len(items.json()["MediaContainer"]["Metadata"]) == 3


async def test_a_share_changed_under_a_subscription_is_reported_on_its_download(
    shares: PlexTvSimulator,
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    async with await signed_in_client(worker_app, alice) as client:
        created = await client.post(
            "/api/youtube/subscriptions", json={"url": media.feed_url(), "intervalHours": 24}
        )
        assert created.status_code == 201, created.text
        first = await wait_for(worker_app, all_finished(1), user_id=alice.id)
        assert first[0].status == "completed" and first[0].error is None, first[0].error
        share_alice(shares, MOVIES_SECTION)  # the owner narrows alice's share
        media.add_item("Clip Four")
        path = f"/api/youtube/subscriptions/{created.json()['data']['id']}/check"
        assert (await client.post(path)).status_code == 202
        rows = await wait_for(worker_app, all_finished(2), user_id=alice.id)
        listed = (await client.get(f"/api/youtube/downloads/{rows[1].id}")).json()["data"]
    assert [i.title for i in rows[1].items] == ["Clip Four"]
    assert listed["error"] is not None
    assert 'The Plex library "YouTube"' in listed["error"], listed["error"]
    assert "not shared with your Plex account" in listed["error"]
    # Nothing was added to her playlist (Plex would not have shown it to her anyway).
    async with http_client(base_url=plex.url) as http:
        items = await http.get(
            f"/playlists/{first[0].plex_playlist_id}/items",
            headers={"X-Plex-Token": ALICE_SERVER_TOKEN, "Accept": "application/json"},
        )
    assert items.status_code == 200
    assert "Clip Four" not in items.text


async def test_the_admin_sees_whom_the_delivery_library_is_not_shared_with(
    shares: PlexTvSimulator,
    admin_client: httpx.AsyncClient,
    admin: User,
    media: MediaServerSimulator,
) -> None:
    share_alice(shares, MOVIES_SECTION, SHOWS_SECTION)  # bob keeps every library
    info = await admin_client.get("/api/admin/youtube/plex")
    assert info.status_code == 200, info.text
    data = info.json()["data"]
    assert data["deliveryLibrary"] == "YouTube"
    assert data["notSharedWith"] == ["alice"]
    panel = await admin_client.get("/admin/plex-downloads", headers=HTMX)
    assert 'data-field="library-not-shared"' in panel.text
    assert "<strong>alice</strong>" in panel.text and "<strong>bob</strong>" not in panel.text
    # Admins deliver as the owner: never refused.
    mine = await admin_client.post("/api/youtube/download", json={"url": media.feed_url()})
    assert mine.status_code == 201, mine.text
    share_alice(shares, MOVIES_SECTION, YOUTUBE_SECTION)
    again = (await admin_client.get("/api/admin/youtube/plex")).json()["data"]
    assert again["notSharedWith"] == []


async def test_a_plex_that_does_not_answer_refuses_nobody(
    shares: PlexTvSimulator,
    alice_client: httpx.AsyncClient,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    """Whether the library is shared cannot be told while Plex hangs: the download is
    accepted (its delivery reports what goes wrong later), after the bounded wait."""
    share_alice(shares, MOVIES_SECTION, SHOWS_SECTION)
    plex.hold_requests("/library/sections")
    try:
        answer = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    finally:
        plex.release_requests()
    assert answer.status_code == 201, answer.text
