"""Plex browsing: libraries, items (paged, sorted, searched), collections, the ten-minute
cache and stale data while Plex is down. Every response is checked for the Plex token."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest_simulators import PlexSimulator
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN, CAROL_TOKEN
from tests.factories.users import create_user, signed_in_client
from tests.plex.conftest import refuse_token_leaks

ROUTES = [
    "/api/plex/libraries",
    "/api/plex/library/1/items",
    "/api/plex/collections",
    "/api/plex/collections/1001",
    "/api/plex/image?path=/library/metadata/101/thumb/1700000060",
]


@pytest.mark.parametrize("path", ROUTES)
async def test_anonymous_callers_get_401_everywhere(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_libraries_are_listed(viewer: httpx.AsyncClient) -> None:
    answer = await viewer.get("/api/plex/libraries")
    assert answer.status_code == 200
    body = answer.json()
    assert [(lib["id"], lib["title"], lib["type"]) for lib in body["data"]] == [
        ("1", "Movies", "movie"),
        ("2", "TV Shows", "show"),
        ("3", "YouTube", "movie"),
        ("4", "Music", "artist"),
        ("5", "Photos", "photo"),
        ("6", "Home Videos", "movie"),
    ]
    assert body["meta"]["stale"] is False


async def test_library_items_are_paged_with_plex_container_headers(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    answer = await viewer.get(
        "/api/plex/library/1/items", params={"page": 2, "pageSize": 3, "sort": "title"}
    )
    assert answer.status_code == 200
    body = answer.json()
    assert [i["title"] for i in body["data"]] == [
        "Cosmos Laundromat",
        "The Daily Dweebs",  # sorted as Plex does, without "The"
        "Elephants Dream",
    ]
    assert body["meta"] | {"page": 2, "pageSize": 3, "total": 8} == body["meta"]
    sent = plex_sim.log.entries("/library/sections/1/all")[-1]
    assert "X-Plex-Container-Start=3" in sent.query
    assert "X-Plex-Container-Size=3" in sent.query
    assert sent.headers["x-plex-container-start"] == "3"
    assert sent.headers["x-plex-container-size"] == "3"
    assert sent.headers["x-plex-token"] == ALICE_SERVER_TOKEN  # hers, not the owner's
    assert sent.headers["accept"] == "application/json"
    assert "X-Plex-Token" not in sent.query


async def test_library_items_carry_proxied_posters_only(viewer: httpx.AsyncClient) -> None:
    answer = await viewer.get("/api/plex/library/1/items", params={"search": "bunny"})
    (item,) = answer.json()["data"]
    assert item == item | {
        "ratingKey": "101",
        "type": "movie",
        "title": "Big Buck Bunny",
        "year": 2008,
        "posterUrl": "/api/plex/image?path=/library/metadata/101/thumb/1700000060",
        "contentRating": "G",
    }
    assert "file" not in answer.text  # Plex's file paths stay on the server


@pytest.mark.parametrize(
    ("sort", "field", "first"),
    [
        ("title", "title", "Agent 327: Operation Barbershop"),
        ("title:desc", "title", "Tears of Steel"),
        ("-year", "year", 2017),
        ("year:asc", "title", "Elephants Dream"),
        ("rating:desc", "title", "Agent 327: Operation Barbershop"),
    ],
)
async def test_library_items_sort(
    viewer: httpx.AsyncClient, sort: str, field: str, first: object
) -> None:
    answer = await viewer.get("/api/plex/library/1/items", params={"sort": sort})
    assert answer.json()["data"][0][field] == first


@pytest.mark.parametrize(
    "params",
    [
        {"pageSize": 101},
        {"pageSize": 0},
        {"page": 0},
        {"sort": "size"},
        {"sort": "title:sideways"},
        {"search": ""},
        {"search": "x" * 201},
    ],
)
async def test_bad_item_parameters_are_rejected(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator, params: dict[str, Any]
) -> None:
    answer = await viewer.get("/api/plex/library/1/items", params=params)
    assert answer.status_code in (400, 422)
    assert plex_sim.log.count("/library/sections/1/all") == 0


async def test_unknown_or_malformed_library_ids(viewer: httpx.AsyncClient) -> None:
    assert (await viewer.get("/api/plex/library/99/items")).status_code == 404
    assert (await viewer.get("/api/plex/library/abc/items")).status_code in (400, 422)
    assert (await viewer.get("/api/plex/library/0/items")).status_code in (400, 422)


async def test_collections_of_one_library_and_of_all(viewer: httpx.AsyncClient) -> None:
    movies = await viewer.get("/api/plex/collections", params={"libraryId": 1})
    shows = await viewer.get("/api/plex/collections", params={"libraryId": 2})
    everything = await viewer.get("/api/plex/collections")
    assert [(c["id"], c["title"], c["childCount"]) for c in movies.json()["data"]] == [
        ("1001", "Blender Open Movies", 4),
        ("1002", "Animal Shorts", 2),
    ]
    assert movies.json()["data"][0]["posterUrl"].startswith("/api/plex/image?path=/library/")
    assert shows.json()["data"] == []
    assert [c["title"] for c in everything.json()["data"]] == [
        "Animal Shorts",
        "Blender Open Movies",
        "Full Albums",  # the Music library's
        "Late Night",
    ]
    assert (await viewer.get("/api/plex/collections", params={"libraryId": 77})).status_code == 404


async def test_collection_lists_its_items(viewer: httpx.AsyncClient) -> None:
    answer = await viewer.get("/api/plex/collections/1001", params={"pageSize": 2})
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["title"] == "Blender Open Movies"
    assert data["libraryId"] == "1"
    assert data["total"] == 4
    assert [i["ratingKey"] for i in data["items"]] == ["101", "102"]


async def test_unknown_collection_or_an_item_is_not_a_collection(
    viewer: httpx.AsyncClient,
) -> None:
    assert (await viewer.get("/api/plex/collections/999999")).status_code == 404
    assert (await viewer.get("/api/plex/collections/101")).status_code == 404


async def test_library_data_is_cached(viewer: httpx.AsyncClient, plex_sim: PlexSimulator) -> None:
    for _ in range(3):
        assert (await viewer.get("/api/plex/libraries")).status_code == 200
        assert (await viewer.get("/api/plex/library/1/items")).status_code == 200
    assert plex_sim.log.count("/library/sections") == 1
    assert plex_sim.log.count("/library/sections/1/all") == 1


async def quick_cache_client(
    app_factory: Callable[[Settings], Any], settings: Settings, alice_client: httpx.AsyncClient
) -> httpx.AsyncClient:
    """A client of an app whose library cache goes out of date after 50 ms."""
    app: MediaNestApp = await app_factory(
        settings.model_copy(update={"plex_library_cache_seconds": 0.05})
    )
    carol = await create_user(app, "carol", plex_id="1005", plex_token=CAROL_TOKEN)
    client = await signed_in_client(app, carol)
    client.event_hooks["response"].append(refuse_token_leaks)
    return client


async def test_plex_down_serves_last_known_good_marked_stale(
    app_factory: Callable[[Settings], Any],
    settings: Settings,
    alice_client: httpx.AsyncClient,
    plex_sim: PlexSimulator,
) -> None:
    async with await quick_cache_client(app_factory, settings, alice_client) as carol:
        fresh = await carol.get("/api/plex/library/1/items", params={"pageSize": 5})
        collection = await carol.get("/api/plex/collections/1001")
        await asyncio.sleep(0.1)
        plex_sim.set_fault("error")
        stale = await carol.get("/api/plex/library/1/items", params={"pageSize": 5})
        stale_collection = await carol.get("/api/plex/collections/1001")
        never_seen = await carol.get("/api/plex/library/2/items")
    assert stale.status_code == 200
    assert stale.json()["data"] == fresh.json()["data"]
    assert stale.json()["meta"]["stale"] is True
    # When Plex gave the data it serves, the same as the fresh answer said: at least the
    # 0.1 s waited before this answer was made.
    read_at = datetime.fromisoformat(stale.json()["meta"]["dataAt"])
    assert read_at == datetime.fromisoformat(fresh.json()["meta"]["dataAt"])
    assert datetime.fromisoformat(stale.json()["meta"]["timestamp"]) - read_at >= timedelta(
        seconds=0.1
    )
    assert stale_collection.json()["data"] == collection.json()["data"]
    assert stale_collection.json()["meta"]["stale"] is True
    assert never_seen.status_code == 503
    assert never_seen.json()["error"]["code"] == "SERVICE_UNAVAILABLE"


async def test_plex_unreachable_without_cache_is_503(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    plex_sim.set_fault("hang", delay=30)
    plex_sim.stop()
    try:
        answer = await viewer.get("/api/plex/libraries")
    finally:
        plex_sim.start()
    assert answer.status_code == 503
    assert answer.json()["error"]["details"]["service"] == "plex"


async def test_plex_refusing_the_token_is_an_upstream_error(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    plex_sim.set_fault("unauthorized")
    answer = await viewer.get("/api/plex/libraries")
    assert answer.status_code == 502
    assert answer.json()["error"]["code"] == "UPSTREAM_ERROR"


async def test_an_account_plex_tv_gives_no_token_for_this_server_has_no_playlists_here(
    viewer: httpx.AsyncClient,
) -> None:
    # Alice has a Plex account, but plex.tv hands out no token for this server (here it
    # cannot be asked at all): her playlists on it are none, not a server error.
    listed = await viewer.get("/api/plex/playlists")
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"] == []
    assert (await viewer.get("/api/plex/playlists/1")).status_code == 404


async def test_own_playlists_are_read_once_per_cache_period_and_a_new_one_shows_at_once(
    app: MediaNestApp, admin_client: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    """The Plex page lists the user's playlists on every load: read through the library
    cache, and re-read as soon as MediaNest itself changed the library."""
    plex_sim.log.clear()
    first = await admin_client.get("/api/plex/playlists")
    second = await admin_client.get("/api/plex/playlists")
    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["data"] == second.json()["data"]
    assert plex_sim.request_count("/playlists") == 1
    owner = await app.ctx.integrations.plex()
    assert owner is not None
    await owner.create_playlist("Made Just Now", [101])
    listed = await admin_client.get("/api/plex/playlists")
    assert "Made Just Now" in {p["title"] for p in listed.json()["data"]}
