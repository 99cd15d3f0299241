"""Private delivery: labels `medianest:<username>` and a playlist made with the user's own
server token (from plex.tv resources), invisible to another user's token; the shared
collection as a per-download choice and for a user without a Plex token."""

from __future__ import annotations

from typing import Any

import httpx

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.media_server import MediaServerSimulator
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN, BOB_SERVER_TOKEN
from tests.factories.users import signed_in_client
from tests.support.http import http_client
from tests.youtube_extras.conftest import all_finished, wait_for


async def plex_get(plex: PlexSimulator, path: str, token: str) -> httpx.Response:
    async with http_client(base_url=plex.url) as http:
        return await http.get(path, headers={"X-Plex-Token": token, "Accept": "application/json"})


def metadata(response: httpx.Response) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = response.json()["MediaContainer"].get("Metadata", [])
    return rows


async def test_a_download_becomes_a_labelled_playlist_only_its_owner_sees(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, plex: PlexSimulator
) -> None:
    async with await signed_in_client(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        assert response.status_code == 201, response.text
        assert response.json()["data"]["delivery"] == "playlist"
        rows = await wait_for(worker_app, all_finished(1), user_id=alice.id)
        data = (await client.get(f"/api/youtube/downloads/{rows[0].id}")).json()["data"]

    assert data["status"] == "completed", data
    assert data["error"] is None
    assert data["plexCollectionId"] is None
    playlist_id = data["plexPlaylistId"]
    assert playlist_id

    alice_playlists = metadata(
        await plex_get(plex, "/playlists?playlistType=video", ALICE_SERVER_TOKEN)
    )
    assert [(p["ratingKey"], p["title"]) for p in alice_playlists] == [
        (playlist_id, "Loopback Test Channel")
    ]
    items = metadata(await plex_get(plex, f"/playlists/{playlist_id}/items", ALICE_SERVER_TOKEN))
    assert sorted(i["title"] for i in items) == [
        "001 - Clip One",
        "002 - Clip Two",
        "003 - Clip Three",
    ]
    assert metadata(await plex_get(plex, "/playlists?playlistType=video", BOB_SERVER_TOKEN)) == []
    hidden = await plex_get(plex, f"/playlists/{playlist_id}/items", BOB_SERVER_TOKEN)
    assert hidden.status_code == 404

    for item in items:
        stored = plex.item(int(item["ratingKey"]))
        assert stored is not None
        assert [label["tag"] for label in stored.get("Label", [])] == ["medianest:alice"]

    # The owner restricts bob's share by label: alice's items disappear for bob only.
    plex.restrict("bob", filterMovies="label!=medianest:alice")
    for_bob = metadata(await plex_get(plex, "/library/sections/3/all", BOB_SERVER_TOKEN))
    for_alice = metadata(await plex_get(plex, "/library/sections/3/all", ALICE_SERVER_TOKEN))
    assert for_bob == []
    assert len(for_alice) == 3


async def test_a_second_download_of_the_same_playlist_extends_the_users_playlist(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, plex: PlexSimulator
) -> None:
    async with await signed_in_client(worker_app, alice) as client:
        await client.post("/api/youtube/download", json={"url": media.feed_url()})
        first = await wait_for(worker_app, all_finished(1), user_id=alice.id)
        media.add_item("Clip Four")
        media.set_feed_title("Loopback Test Channel")
        await client.post("/api/youtube/download", json={"url": media.feed_url()})
        rows = await wait_for(worker_app, all_finished(2), user_id=alice.id)

    assert rows[1].status == "completed", rows[1].error
    assert rows[1].plex_playlist_id == first[0].plex_playlist_id
    playlists = metadata(await plex_get(plex, "/playlists?playlistType=video", ALICE_SERVER_TOKEN))
    assert len(playlists) == 1
    entries = metadata(
        await plex_get(plex, f"/playlists/{rows[1].plex_playlist_id}/items", ALICE_SERVER_TOKEN)
    )
    assert len(entries) == 4  # the three already there are not added twice


async def test_the_shared_collection_stays_a_per_download_choice(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, plex: PlexSimulator
) -> None:
    async with await signed_in_client(worker_app, alice) as client:
        response = await client.post(
            "/api/youtube/download", json={"url": media.feed_url(), "delivery": "collection"}
        )
        assert response.json()["data"]["delivery"] == "collection"
        rows = await wait_for(worker_app, all_finished(1), user_id=alice.id)

    assert rows[0].plex_collection_id is not None
    assert rows[0].plex_playlist_id is None
    assert metadata(await plex_get(plex, "/playlists?playlistType=video", ALICE_SERVER_TOKEN)) == []


async def test_a_user_without_a_plex_token_gets_the_collection(
    worker_app: MediaNestApp, admin: User, media: MediaServerSimulator
) -> None:
    async with await signed_in_client(worker_app, admin) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        assert response.json()["data"]["delivery"] == "collection"
        rows = await wait_for(worker_app, all_finished(1), user_id=admin.id)

    assert rows[0].status == "completed", rows[0].error
    assert rows[0].plex_collection_id is not None


async def test_the_admin_sets_the_default_delivery(
    admin_client: httpx.AsyncClient, alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    changed = await admin_client.put(
        "/api/admin/config/youtube", json={"defaultDelivery": "collection"}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["defaultDelivery"] == "collection"
    response = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    assert response.json()["data"]["delivery"] == "collection"
    assert (await alice_client.get("/api/admin/config/youtube")).status_code == 403


async def test_without_a_server_token_the_collection_is_used_and_items_stay_labelled(
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    plextv: PlexTvSimulator,
) -> None:
    plextv.unshare_server("alice")  # plex.tv lists no access token for this server
    async with await signed_in_client(worker_app, alice) as client:
        await client.post("/api/youtube/download", json={"url": media.feed_url()})
        rows = await wait_for(worker_app, all_finished(1), user_id=alice.id)

    assert rows[0].status == "completed", rows[0].error
    assert rows[0].delivery == "collection"
    assert rows[0].plex_collection_id is not None
    for rating_key in plex.collection_items(int(rows[0].plex_collection_id)):
        stored = plex.item(rating_key)
        assert stored is not None
        assert [label["tag"] for label in stored.get("Label", [])] == ["medianest:alice"]


async def test_the_download_form_offers_the_delivery_choice_and_says_what_was_chosen(
    app: MediaNestApp, alice: User, media: MediaServerSimulator
) -> None:
    html = {"Accept": "text/html", "HX-Request": "true"}
    async with await signed_in_client(app, alice) as client:
        page = await client.get("/youtube", headers={"Accept": "text/html"})
        assert 'name="delivery" value="playlist"' in page.text
        assert 'name="delivery" value="collection"' in page.text
        shared = await client.post(
            "/youtube/download",
            data={"url": media.feed_url(), "delivery": "collection"},
            headers=html,
        )
        private = await client.post(
            "/youtube/download",
            data={"url": media.feed_url("f2"), "delivery": "playlist"},
            headers=html,
        )
        bad = await client.post(
            "/youtube/download",
            data={"url": media.feed_url("f3"), "delivery": "public"},
            headers=html,
        )
        listed = (await client.get("/api/youtube/downloads")).json()["data"]
    assert "a shared collection" in shared.headers["hx-trigger"]
    assert "your private playlist" in private.headers["hx-trigger"]
    assert bad.status_code == 422  # as the API answers the same choice
    assert sorted(d["delivery"] for d in listed) == ["collection", "playlist"]
