"""Opening a TV show (its seasons) and a season (its episodes) through
`/api/plex/items/{id}/children` and `/plex/items/{id}`, the same way as an artist or an
album (`plex/children.py`): read with the viewer's own token, so a friend not shared the
TV library and a kid whose restrictions leave a show out get a 404 for the show and for
its seasons by id. Plex's "All episodes" entry (first among a show's children unless
asked `excludeAllLeaves=1`, as python-plexapi video.py Show.seasons asks) is not a
season. Every response of the viewer is checked for the Plex token."""

from __future__ import annotations

import re

import httpx
import pytest

from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plex_library import MOVIES_SECTION, SHOWS_SECTION, Item
from medianest_simulators.plex_restrictions import Restrictions
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN, MACHINE_IDENTIFIER
from tests.plex.conftest import refuse_token_leaks

PIONEER, PIONEER_S1, PIONEER_S2, TEST_PATTERN, TEST_PATTERN_S1 = 201, 202, 206, 215, 216
HTML = {"Accept": "text/html"}
# What a parent sets for a child's account on plex.tv (Restrictions → TV Shows ratings).
KIDS_TV = Restrictions.of(filterTelevision="contentRating=TV-Y%2CTV-G%2CTV-PG")


def children_of(item_id: int | str) -> str:
    return f"/api/plex/items/{item_id}/children"


def add_specials(plex_sim: PlexSimulator) -> int:
    """A "Specials" season (Plex's season 0) added to Pioneer One after its other seasons,
    with one episode; returns the season's ratingKey."""
    with plex_sim.lock:
        library = plex_sim.library
        season = library.new_key()
        library.items[season] = Item(
            season, SHOWS_SECTION, "season", "Specials", year=2010, parent=PIONEER, index=0
        )
        episode = library.new_key()
        library.items[episode] = Item(
            episode,
            SHOWS_SECTION,
            "episode",
            "Making Of",
            year=2010,
            aired="2010-12-24",
            duration=600_000,
            parent=season,
            index=1,
            file="/data/tv/Pioneer One/Specials/S00E01.mkv",
        )
    return season


async def test_a_show_opens_to_its_seasons_and_a_season_to_its_episodes_in_plexs_order(
    viewer: httpx.AsyncClient, plex_sim: PlexSimulator
) -> None:
    specials = add_specials(plex_sim)
    show = await viewer.get(children_of(PIONEER))
    assert show.status_code == 200, show.text
    seasons = show.json()["data"]
    assert [(s["title"], s["kind"], s["index"], s["leafCount"]) for s in seasons] == [
        ("Specials", "season", 0, 1),  # season 0 first, though added last
        ("Season 1", "season", 1, 3),
        ("Season 2", "season", 2, 3),
    ]
    assert {(s["parentRatingKey"], s["parentTitle"]) for s in seasons} == {("201", "Pioneer One")}
    assert all(s["posterUrl"].startswith("/api/plex/image?path=") for s in seasons)
    assert show.json()["meta"]["total"] == 3  # no "All episodes" entry
    asked = plex_sim.log.entries(f"/library/metadata/{PIONEER}/children")
    assert asked and all("excludeAllLeaves=1" in e.query for e in asked)

    first = (await viewer.get(children_of(PIONEER_S2), params={"pageSize": 2})).json()
    second = (await viewer.get(children_of(PIONEER_S2), params={"pageSize": 2, "page": 2})).json()
    episodes = first["data"] + second["data"]
    assert [
        (e["index"], e["title"], e["kind"], e["parentIndex"], e["airedOn"], e["durationMs"])
        for e in episodes
    ] == [
        (1, "Homecoming", "episode", 2, "2011-01-08", 1_500_000),
        (2, "Quarantine", "episode", 2, "2011-01-15", 1_500_000),
        (3, "Eclipse", "episode", 2, "2011-01-22", 1_500_000),
    ]
    assert {(e["parentTitle"], e["grandparentTitle"]) for e in episodes} == {
        ("Season 2", "Pioneer One")
    }
    assert [(m["total"], m["page"]) for m in (first["meta"], second["meta"])] == [(3, 1), (3, 2)]
    special = (await viewer.get(children_of(specials))).json()["data"]
    assert [(e["title"], e["parentIndex"], e["airedOn"]) for e in special] == [
        ("Making Of", 0, "2010-12-24")
    ]


async def test_the_pages_go_from_the_tv_library_to_a_show_a_season_and_its_episodes(
    viewer: httpx.AsyncClient,
) -> None:
    library = await viewer.get("/plex", params={"library": SHOWS_SECTION}, headers=HTML)
    assert f'href="/plex/items/{PIONEER}" data-open-item>Pioneer One<' in library.text
    show = await viewer.get(f"/plex/items/{PIONEER}", headers=HTML)
    assert show.status_code == 200, show.text
    assert "<h1>Pioneer One</h1>" in show.text
    assert "2010 · 2 seasons · 6 episodes" in show.text
    assert f'href="/plex?library={SHOWS_SECTION}">← Back to the library<' in show.text
    cards = re.findall(r'href="/plex/items/(\d+)" data-open-item>([^<]+)<', show.text)
    assert cards == [(str(PIONEER_S1), "Season 1"), (str(PIONEER_S2), "Season 2")]
    assert show.text.count("3 episodes") == 2  # each season's card
    assert "All episodes" not in show.text

    season = await viewer.get(f"/plex/items/{PIONEER_S2}", headers=HTML)
    assert season.status_code == 200, season.text
    assert "<title>Pioneer One · Season 2" in season.text
    assert f'href="/plex/items/{PIONEER}">← Pioneer One<' in season.text
    assert "Pioneer One · 2010 · 3 episodes" in season.text
    rows = re.findall(
        r'<tr data-episode="\d+">\s*<td>(\d+)</td>\s*<td>([^<]+)</td>\s*'
        r'<td><time datetime="([\d-]+)">([^<]+)</time></td>\s*<td>([^<]+)</td>',
        season.text,
    )
    assert rows == [
        ("1", "Homecoming", "2011-01-08", "8 Jan 2011", "25 min"),
        ("2", "Quarantine", "2011-01-15", "15 Jan 2011", "25 min"),
        ("3", "Eclipse", "2011-01-22", "22 Jan 2011", "25 min"),
    ]


@pytest.fixture
def movies_only(plextv: PlexTvSimulator, plex_sim: PlexSimulator) -> None:
    plextv.share_server("alice", MACHINE_IDENTIFIER, ALICE_SERVER_TOKEN, sections=[MOVIES_SECTION])


async def test_a_friend_not_shared_the_tv_library_cannot_open_a_show_or_season_the_owner_can(
    movies_only: None, viewer: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    owners = await admin_client.get(children_of(PIONEER))
    assert [s["title"] for s in owners.json()["data"]] == ["Season 1", "Season 2"]
    for path in (children_of(PIONEER), children_of(PIONEER_S2)):
        refused = await viewer.get(path)
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["code"] == "NOT_FOUND"
        assert "Season" not in refused.text and "Pioneer" not in refused.text
    for item_id in (PIONEER, PIONEER_S2):
        page = await viewer.get(f"/plex/items/{item_id}", headers=HTML)
        assert page.status_code == 404 and "Homecoming" not in page.text
    assert (await admin_client.get(f"/plex/items/{PIONEER_S2}", headers=HTML)).is_success


async def test_a_kid_cannot_open_a_show_its_restrictions_hide_nor_its_season_by_id(
    bob_client: httpx.AsyncClient,
    alice_client: httpx.AsyncClient,
    plextv: PlexTvSimulator,
    plex_sim: PlexSimulator,
) -> None:
    """The owner allows bob's account TV-Y, TV-G and TV-PG shows only; "Test Pattern
    Theater" is TV-14. Plex leaves it, its seasons and episodes out for bob's token, so
    MediaNest does too, asked by id; alice, unrestricted, opens it."""
    with plex_sim.lock:
        plex_sim.library.items[TEST_PATTERN].content_rating = "TV-14"
    plextv.restrict("bob", KIDS_TV)
    bob_client.event_hooks["response"].append(refuse_token_leaks)
    for path in (children_of(TEST_PATTERN), children_of(TEST_PATTERN_S1)):
        refused = await bob_client.get(path)
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["code"] == "NOT_FOUND"
        assert "Test Pattern" not in refused.text
    for item_id in (TEST_PATTERN, TEST_PATTERN_S1):
        page = await bob_client.get(f"/plex/items/{item_id}", headers=HTML)
        assert page.status_code == 404 and "Test Pattern" not in page.text
    library = await bob_client.get("/plex", params={"library": SHOWS_SECTION}, headers=HTML)
    assert "Pioneer One" in library.text and "Test Pattern Theater" not in library.text
    allowed = await bob_client.get(children_of(PIONEER))
    assert [s["title"] for s in allowed.json()["data"]] == ["Season 1", "Season 2"]
    friend = await alice_client.get(children_of(TEST_PATTERN_S1))
    assert [e["title"] for e in friend.json()["data"]] == ["Pilot", "Lift-off", "Contact"]


async def test_an_episode_is_not_opened_here(viewer: httpx.AsyncClient) -> None:
    answer = await viewer.get(children_of(PIONEER_S2 + 1))  # Homecoming, an episode
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["message"] == (
        "No such show, season, artist, album or photo album."
    )
