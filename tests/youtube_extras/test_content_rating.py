"""A kid's Plex account (bob) the owner restricted to the content ratings G and PG
(python-plexapi myplex.py `updateFriend(filterMovies={"contentRating": ["G", "PG"]})`;
Plex applies it to bob's own token) downloads a YouTube playlist. YouTube videos have no
content rating (jmbannon/ytdl-sub#1157), so without more the kid would never see them:
the download says why and what the admin can do. When the admin sets "Content rating
given to downloaded videos" to G, every delivery gives the items (and the collection) that
rating, locked, before adding them (python-plexapi mixins.py `editContentRating`:
`PUT /library/sections/{id}/all?...&contentRating.value=G&contentRating.locked=1`), and
what waited is delivered: the kid's own token sees its playlist and collection. An
unrestricted friend (alice) is unaffected. The setting is the admin's alone, and only a
short printable rating is taken."""

from __future__ import annotations

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.youtube.models import YoutubeDownload
from medianest_simulators import PlexSimulator
from medianest_simulators.media_server import MediaServerSimulator
from medianest_simulators.plex_library import YOUTUBE_SECTION
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN, BOB_SERVER_TOKEN
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import (
    YOUTUBE_CONFIG,
    all_finished,
    as_plex_user,
    plex_rows,
    plex_titles,
    restrict_kid,
    set_content_rating,
    wait_for,
)

CLIPS = ["001 - Clip One", "002 - Clip Two", "003 - Clip Three"]
HTMX = {"Accept": "text/html", "HX-Request": "true"}


def delivered(rows: list[YoutubeDownload]) -> bool:
    return bool(rows) and all(r.status == "completed" and not r.plex_pending for r in rows)


async def download(app: MediaNestApp, user: User, url: str, **extra: str) -> None:
    async with await signed_in_client(app, user) as client:
        answer = await client.post("/api/youtube/download", json={"url": url, **extra})
        assert answer.status_code == 201, answer.text


async def test_a_kid_restricted_to_g_and_pg_is_told_why_and_gets_its_videos_once_rated_g(
    worker_app: MediaNestApp,
    admin: User,
    bob: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    restrict_kid(plex, "G", "PG")
    await download(worker_app, bob, media.feed_url())
    rows = await wait_for(worker_app, all_finished(1), user_id=bob.id)

    # Not silently: completed, with a plain note saying why and what the admin can do.
    assert rows[0].status == "completed" and rows[0].plex_pending
    note = rows[0].error or ""
    assert note.startswith("Downloaded, but not delivered to Plex: your Plex account's"), note
    assert "no content rating" in note and "Content rating given to downloaded videos" in note
    assert await plex_titles(plex, "/playlists?playlistType=video", BOB_SERVER_TOKEN) == []

    # The admin gives downloaded videos the rating G: what waited is delivered.
    assert (await set_content_rating(worker_app, admin, "G"))["contentRating"] == "G"
    rows = await wait_for(worker_app, delivered, user_id=bob.id)
    assert rows[0].error is None and rows[0].plex_playlist_id
    items = await plex_titles(
        plex, f"/playlists/{rows[0].plex_playlist_id}/items", BOB_SERVER_TOKEN
    )
    assert items == CLIPS
    seen = await plex_titles(plex, f"/library/sections/{YOUTUBE_SECTION}/all", BOB_SERVER_TOKEN)
    assert seen == CLIPS
    for row in (await as_plex_user(plex, "/library/sections/3/all", BOB_SERVER_TOKEN)).json()[
        "MediaContainer"
    ]["Metadata"]:
        stored = plex.item(int(row["ratingKey"])) or {}
        assert stored.get("contentRating") == "G"
        assert {"name": "contentRating", "locked": True} in stored.get("Field", [])


async def test_a_kids_collection_download_without_the_rating_is_not_silent_either(
    worker_app: MediaNestApp, bob: User, media: MediaServerSimulator, plex: PlexSimulator
) -> None:
    """The owner's token could make the collection, but the kid would not see it."""
    restrict_kid(plex, "G", "PG")
    await download(worker_app, bob, media.feed_url(), delivery="collection")
    rows = await wait_for(worker_app, all_finished(1), user_id=bob.id)
    assert rows[0].status == "completed" and rows[0].plex_pending
    assert "restrictions hide these videos" in (rows[0].error or "")
    assert rows[0].plex_collection_id is None  # nothing was added


async def test_with_the_rating_set_a_kids_collection_and_a_friends_playlist_are_both_seen(
    worker_app: MediaNestApp,
    admin: User,
    alice: User,
    bob: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    restrict_kid(plex, "G", "PG")
    await set_content_rating(worker_app, admin, "G")
    await download(worker_app, bob, media.feed_url(), delivery="collection")
    await download(worker_app, alice, media.feed_url())
    kid = await wait_for(worker_app, delivered, user_id=bob.id)
    friend = await wait_for(worker_app, delivered, user_id=alice.id)

    # The collection carries the rating too: an allow list leaves out one without.
    collection = kid[0].plex_collection_id
    assert kid[0].error is None and collection
    kids_view = await plex_titles(
        plex, f"/library/collections/{collection}/children", BOB_SERVER_TOKEN
    )
    assert kids_view == CLIPS
    listed = await plex_rows(
        plex, f"/library/sections/{YOUTUBE_SECTION}/collections", BOB_SERVER_TOKEN
    )
    keys = [c["ratingKey"] for c in listed]
    assert collection in keys
    # The unrestricted friend gets her private playlist as before.
    assert friend[0].error is None
    path = f"/playlists/{friend[0].plex_playlist_id}/items"
    assert await plex_titles(plex, path, ALICE_SERVER_TOKEN) == CLIPS


HOSTILE = [
    "G,PG",  # a filter's value separator: it could never match an allow list
    "G|label!=adult",
    "G&x=1",
    "PG%2CR",
    "<script>alert(1)</script>",
    "G\x00",
    "G\nR",
    "\u202eG",  # right-to-left override
    "'; DROP TABLE system_settings; --",
    "G" * 33,
    "-G",
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_a_hostile_content_rating_is_refused_on_the_api_and_the_page(
    admin_client: httpx.AsyncClient, value: str
) -> None:
    assert (
        await admin_client.put(YOUTUBE_CONFIG, json={"contentRating": "TV-Y7"})
    ).status_code == 200
    refused = await admin_client.put(YOUTUBE_CONFIG, json={"contentRating": value})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["success"] is False and body["error"]["code"]
    assert "<script>" not in refused.text
    page = await admin_client.put(
        "/admin/plex-downloads", data={"plexPath": "", "contentRating": value}, headers=HTMX
    )
    assert page.status_code == 422, page.text
    assert 'id="content-rating" name="contentRating"' in page.text
    assert '<p class="field-error" id="content-rating-error" role="alert"></p>' not in page.text
    assert "<script>alert" not in page.text
    kept = await admin_client.get(YOUTUBE_CONFIG)
    assert kept.json()["data"]["contentRating"] == "TV-Y7"


async def test_the_admin_sets_and_clears_the_rating_on_the_plex_panel(
    admin_client: httpx.AsyncClient,
) -> None:
    saved = await admin_client.put(
        "/admin/plex-downloads", data={"plexPath": "", "contentRating": " de/FSK 12 "}, headers=HTMX
    )
    assert saved.status_code == 200, saved.text
    assert 'value="de/FSK 12"' in saved.text
    assert (await admin_client.get(YOUTUBE_CONFIG)).json()["data"]["contentRating"] == "de/FSK 12"
    cleared = await admin_client.put(YOUTUBE_CONFIG, json={"contentRating": ""})
    assert cleared.json()["data"]["contentRating"] is None


async def test_only_an_admin_reads_or_sets_the_rating(
    client: httpx.AsyncClient, alice_client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    for method, path, options in (
        ("GET", YOUTUBE_CONFIG, {}),
        ("PUT", YOUTUBE_CONFIG, {"json": {"contentRating": "G"}}),
    ):
        assert (await client.request(method, path, **options)).status_code == 401
        assert (await alice_client.request(method, path, **options)).status_code == 403
    anonymous = await client.put("/admin/plex-downloads", data={"contentRating": "G"})
    assert anonymous.status_code in (401, 303), anonymous.text
    friend = await alice_client.put(
        "/admin/plex-downloads", data={"contentRating": "G"}, headers=HTMX
    )
    assert friend.status_code == 403
    assert (await admin_client.get(YOUTUBE_CONFIG)).json()["data"]["contentRating"] is None
