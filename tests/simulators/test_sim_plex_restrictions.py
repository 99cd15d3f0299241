"""Share restrictions, as plex.tv keeps them and Plex Media Server applies them.

plex.tv stores an account's filters verbatim (python-plexapi myplex.py `updateFriend` →
`PUT /api/v2/sharings/{userId}?filterMovies=...`, strings from `_filterDictToStr`) and
lists them on `/api/users` `<User>` (`MyPlexUser.filterMovies`...). Plex takes them from
plex.tv with the share and applies them to that account's token wherever it answers with
media: listings, search, recently added, collections, metadata, children, images,
resized images and playlists — except `/library/collections/{id}/children`, which a real
server was measured to answer unfiltered (README-plex.md)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import httpx
import pytest

from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plex_restrictions import Restrictions, admits
from medianest_simulators.plextv_models import (
    ALICE_SERVER_TOKEN,
    BOB_SERVER_TOKEN,
    MACHINE_IDENTIFIER,
    OWNER_TOKEN,
)

myplex = pytest.importorskip("plexapi.myplex")
plexapi_utils = pytest.importorskip("plexapi.utils")

PG13 = (103, 104)  # Sintel, Tears of Steel: the seeded PG-13 films; the rest are G or PG
KIDS = {"contentRating": ["G", "PG"]}
CLIENT = {"X-Plex-Client-Identifier": "medianest-test-client", "X-Plex-Product": "MediaNest"}


@pytest.fixture
def get(plex: PlexSimulator, plex_shares: PlexTvSimulator, http: httpx.Client):
    """GET on Plex, which takes its shared users and their restrictions from plex.tv."""

    def call(path: str, token: str, **params: object) -> httpx.Response:
        headers = {"X-Plex-Token": token, "Accept": "application/json"}
        return http.get(plex.url + path, headers=headers, params=params)

    return call


def keys(answer: httpx.Response) -> set[int]:
    assert answer.status_code == 200, answer.text
    return {int(m["ratingKey"]) for m in answer.json()["MediaContainer"].get("Metadata", [])}


def hub_keys(answer: httpx.Response) -> set[int]:
    assert answer.status_code == 200, answer.text
    hubs = answer.json()["MediaContainer"]["Hub"]
    return {int(m["ratingKey"]) for hub in hubs for m in hub.get("Metadata", [])}


def update_friend(http: httpx.Client, plextv: PlexTvSimulator, user: str, **filters: dict) -> None:
    """What python-plexapi `MyPlexAccount.updateFriend(user, server, filterMovies=...)`
    sends for the filters: `PUT /api/v2/sharings/{userId}` with `_filterDictToStr`'s
    strings as query arguments (`utils.joinArgs`)."""
    strings = {k: myplex.MyPlexAccount._filterDictToStr(None, v) for k, v in filters.items()}
    path = myplex.MyPlexAccount.FRIENDUPDATE.format(userId=plextv.accounts[user].id)
    path = path.replace("https://plex.tv", plextv.url) + plexapi_utils.joinArgs(strings)
    answer = http.put(path, headers=CLIENT | {"X-Plex-Token": OWNER_TOKEN})
    assert answer.status_code == 200, answer.text


def test_restrictions_set_as_python_plexapi_does_are_listed_verbatim(
    plextv: PlexTvSimulator, http: httpx.Client
) -> None:
    update_friend(http, plextv, "bob", filterMovies=KIDS, filterTelevision={"label!": ["scary"]})
    listed = http.get(plextv.url + "/api/users", headers=CLIENT | {"X-Plex-Token": OWNER_TOKEN})
    users = {
        u.username: u
        for u in (
            myplex.MyPlexUser(None, e, initpath=myplex.MyPlexUser.key)
            for e in ET.fromstring(listed.content).iter("User")
        )
    }
    bob = users["bob"]
    assert (bob.filterMovies, bob.filterTelevision) == ("contentRating=G%2CPG", "label!=scary")
    assert (bob.filterMusic, bob.filterPhotos, bob.filterAll) == ("", "", "")
    assert users["alice"].filterMovies == ""
    shared = http.get(
        f"{plextv.url}/api/servers/{MACHINE_IDENTIFIER}/shared_servers",
        headers=CLIENT | {"X-Plex-Token": OWNER_TOKEN},
    )
    rows = {s.get("username"): s for s in ET.fromstring(shared.content).iter("SharedServer")}
    assert rows["bob"].get("filterMovies") == "contentRating=G%2CPG"
    # Only the filters named change (updateFriend sends what it was given).
    update_friend(http, plextv, "bob", filterMovies={})
    assert plextv.share_restrictions[("bob", MACHINE_IDENTIFIER)] == Restrictions.of(
        filterTelevision="label!=scary"
    )
    # Only the owner changes them, and only for someone the server is shared with.
    refused = http.put(
        f"{plextv.url}/api/v2/sharings/{plextv.accounts['bob'].id}?filterMovies=label%3Dx",
        headers=CLIENT | {"X-Plex-Token": plextv.accounts["alice"].auth_token},
    )
    assert refused.status_code == 404  # alice shares no server with bob
    stranger = http.put(
        f"{plextv.url}/api/v2/sharings/{plextv.accounts['eve'].id}?filterMovies=label%3Dx",
        headers=CLIENT | {"X-Plex-Token": OWNER_TOKEN},
    )
    assert stranger.status_code == 404


def test_a_kids_token_gets_only_the_ratings_its_share_allows_in_every_answer(
    plex_shares: PlexTvSimulator, http: httpx.Client, get
) -> None:
    """bob restricted to G and PG films; alice, on the same libraries, is not."""
    update_friend(http, plex_shares, "bob", filterMovies=KIDS)
    kid, friend = BOB_SERVER_TOKEN, ALICE_SERVER_TOKEN
    films = keys(get("/library/sections/1/all", kid))
    assert films == {101, 102, 105, 106, 107, 108}
    assert keys(get("/library/sections/1/all", friend)) == set(range(101, 109))
    assert keys(get("/library/sections/1/all", kid, type=1, title="Sintel")) == set()
    assert not set(PG13) & keys(get("/library/recentlyAdded", kid))
    assert set(PG13) <= keys(get("/library/recentlyAdded", friend))
    assert hub_keys(get("/hubs/search", kid, query="Tears")) == set()
    assert hub_keys(get("/hubs/search", friend, query="Tears")) == {104}
    for path in ("/library/metadata/104", "/library/metadata/104/thumb/1700000060"):
        assert get(path, kid).status_code == 404
        assert get(path, friend).status_code == 200
    resized = {"url": "/library/metadata/104/thumb/1700000060", "width": 32, "height": 48}
    assert get("/photo/:/transcode", kid, **resized).status_code == 404
    assert get("/photo/:/transcode", friend, **resized).status_code == 200
    # A collection has no content rating: an allow list of ratings leaves it out.
    assert keys(get("/library/sections/1/collections", kid)) == set()
    assert keys(get("/library/sections/1/all", kid, type=18)) == set()
    assert keys(get("/library/sections/1/collections", friend)) == {1001, 1002}
    for path in ("/library/metadata/1001", "/library/collections/1001"):
        assert get(path, kid).status_code == 404
    assert hub_keys(get("/hubs/search", kid, query="Blender")) == set()
    # filterTelevision is empty: the kid's shows are untouched.
    assert keys(get("/library/sections/2/all", kid)) == keys(get("/library/sections/2/all", friend))


def test_a_label_exclusion_hides_the_labelled_item_and_a_collections_filtered_children(
    plex: PlexSimulator, plex_shares: PlexTvSimulator, http: httpx.Client, get
) -> None:
    """Collection 1001 holds 101-104; bob's share excludes the label on 104. The
    collection stays (it has no such label); its children through `/library/metadata`
    leave 104 out, through `/library/collections` they do not (as on a real server)."""
    with plex.lock:
        plex.library.items[104].labels.append("Grown-Ups")
    update_friend(http, plex_shares, "bob", filterMovies={"label!": ["grown-ups"]})
    kid, friend = BOB_SERVER_TOKEN, ALICE_SERVER_TOKEN
    assert 104 not in keys(get("/library/sections/1/all", kid))  # labels match in any case
    assert keys(get("/library/sections/1/collections", kid)) == {1001, 1002}
    assert keys(get("/library/metadata/1001/children", kid)) == {101, 102, 103}
    assert keys(get("/library/metadata/1001/children", friend)) == {101, 102, 103, 104}
    assert keys(get("/library/collections/1001/children", kid)) == {101, 102, 103, 104}
    # A collection labelled as excluded is left out like an item.
    with plex.lock:
        plex.library.collections[1002].labels.append("grown-ups")
    assert keys(get("/library/sections/1/collections", kid)) == {1001}
    assert get("/library/metadata/1002/children", kid).status_code == 404
    composite = "/library/collections/1002/composite/1700000001"
    assert get(composite, kid).status_code == 404 and get(composite, friend).status_code == 200


def test_a_shows_restriction_covers_its_seasons_and_episodes(
    plex: PlexSimulator, plex_shares: PlexTvSimulator, http: httpx.Client, get
) -> None:
    """Labels go on the show; its seasons and episodes go with it (filterTelevision)."""
    with plex.lock:
        plex.library.items[201].labels.append("scary")
        episodes = [i.rating_key for i in plex.library.leaves(plex.library.items[201])]
    update_friend(http, plex_shares, "bob", filterTelevision={"label!": ["scary"]})
    kid = BOB_SERVER_TOKEN
    assert 201 not in keys(get("/library/sections/2/all", kid))
    assert get("/library/metadata/201/children", kid).status_code == 404
    assert get(f"/library/metadata/{episodes[0]}", kid).status_code == 404
    assert not set(episodes) & keys(get("/library/recentlyAdded", kid))
    assert not set(episodes) & hub_keys(get("/hubs/search", kid, query="Pioneer"))
    assert set(episodes) & keys(get("/library/recentlyAdded", ALICE_SERVER_TOKEN))


def test_a_kids_playlist_takes_and_lists_only_what_its_share_admits(
    plex: PlexSimulator, plex_shares: PlexTvSimulator, http: httpx.Client, get
) -> None:
    made = http.post(
        plex.url + "/playlists",
        headers={"X-Plex-Token": BOB_SERVER_TOKEN, "Accept": "application/json"},
        params={
            "type": "video",
            "title": "Saturday",
            "uri": f"server://{MACHINE_IDENTIFIER}/com.plexapp.plugins.library/library/metadata/101,104",
        },
    )
    playlist = int(keys(made).pop())
    assert keys(get(f"/playlists/{playlist}/items", BOB_SERVER_TOKEN)) == {101, 104}
    update_friend(http, plex_shares, "bob", filterMovies=KIDS)
    assert keys(get(f"/playlists/{playlist}/items", BOB_SERVER_TOKEN)) == {101}


def test_lifting_a_restriction_on_plex_tv_reaches_plex_at_the_next_request(
    plex_shares: PlexTvSimulator, http: httpx.Client, get
) -> None:
    update_friend(http, plex_shares, "bob", filterMovies=KIDS)
    assert 104 not in keys(get("/library/sections/1/all", BOB_SERVER_TOKEN))
    update_friend(http, plex_shares, "bob", filterMovies={})
    assert 104 in keys(get("/library/sections/1/all", BOB_SERVER_TOKEN))


@pytest.mark.parametrize(
    ("text", "labels", "rating", "expected"),
    [
        ("", [], None, True),
        ("contentRating=G%2CPG", [], "PG", True),
        ("contentRating=G,PG", [], "PG-13", False),
        ("contentRating=G%2CPG", [], None, False),  # a collection: no rating
        ("contentRating!=R", [], None, True),
        ("label=Kids", ["kids"], "R", True),  # labels match in any case
        ("label!=a%2Cb", ["B"], "G", False),
        ("contentRating=UK%3A+U%2CG", [], "UK: U", True),  # plex.tv's encoded values
        # Measured (shortlist pms_share_filter_*): `|` is OR, `&` AND, `(A|B)&C`.
        ("contentRating!=NC-17|label!=ours", ["ours"], "PG", True),
        ("contentRating!=NC-17&label!=ours", ["ours"], "PG", False),
        ("contentRating=G|label=recommended&contentRating=XYZNOPE", [], "G", False),
        ("contentRating=XYZNOPE&label=recommended|contentRating=G", [], "G", False),
        ("contentRating=G&label=row", ["row"], "PG", False),
        ("genre=Nothing|contentRating=G", [], "G", True),  # a field not modelled
    ],
)
def test_a_filter_is_and_groups_of_or_conditions(
    text: str, labels: list[str], rating: str | None, expected: bool
) -> None:
    assert admits(text, labels, rating) is expected
