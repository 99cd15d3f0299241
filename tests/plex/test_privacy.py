"""Nobody sees another user's YouTube downloads on MediaNest's Plex pages or API (library
items, search, collections, collection pages, posters); admins see everything. Plex
names the download root at a path of its own (the mapping decides whose a file is)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from medianest.auth.models import User
from medianest.settings import Settings
from medianest_simulators import PlexSimulator
from medianest_simulators.plextv_models import OWNER_TOKEN
from tests.plex.downloads_in_plex import ALICE_TITLE, BOB_TITLE, Downloads, place_downloads

HTML = {"Accept": "text/html"}


@pytest.fixture
def settings(make_settings: Callable[..., Settings], plex_sim: PlexSimulator) -> Settings:
    # MediaNest's own path is not Plex's: ownership is read through the mapping.
    return make_settings(
        plex_url=plex_sim.url,
        plex_token=OWNER_TOKEN,
        download_root="/srv/medianest/downloads",
        youtube_plex_path=plex_sim.youtube_dir,
    )


@pytest.fixture
def downloads(plex_sim: PlexSimulator, alice: User, bob: User) -> Downloads:
    return place_downloads(plex_sim, alice, bob)


async def titles(client: httpx.AsyncClient, path: str) -> tuple[list[str], int]:
    answer = await client.get(path)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return sorted(i["title"] for i in body["data"]), body["meta"]["total"]


async def test_library_items_show_a_user_only_their_own_downloads(
    downloads: Downloads,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    path = "/api/plex/library/3/items?sort=title"
    assert await titles(bob_client, path) == ([BOB_TITLE], 1)
    assert await titles(alice_client, path) == ([ALICE_TITLE], 1)
    assert await titles(admin_client, path) == (sorted([ALICE_TITLE, BOB_TITLE]), 2)
    # Other libraries are untouched, and a search cannot find alice's title for bob.
    assert (await titles(bob_client, "/api/plex/library/1/items"))[1] == 8  # seeded movies
    assert await titles(bob_client, "/api/plex/library/3/items?search=Alice") == ([], 0)
    assert await titles(alice_client, "/api/plex/library/3/items?search=Alice") == (
        [ALICE_TITLE],
        1,
    )


async def test_paging_a_filtered_library_keeps_true_totals(
    downloads: Downloads, bob_client: httpx.AsyncClient
) -> None:
    first = await bob_client.get("/api/plex/library/3/items?pageSize=1&page=1")
    second = await bob_client.get("/api/plex/library/3/items?pageSize=1&page=2")
    assert [i["title"] for i in first.json()["data"]] == [BOB_TITLE]
    assert first.json()["meta"]["total"] == 1
    assert second.json()["data"] == []


async def test_collections_of_other_users_downloads_are_not_listed_or_opened(
    downloads: Downloads,
    bob_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    for path in ("/api/plex/collections?libraryId=3", "/api/plex/collections"):
        shown, _ = await titles(bob_client, path)
        assert "Alice Mix" not in shown and {"Bob Mix", "Both Of Us"} <= set(shown), path
        assert "Alice Mix" in (await titles(admin_client, path))[0]
    hidden = await bob_client.get(f"/api/plex/collections/{downloads.alice_collection}")
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "NOT_FOUND"
    # In a collection both fill, bob sees his item only.
    shared = await bob_client.get(f"/api/plex/collections/{downloads.shared_collection}")
    assert [i["title"] for i in shared.json()["data"]["items"]] == [BOB_TITLE]
    assert shared.json()["data"]["total"] == 1
    assert shared.json()["data"]["childCount"] == 1  # alice's item is not even counted
    listed = (await bob_client.get("/api/plex/collections?libraryId=3")).json()["data"]
    assert {c["title"]: c["childCount"] for c in listed}["Both Of Us"] == 1
    every = await admin_client.get(f"/api/plex/collections/{downloads.shared_collection}")
    assert every.json()["data"]["total"] == 2


async def test_posters_of_other_users_downloads_are_not_served(
    downloads: Downloads,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    item = f"/api/plex/image?path=/library/metadata/{downloads.alice_item}/thumb"
    collection = (
        f"/api/plex/image?path=/library/collections/{downloads.alice_collection}/composite/1"
    )
    for path in (item, collection):
        assert (await bob_client.get(path)).status_code == 404, path
        assert (await alice_client.get(path)).status_code == 200, path
        assert (await admin_client.get(path)).status_code == 200, path
    own = f"/api/plex/image?path=/library/metadata/{downloads.bob_item}/thumb"
    assert (await bob_client.get(own)).status_code == 200


async def test_the_plex_pages_leave_out_other_users_downloads(
    downloads: Downloads, bob_client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    page = await bob_client.get("/plex?library=3", headers=HTML)
    assert page.status_code == 200
    assert BOB_TITLE in page.text
    assert "Alice" not in page.text
    assert "Alice Mix" in (await admin_client.get("/plex?library=3", headers=HTML)).text
    hidden = await bob_client.get(f"/plex/collections/{downloads.alice_collection}", headers=HTML)
    assert hidden.status_code == 404
    assert "Alice" not in hidden.text
