"""Opening an artist (its albums, EPs too), an album (its tracks) and a photo album (its
albums and photos), through `/api/plex/items/{id}/children` and `/plex/items/{id}`, read
with the viewer's own token as the rest of browsing: a friend shared only "Movies"
cannot open the Music library's artist by id, the owner's admin can. Every response of
the viewer is checked for the Plex token."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plex_library import MOVIES_SECTION
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN, MACHINE_IDENTIFIER
from tests.factories.users import create_user, signed_in_client

LOOPBACK_QUARTET, NULL_ROUTES, BOGON, GARDEN = 301, 306, 310, 404
HTML = {"Accept": "text/html"}


def children_of(item_id: int | str) -> str:
    return f"/api/plex/items/{item_id}/children"


async def test_an_artist_opens_to_all_its_albums_eps_included_in_plexs_order(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    answer = await viewer.get(children_of(NULL_ROUTES))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [(a["title"], a["kind"], a["year"], a["leafCount"]) for a in body["data"]] == [
        ("Port 0", "album", 2021, 2),
        ("Bogon", "album", 2018, 3),
        ("Anycast", "album", 2023, 1),  # an EP: not among the artist's `/children` in Plex
    ]
    assert {a["parentTitle"] for a in body["data"]} == {"The Null Routes"}
    assert (body["meta"]["total"], body["meta"]["page"], body["meta"]["pageSize"]) == (3, 1, 50)
    # Asked as python-plexapi's Artist.albums asks (PR #884), not the artist's children.
    asked = [e.query for e in plex_sim.log.entries("/library/sections/4/all")]
    assert any("artist.id=306" in q and "type=9" in q for q in asked), asked
    assert plex_sim.log.count(f"/library/metadata/{NULL_ROUTES}/children") == 0


async def test_an_album_lists_its_tracks_in_order_a_page_at_a_time(
    viewer: httpx.AsyncClient,
) -> None:
    first = (await viewer.get(children_of(BOGON), params={"pageSize": 2})).json()
    second = (await viewer.get(children_of(BOGON), params={"pageSize": 2, "page": 2})).json()
    tracks = first["data"] + second["data"]
    assert [(t["index"], t["title"], t["kind"], t["durationMs"]) for t in tracks] == [
        (1, "Unallocated", "track", 201_000),
        (2, "Reserved", "track", 202_000),
        (3, "Documentation Prefix", "track", 203_000),
    ]
    assert {(t["parentTitle"], t["grandparentTitle"]) for t in tracks} == {
        ("Bogon", "The Null Routes")
    }
    assert [(m["total"], m["page"]) for m in (first["meta"], second["meta"])] == [(3, 1), (3, 2)]


async def test_a_photo_album_opens_to_its_photos_and_albums(viewer: httpx.AsyncClient) -> None:
    body = (await viewer.get(children_of(GARDEN))).json()
    assert [(i["title"], i["type"], i["kind"]) for i in body["data"]] == [
        ("Roses", "photo", "photo"),
        ("Spring", "photo", "photoalbum"),
    ]
    spring = body["data"][1]["ratingKey"]
    inner = (await viewer.get(children_of(spring))).json()
    assert [(i["title"], i["parentTitle"]) for i in inner["data"]] == [("Blossom", "Spring")]


async def test_the_pages_go_from_the_library_to_an_artist_an_album_and_its_tracks(
    viewer: httpx.AsyncClient,
) -> None:
    library = await viewer.get("/plex", params={"library": 4}, headers=HTML)
    assert f'href="/plex/items/{NULL_ROUTES}"' in library.text
    artist = await viewer.get(f"/plex/items/{NULL_ROUTES}", headers=HTML)
    assert artist.status_code == 200
    assert "<h1>The Null Routes</h1>" in artist.text and "3 albums" in artist.text
    assert f'href="/plex/items/{BOGON}"' in artist.text
    album = await viewer.get(f"/plex/items/{BOGON}", headers=HTML)
    assert album.status_code == 200
    assert f'href="/plex/items/{NULL_ROUTES}">← The Null Routes<' in album.text
    rows = re.findall(r"<tr data-track=\"\d+\">\s*<td>(\d+)</td>\s*<td>([^<]+)", album.text)
    assert rows == [("1", "Unallocated"), ("2", "Reserved"), ("3", "Documentation Prefix")]
    assert "3:21" in album.text  # 201 s
    photos = await viewer.get("/plex", params={"library": 5}, headers=HTML)
    assert f'href="/plex/items/{GARDEN}"' in photos.text
    movies = await viewer.get("/plex", params={"library": 1}, headers=HTML)
    assert "/plex/items/" not in movies.text  # films open in Plex, not here


@pytest.fixture
def movies_only(plextv: PlexTvSimulator, plex_sim: PlexSimulator) -> None:
    plextv.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=[MOVIES_SECTION])


async def test_a_friend_shared_only_movies_cannot_open_an_artist_the_owner_can(
    movies_only: None, viewer: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    owners = await admin_client.get(children_of(LOOPBACK_QUARTET))
    assert [a["title"] for a in owners.json()["data"]] == ["Echo Request"]
    for path in (children_of(LOOPBACK_QUARTET), children_of(BOGON), children_of(GARDEN)):
        refused = await viewer.get(path)
        assert refused.status_code == 404, refused.text
        assert refused.json()["success"] is False
        assert refused.json()["error"]["code"] == "NOT_FOUND"
        assert "Echo Request" not in refused.text
    page = await viewer.get(f"/plex/items/{LOOPBACK_QUARTET}", headers=HTML)
    assert page.status_code == 404 and "Echo Request" not in page.text
    assert (await admin_client.get(f"/plex/items/{LOOPBACK_QUARTET}", headers=HTML)).is_success


@pytest.mark.parametrize("item_id", ["abc", "-1", "0", "99999999999999999999", "1e3"])
async def test_a_hostile_id_gets_a_4xx_envelope(viewer: httpx.AsyncClient, item_id: str) -> None:
    answer = await viewer.get(children_of(item_id))
    assert answer.status_code == 422, answer.text
    assert answer.json()["success"] is False
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert len(item_id) < 3 or item_id not in answer.text  # the input is not echoed


async def test_what_cannot_be_opened_here_is_not_found(viewer: httpx.AsyncClient) -> None:
    # A film, a track, a photo, a collection's id and an id Plex does not know.
    for item_id in (101, 303, 402, 1003, 999_999):
        answer = await viewer.get(children_of(item_id))
        assert answer.status_code == 404, (item_id, answer.text)
        error = answer.json()["error"]
        assert (error["code"], error["message"]) == (
            "NOT_FOUND",
            "No such show, season, artist, album or photo album.",
        )


async def test_anonymous_callers_get_401(client: httpx.AsyncClient) -> None:
    answer = await client.get(children_of(LOOPBACK_QUARTET))
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "UNAUTHENTICATED"


async def test_while_plex_is_down_an_opened_album_is_kept_and_another_is_a_503(
    plex_sim: PlexSimulator, app_factory: Callable[[Settings], Any], settings: Settings
) -> None:
    app: MediaNestApp = await app_factory(
        settings.model_copy(update={"plex_library_cache_seconds": 0.01})
    )
    admin = await create_user(app, "admin2", role="admin")
    async with await signed_in_client(app, admin) as owner_view:
        fresh = await owner_view.get(children_of(BOGON))
        # The page reads its own page size: a listing of its own, read once before.
        assert (await owner_view.get(f"/plex/items/{BOGON}", headers=HTML)).is_success
        plex_sim.set_fault("error")
        kept = await owner_view.get(children_of(BOGON))
        never_read = await owner_view.get(children_of(GARDEN))
        kept_page = await owner_view.get(f"/plex/items/{BOGON}", headers=HTML)
        down_page = await owner_view.get(f"/plex/items/{GARDEN}", headers=HTML)
    assert fresh.json()["meta"]["stale"] is False
    assert kept.status_code == 200 and kept.json()["meta"]["stale"] is True
    assert [t["title"] for t in kept.json()["data"]] == [t["title"] for t in fresh.json()["data"]]
    assert never_read.status_code == 503
    assert never_read.json()["success"] is False
    assert never_read.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert kept_page.status_code == 200, kept_page.text[-3000:]
    assert "this is the last list it gave" in kept_page.text
    assert "Documentation Prefix" in kept_page.text
    assert down_page.status_code == 503
    assert f'href="/plex/items/{GARDEN}" data-action="try-again">Try again</a>' in down_page.text
