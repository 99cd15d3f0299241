"""Browsing the libraries a real home has besides films and shows: Music (artists →
albums → tracks), Photos (albums and photos, which Plex both calls `photo`) and an empty
Other Videos library, through the API and the pages. Every response is checked for the
Plex token."""

from __future__ import annotations

import re

import httpx

from medianest_simulators import PlexSimulator


async def test_libraries_say_their_kind_and_an_other_videos_library_is_told_from_movies(
    viewer: httpx.AsyncClient,
) -> None:
    body = (await viewer.get("/api/plex/libraries")).json()
    assert [(lib["id"], lib["type"], lib["kind"], lib["label"]) for lib in body["data"]] == [
        ("1", "movie", "movies", "Movies"),
        ("2", "show", "shows", "TV Shows"),
        ("3", "movie", "otherVideos", "Other Videos"),
        ("4", "artist", "music", "Music"),
        ("5", "photo", "photos", "Photos"),
        ("6", "movie", "otherVideos", "Other Videos"),
    ]
    page = await viewer.get("/plex", params={"library": 4}, headers={"Accept": "text/html"})
    assert 'href="/plex?library=6" data-kind="otherVideos"' in page.text
    assert re.search(r">Home Videos <span class=\"muted small\">Other Videos</span>", page.text)


async def test_a_photo_library_tells_its_albums_from_its_photos(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    answer = await viewer.get("/api/plex/library/5/items", params={"sort": "title"})
    assert answer.status_code == 200
    items = answer.json()["data"]
    assert [(i["title"], i["type"], i["kind"], i["year"]) for i in items] == [
        ("Garden", "photo", "photoalbum", None),
        ("Holidays 2023", "photo", "photoalbum", None),
        ("Scan 0001", "photo", "photo", 2022),
    ]
    assert all(i["posterUrl"].startswith("/api/plex/image?path=/library/") for i in items)
    poster = await viewer.get(items[0]["posterUrl"])
    assert poster.status_code == 200 and poster.headers["content-type"] == "image/png"

    page = await viewer.get("/plex", params={"library": 5}, headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert 'Photos <span class="muted small">(3 items)</span>' in page.text
    cards = re.findall(r'<p class="poster-meta">([^<]*)</p>', page.text)
    assert cards == ["Album", "Album", "2022"]
    # No "Newest" or "Rating": photo albums and photos have neither in Plex.
    assert 'value="-year"' not in page.text and 'value="-rating"' not in page.text
    assert "No collections in Photos." in page.text
    # Plex has no collections in a Photos library: it is not asked for them (plexapi
    # PhotoSection.collections refuses), neither for this library nor for "all".
    every = (await viewer.get("/api/plex/collections")).json()
    assert {c["libraryId"] for c in every["data"]} == {"1", "4"}
    one = (await viewer.get("/api/plex/collections", params={"libraryId": 5})).json()
    assert (one["data"], one["meta"]["total"]) == ([], 0)
    assert plex_sim.log.count("/library/sections/5/collections") == 0


async def test_a_music_library_lists_artists_and_its_collections_count_tracks_not_episodes(
    viewer: httpx.AsyncClient,
) -> None:
    artists = (await viewer.get("/api/plex/library/4/items", params={"sort": "-year"})).json()
    assert [(a["title"], a["kind"], a["year"]) for a in artists["data"]] == [
        ("Loopback Quartet", "artist", None),
        ("The Null Routes", "artist", None),
    ]
    found = (await viewer.get("/api/plex/library/4/items", params={"search": "null"})).json()
    assert [a["title"] for a in found["data"]] == ["The Null Routes"]
    collections = (await viewer.get("/api/plex/collections", params={"libraryId": 4})).json()
    assert [(c["title"], c["subtype"], c["childCount"]) for c in collections["data"]] == [
        ("Late Night", "artist", 2),
        ("Full Albums", "album", 2),
    ]
    albums_id = collections["data"][1]["id"]
    detail = (await viewer.get(f"/api/plex/collections/{albums_id}")).json()["data"]
    assert [(a["title"], a["kind"], a["year"], a["leafCount"]) for a in detail["items"]] == [
        ("Echo Request", "album", 2019, 3),
        ("Port 0", "album", 2021, 2),
    ]

    page = await viewer.get("/plex", params={"library": 4}, headers={"Accept": "text/html"})
    assert 'Music <span class="muted small">(2 artists)</span>' in page.text
    shown = await viewer.get(f"/plex/collections/{albums_id}", headers={"Accept": "text/html"})
    cards = re.findall(r'<p class="poster-meta">([^<]*)</p>', shown.text)
    assert cards == ["2019 · 3 tracks", "2021 · 2 tracks"]
    assert "episode" not in shown.text


async def test_an_empty_other_videos_library_is_browsed_as_empty(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    items = await viewer.get("/api/plex/library/6/items", params={"sort": "-year"})
    assert (items.status_code, items.json()["data"], items.json()["meta"]["total"]) == (
        200,
        [],
        0,
    )
    page = await viewer.get("/plex", params={"library": 6}, headers={"Accept": "text/html"})
    assert 'Home Videos <span class="muted small">(0 videos)</span>' in page.text
    assert "Nothing here yet." in page.text
    assert plex_sim.log.count("/library/sections/6/all") >= 1
