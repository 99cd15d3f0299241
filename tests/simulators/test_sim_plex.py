"""Plex Media Server simulator: library, paging, collections, refresh, images, playlists
privacy and labels."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plextv_models import (
    ALICE_SERVER_TOKEN,
    BOB_SERVER_TOKEN,
    MACHINE_IDENTIFIER,
    OWNER_TOKEN,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def uri(*keys: int) -> str:
    joined = ",".join(str(k) for k in keys)
    return f"server://{MACHINE_IDENTIFIER}/com.plexapp.plugins.library/library/metadata/{joined}"


@pytest.fixture
def get(plex: PlexSimulator, http: httpx.Client):
    def call(path: str, token: str = OWNER_TOKEN, **kwargs) -> httpx.Response:
        headers = {"X-Plex-Token": token, "Accept": "application/json"} | kwargs.pop("headers", {})
        return http.get(plex.url + path, headers=headers, **kwargs)

    return call


def send(
    plex: PlexSimulator,
    http: httpx.Client,
    method: str,
    url_path: str,
    token: str = OWNER_TOKEN,
    **params,
) -> httpx.Response:
    return http.request(
        method,
        plex.url + url_path,
        params=params,
        headers={"X-Plex-Token": token, "Accept": "application/json"},
    )


def metadata(answer: httpx.Response) -> list[dict]:
    assert answer.status_code == 200, answer.text
    return answer.json()["MediaContainer"].get("Metadata", [])


def test_identity_needs_no_token_but_the_library_does(get, plex: PlexSimulator) -> None:
    identity = get("/identity", token="").json()["MediaContainer"]
    assert identity["machineIdentifier"] == MACHINE_IDENTIFIER
    assert identity["claimed"] is True
    assert get("/library/sections", token="wrong").status_code == 401
    assert get("/", token="").status_code == 401
    assert get("/").json()["MediaContainer"]["myPlexUsername"] == "plexowner"


def test_the_token_is_accepted_as_a_query_parameter(
    plex: PlexSimulator, http: httpx.Client
) -> None:
    answer = http.get(plex.url + "/library/sections", params={"X-Plex-Token": OWNER_TOKEN})
    assert answer.status_code == 200


def test_sections_are_movies_shows_a_youtube_folder_music_photos_and_other_videos(
    get, plex: PlexSimulator
) -> None:
    dirs = get("/library/sections").json()["MediaContainer"]["Directory"]
    assert [(d["key"], d["type"], d["title"], d["scanner"]) for d in dirs] == [
        ("1", "movie", "Movies", "Plex Movie"),
        ("2", "show", "TV Shows", "Plex TV Series"),
        ("3", "movie", "YouTube", "Plex Video Files"),
        ("4", "artist", "Music", "Plex Music"),
        ("5", "photo", "Photos", "Plex Photo Scanner"),
        ("6", "movie", "Home Videos", "Plex Video Files"),
    ]
    assert dirs[2]["Location"][0]["path"] == plex.youtube_dir


def test_a_photo_library_lists_albums_and_photos_both_as_type_photo(get) -> None:
    """plex-api.rs tests/mocks/server/media/photo_library.json and photo_album.json: in
    JSON only `key` (…/children) and `Media` tell a photo album from a photo."""
    top = get("/library/sections/5/all").json()["MediaContainer"]
    assert [(m["type"], m["title"], m["key"].endswith("/children")) for m in top["Metadata"]] == [
        ("photo", "Holidays 2023", True),
        ("photo", "Garden", True),
        ("photo", "Scan 0001", False),
    ]
    assert "year" not in top["Metadata"][0] and "Media" not in top["Metadata"][0]
    garden = get(top["Metadata"][1]["key"]).json()["MediaContainer"]["Metadata"]
    assert [(m["title"], "Media" in m) for m in garden] == [("Roses", True), ("Spring", False)]
    assert get("/library/sections/5/collections").json()["MediaContainer"]["size"] == 0


def test_a_music_library_lists_artists_then_albums_with_their_tracks(get) -> None:
    artists = get("/library/sections/4/all").json()["MediaContainer"]["Metadata"]
    assert [(a["type"], a["title"]) for a in artists] == [
        ("artist", "Loopback Quartet"),
        ("artist", "The Null Routes"),
    ]
    assert all("year" not in a and "duration" not in a for a in artists)
    albums = get("/library/sections/4/all", params={"type": 9}).json()["MediaContainer"]
    assert [(a["title"], a["parentTitle"], a["leafCount"]) for a in albums["Metadata"]] == [
        ("Echo Request", "Loopback Quartet", 3),
        ("Port 0", "The Null Routes", 2),
        ("Bogon", "The Null Routes", 3),
        ("Anycast", "The Null Routes", 1),
    ]
    collections = get("/library/sections/4/collections").json()["MediaContainer"]["Metadata"]
    assert [(c["title"], c["subtype"]) for c in collections] == [
        ("Late Night", "artist"),
        ("Full Albums", "album"),
    ]


def test_section_items_page_with_headers_or_query_and_report_the_total(get) -> None:
    by_header = get(
        "/library/sections/1/all",
        params={"sort": "titleSort:asc"},
        headers={"X-Plex-Container-Start": "2", "X-Plex-Container-Size": "3"},
    )
    by_query = get(
        "/library/sections/1/all",
        params={"sort": "titleSort:asc", "X-Plex-Container-Start": 2, "X-Plex-Container-Size": 3},
    )
    assert by_header.headers["X-Plex-Container-Total-Size"] == "8"
    body = by_header.json()["MediaContainer"]
    assert (body["size"], body["totalSize"], body["offset"]) == (3, 8, 2)
    assert [m["ratingKey"] for m in metadata(by_header)] == [
        m["ratingKey"] for m in metadata(by_query)
    ]
    movie = metadata(by_header)[0]
    assert {
        "ratingKey",
        "key",
        "guid",
        "type",
        "title",
        "year",
        "summary",
        "thumb",
        "art",
        "addedAt",
        "updatedAt",
        "duration",
        "contentRating",
        "rating",
    } <= set(movie)


def test_section_items_sort_and_filter_by_title(get) -> None:
    ascending = [
        m["titleSort"]
        for m in metadata(get("/library/sections/1/all", params={"sort": "titleSort:asc"}))
    ]
    assert ascending == sorted(ascending, key=str.lower)
    descending = metadata(get("/library/sections/1/all", params={"sort": "titleSort:desc"}))
    assert [m["titleSort"] for m in descending] == ascending[::-1]
    newest = metadata(get("/library/sections/1/all", params={"sort": "addedAt:desc"}))
    assert newest[0]["addedAt"] >= newest[-1]["addedAt"]
    assert [
        m["title"] for m in metadata(get("/library/sections/1/all", params={"title": "bunny"}))
    ] == ["Big Buck Bunny"]


def test_shows_have_seasons_and_episodes(get) -> None:
    shows = metadata(get("/library/sections/2/all"))
    assert len(shows) >= 3
    episodes = metadata(get("/library/sections/2/all", params={"type": 4}))
    assert episodes and all(e["type"] == "episode" for e in episodes)
    seasons = metadata(get(f"/library/metadata/{shows[0]['ratingKey']}/children"))
    assert [s.get("type") for s in seasons] == [None, "season", "season"]


def test_a_shows_children_lead_with_all_episodes_unless_told_excludeallleaves(get) -> None:
    """Plex puts an "All episodes" Directory (no ratingKey, no type) before a show's
    seasons unless asked `excludeAllLeaves=1`, as python-plexapi video.py Show.seasons
    always asks; seasons come in `index` order with their episode count, episodes with
    their season's number, show and air date."""
    plain = get("/library/metadata/201/children").json()["MediaContainer"]
    assert plain["Metadata"][0] == {
        "key": "/library/metadata/201/allLeaves",
        "title": "All episodes",
        "leafCount": 6,
        "viewedLeafCount": 0,
        "thumb": "/library/metadata/201/thumb/1700000060",
    }
    assert (plain["size"], plain["totalSize"], plain["viewGroup"]) == (3, 3, "season")
    xml = get("/library/metadata/201/children", headers={"Accept": "*/*"}).text
    assert '<Directory key="/library/metadata/201/allLeaves" title="All episodes"' in xml
    seasons = get("/library/metadata/201/children", params={"excludeAllLeaves": 1}).json()
    assert [
        (s["type"], s["index"], s["title"], s["leafCount"], s["viewedLeafCount"], s["parentTitle"])
        for s in seasons["MediaContainer"]["Metadata"]
    ] == [
        ("season", 1, "Season 1", 3, 0, "Pioneer One"),
        ("season", 2, "Season 2", 3, 0, "Pioneer One"),
    ]
    episodes = metadata(get("/library/metadata/206/children"))
    assert [
        (
            e["index"],
            e["title"],
            e["parentIndex"],
            e["grandparentTitle"],
            e["originallyAvailableAt"],
        )
        for e in episodes
    ] == [
        (1, "Homecoming", 2, "Pioneer One", "2011-01-08"),
        (2, "Quarantine", 2, "Pioneer One", "2011-01-15"),
        (3, "Eclipse", 2, "Pioneer One", "2011-01-22"),
    ]
    assert {(e["type"], e["parentRatingKey"], e["duration"]) for e in episodes} == {
        ("episode", "206", 1_500_000)
    }


def test_collections_are_listed_and_their_items_served(get) -> None:
    collections = metadata(get("/library/sections/1/collections"))
    assert collections == metadata(get("/library/sections/1/all", params={"type": 18}))
    first = collections[0]
    assert {"ratingKey", "title", "childCount", "thumb"} <= set(first)
    children = metadata(get(f"/library/collections/{first['ratingKey']}/children"))
    assert len(children) == int(first["childCount"])
    assert children == metadata(get(f"/library/collections/{first['ratingKey']}/items"))


def test_collections_are_created_changed_and_deleted(
    plex: PlexSimulator, http: httpx.Client, get
) -> None:
    created = send(
        plex,
        http,
        "POST",
        "/library/collections",
        type=1,
        title="Picks",
        smart=0,
        sectionId=1,
        uri=uri(101, 102),
    )
    rk = metadata(created)[0]["ratingKey"]
    send(plex, http, "PUT", f"/library/collections/{rk}/items", uri=uri(103))
    assert [m["ratingKey"] for m in metadata(get(f"/library/collections/{rk}/children"))] == [
        "101",
        "102",
        "103",
    ]
    assert send(plex, http, "DELETE", f"/library/collections/{rk}/items/102").status_code == 200
    assert plex.collection_items(int(rk)) == [101, 103]
    assert send(plex, http, "DELETE", f"/library/metadata/{rk}").status_code == 200
    assert get(f"/library/collections/{rk}/children").status_code == 404


def test_creating_a_collection_in_an_unknown_section_is_a_bad_request(
    plex: PlexSimulator, http: httpx.Client
) -> None:
    answer = send(
        plex,
        http,
        "POST",
        "/library/collections",
        type=1,
        title="X",
        smart=0,
        sectionId=99,
        uri=uri(101),
    )
    assert answer.status_code == 400


def test_shared_users_cannot_change_the_library(plex: PlexSimulator, http: httpx.Client) -> None:
    answer = send(
        plex,
        http,
        "POST",
        "/library/collections",
        token=ALICE_SERVER_TOKEN,
        type=1,
        title="X",
        sectionId=1,
        uri=uri(101),
    )
    assert answer.status_code == 401


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_refresh_scans_the_youtube_folder(
    plex: PlexSimulator, http: httpx.Client, get, method: str
) -> None:
    folder = Path(plex.youtube_dir) / "user-1" / "My Playlist"
    folder.mkdir(parents=True)
    (folder / "First Video.mp4").write_bytes(b"\x00" * 64)
    (folder / "Second Video.webm").write_bytes(b"\x00" * 64)
    (folder / "notes.txt").write_text("not media")
    answer = send(plex, http, method, "/library/sections/3/refresh", path=str(folder))
    assert answer.status_code == 200 and answer.content == b""
    items = metadata(get("/library/sections/3/all", params={"sort": "titleSort:asc"}))
    assert [i["title"] for i in items] == ["First Video", "Second Video"]
    assert items[0]["Media"][0]["Part"][0]["file"] == str((folder / "First Video.mp4").resolve())
    assert int(items[0]["ratingKey"]) > 5000
    refreshes = http.get(plex.url + "/__sim/refreshes").json()
    assert refreshes["count"] == 1
    assert refreshes["refreshes"][0]["method"] == method
    assert refreshes["refreshes"][0]["path"] == str(folder)
    send(plex, http, method, "/library/sections/3/refresh")
    assert len(metadata(get("/library/sections/3/all"))) == 2  # no duplicates


def test_refresh_drops_items_whose_files_are_gone(
    plex: PlexSimulator, http: httpx.Client, get
) -> None:
    video = Path(plex.youtube_dir) / "clip.mp4"
    video.write_bytes(b"\x00")
    plex.scan()
    video.unlink()
    send(plex, http, "GET", "/library/sections/3/refresh")
    assert metadata(get("/library/sections/3/all")) == []


def test_images_are_real_pngs_behind_the_token(get) -> None:
    movie = metadata(get("/library/metadata/101"))[0]
    thumb = get(movie["thumb"])
    assert thumb.headers["content-type"] == "image/png"
    assert thumb.content.startswith(PNG_MAGIC)
    assert get(movie["thumb"], token="").status_code == 401
    transcoded = get(
        "/photo/:/transcode", params={"url": movie["thumb"], "width": 20, "height": 30}
    )
    assert transcoded.content.startswith(PNG_MAGIC)


def test_search_answers_hubs(get) -> None:
    hubs = get("/hubs/search", params={"query": "sintel", "limit": 5}).json()["MediaContainer"]
    movie_hub = next(h for h in hubs["Hub"] if h["type"] == "movie")
    assert {"hubIdentifier", "title", "size"} <= set(movie_hub)
    assert [m["title"] for m in movie_hub["Metadata"]] == ["Sintel"]


def test_playlists_are_private_to_the_account_that_made_them(
    plex: PlexSimulator, http: httpx.Client, get
) -> None:
    created = send(
        plex,
        http,
        "POST",
        "/playlists",
        token=ALICE_SERVER_TOKEN,
        type="video",
        title="Alice's",
        smart=0,
        uri=uri(101, 102),
    )
    playlist = metadata(created)[0]
    assert (playlist["playlistType"], playlist["leafCount"]) == ("video", 2)
    rk = playlist["ratingKey"]
    mine = get("/playlists", token=ALICE_SERVER_TOKEN, params={"playlistType": "video"})
    assert [p["ratingKey"] for p in metadata(mine)] == [rk]
    assert metadata(get("/playlists", token=BOB_SERVER_TOKEN)) == []
    assert metadata(get("/playlists", token=OWNER_TOKEN)) == []
    for token in (BOB_SERVER_TOKEN, OWNER_TOKEN):
        assert get(f"/playlists/{rk}/items", token=token).status_code == 404
        assert send(plex, http, "DELETE", f"/playlists/{rk}", token=token).status_code == 404
    send(plex, http, "PUT", f"/playlists/{rk}/items", token=ALICE_SERVER_TOKEN, uri=uri(103))
    items = metadata(get(f"/playlists/{rk}/items", token=ALICE_SERVER_TOKEN))
    assert [i["ratingKey"] for i in items] == ["101", "102", "103"]
    assert all("playlistItemID" in i for i in items)
    assert (
        send(plex, http, "DELETE", f"/playlists/{rk}", token=ALICE_SERVER_TOKEN).status_code == 200
    )


def test_labels_are_stored_and_returned_in_metadata(
    plex: PlexSimulator, http: httpx.Client, get
) -> None:
    answer = send(
        plex,
        http,
        "PUT",
        "/library/sections/1/all",
        type=1,
        id=104,
        **{"label[0].tag.tag": "medianest-alice", "label.locked": 1},
    )
    assert answer.status_code == 200
    assert metadata(get("/library/metadata/104"))[0]["Label"] == [{"tag": "medianest-alice"}]
    refused = send(
        plex,
        http,
        "PUT",
        "/library/sections/1/all",
        token=BOB_SERVER_TOKEN,
        type=1,
        id=104,
        **{"label[0].tag.tag": "x"},
    )
    assert refused.status_code == 401


def test_a_share_filter_hides_items_by_label(plex: PlexSimulator, http: httpx.Client, get) -> None:
    send(
        plex,
        http,
        "PUT",
        "/library/sections/1/all",
        type=1,
        id=105,
        **{"label[0].tag.tag": "private", "label.locked": 1},
    )
    http.post(plex.url + "/__sim/restrictions/bob", json={"filterMovies": "label!=private"})
    titles = {
        m["ratingKey"] for m in metadata(get("/library/sections/1/all", token=BOB_SERVER_TOKEN))
    }
    assert "105" not in titles and "104" in titles
    assert get("/library/metadata/105", token=BOB_SERVER_TOKEN).status_code == 404
    assert get("/library/metadata/105", token=ALICE_SERVER_TOKEN).status_code == 200


def test_an_edited_content_rating_is_locked_and_decides_what_a_kid_sees(
    plex: PlexSimulator, http: httpx.Client, get
) -> None:
    """python-plexapi `editContentRating` (mixins.py `editField`, sent by library.py
    `LibrarySection._edit`), on items (ids joined as `multiEdit`) and a collection."""
    http.post(plex.url + "/__sim/restrictions/bob", json={"filterMovies": "contentRating=G%2CPG"})
    assert get("/library/metadata/104", token=BOB_SERVER_TOKEN).status_code == 404
    assert get("/library/collections/1001", token=BOB_SERVER_TOKEN).status_code == 404
    rating = {"contentRating.value": "PG", "contentRating.locked": 1}
    refused = send(plex, http, "PUT", "/library/sections/1/all", token=BOB_SERVER_TOKEN,
                   type=1, id="103,104", **rating)  # fmt: skip
    assert refused.status_code == 401
    unknown = send(plex, http, "PUT", "/library/sections/1/all", type=1, id="104,9999", **rating)
    assert unknown.status_code == 400
    edited = send(plex, http, "PUT", "/library/sections/1/all", type=1, id="103,104", **rating)
    assert edited.status_code == 200
    for rk in ("103", "104"):
        item = metadata(get(f"/library/metadata/{rk}", token=BOB_SERVER_TOKEN))[0]
        assert item["contentRating"] == "PG"
        assert item["Field"] == [{"name": "contentRating", "locked": True}]
    rating = {"contentRating.value": "G", "contentRating.locked": 1}
    send(plex, http, "PUT", "/library/sections/1/all", type=18, id=1001, **rating)
    collection = metadata(get("/library/collections/1001", token=BOB_SERVER_TOKEN))[0]
    assert collection["contentRating"] == "G"
    assert get("/library/collections/1002", token=BOB_SERVER_TOKEN).status_code == 404


@pytest.fixture
def linked(plex_shares: PlexTvSimulator) -> PlexTvSimulator:
    """Plex taking its shared users from plex.tv, as Plex Media Server does."""
    return plex_shares


def test_a_share_of_some_libraries_is_what_the_friends_token_reads(
    linked: PlexTvSimulator, get
) -> None:
    """plex.tv shares alice Movies only: her token lists Movies, and Plex refuses (401,
    as for a library not shared: varthe/Defaulterr#36) every other library's items,
    collections, metadata and images; the owner's token and bob's (all libraries) read
    everything."""
    linked.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=[1])
    listed = get("/library/sections", token=ALICE_SERVER_TOKEN).json()["MediaContainer"]
    assert [d["title"] for d in listed["Directory"]] == ["Movies"]
    assert get("/library/sections/1/all", token=ALICE_SERVER_TOKEN).status_code == 200
    for path in (
        "/library/sections/5/all",
        "/library/sections/4/collections",
        "/library/metadata/401",
        "/library/metadata/401/thumb/1",
        "/library/collections/1003",
        "/library/collections/1003/children",
        "/library/collections/1003/composite/1",
    ):
        assert get(path, token=ALICE_SERVER_TOKEN).status_code == 401, path
        assert get(path, token=BOB_SERVER_TOKEN).status_code == 200, path
        assert get(path).status_code == 200, path
    resized = get(
        "/photo/:/transcode",
        token=ALICE_SERVER_TOKEN,
        params={"url": "/library/metadata/401/thumb/1", "width": 8, "height": 8},
    )
    assert resized.status_code == 401
    found = get("/hubs/search", token=ALICE_SERVER_TOKEN, params={"query": "a"}).json()
    sections = {
        m.get("librarySectionID") for h in found["MediaContainer"]["Hub"] for m in h["Metadata"]
    }
    assert sections <= {1, "1"}


def test_a_removed_share_token_is_refused(linked: PlexTvSimulator, get) -> None:
    assert get("/library/sections", token=ALICE_SERVER_TOKEN).status_code == 200
    linked.unshare_server("alice")
    assert get("/library/sections", token=ALICE_SERVER_TOKEN).status_code == 401
    assert get("/library/sections", token=BOB_SERVER_TOKEN).status_code == 200


def test_a_playlist_takes_only_items_of_the_libraries_shared_with_its_account(
    linked: PlexTvSimulator, plex: PlexSimulator, http: httpx.Client, get
) -> None:
    """Plex resolves a playlist's items as the account that asks: a friend shared Movies
    only cannot make a playlist of a Photos item nor add one, and a playlist made before
    the share narrowed lists only what the share still includes."""
    made = send(
        plex, http, "POST", "/playlists", token=ALICE_SERVER_TOKEN, type="video",
        title="Mixed", smart=0, uri=uri(101, 401),
    )  # fmt: skip
    rk = metadata(made)[0]["ratingKey"]
    items = metadata(get(f"/playlists/{rk}/items", token=ALICE_SERVER_TOKEN))
    assert [i["ratingKey"] for i in items] == ["101", "401"]  # every library shared so far
    linked.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=[1])
    items = metadata(get(f"/playlists/{rk}/items", token=ALICE_SERVER_TOKEN))
    assert [i["ratingKey"] for i in items] == ["101"]
    refused = send(
        plex, http, "POST", "/playlists", token=ALICE_SERVER_TOKEN, type="video",
        title="Photos", smart=0, uri=uri(401),
    )  # fmt: skip
    assert refused.status_code == 400
    added = send(
        plex, http, "PUT", f"/playlists/{rk}/items", token=ALICE_SERVER_TOKEN, uri=uri(401)
    )
    assert added.status_code == 400


def test_an_artists_children_are_its_true_albums_and_artist_id_lists_its_eps_too(get) -> None:
    """Plex moved EPs, singles, live albums and compilations from an artist's `/children`
    to its hubs; python-plexapi's `Artist.albums` asks `/all?type=9&artist.id=` for
    all of them (pushingkarmaorg/python-plexapi PR #884)."""
    children = get("/library/metadata/306/children").json()["MediaContainer"]
    assert [a["title"] for a in children["Metadata"]] == ["Port 0", "Bogon"]
    assert (children["viewGroup"], children["title2"], children["totalSize"]) == (
        "album",
        "The Null Routes",
        2,
    )
    every = get("/library/sections/4/all", params={"type": 9, "artist.id": 306}).json()
    albums = every["MediaContainer"]["Metadata"]
    assert [(a["title"], a.get("Format")) for a in albums] == [
        ("Port 0", None),
        ("Bogon", None),
        ("Anycast", [{"tag": "EP"}]),
    ]
    tracks = get("/library/metadata/310/children", params={"X-Plex-Container-Size": 2}).json()
    body = tracks["MediaContainer"]
    assert (body["totalSize"], body["viewGroup"], body["librarySectionID"]) == (3, "track", 4)
    assert [(t["index"], t["title"], t["grandparentTitle"]) for t in body["Metadata"]] == [
        (1, "Unallocated", "The Null Routes"),
        (2, "Reserved", "The Null Routes"),
    ]


def test_a_shared_users_children_follow_their_share(plex: PlexSimulator, get) -> None:
    plex.share_sections("alice", [1])
    for key in (306, 310, 404):
        assert get(f"/library/metadata/{key}/children", token=ALICE_SERVER_TOKEN).status_code == 401
    plex.share_sections("alice", [1, 4])
    assert get("/library/metadata/310/children", token=ALICE_SERVER_TOKEN).status_code == 200
