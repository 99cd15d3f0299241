"""Searching through Overseerr: validation, result shape, availability, the encoding trap
and a down Overseerr."""

from __future__ import annotations

import time
from urllib.parse import unquote

import httpx
import pytest

from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import CATALOGUE, Title


async def test_anonymous_search_is_refused(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/media/search", params={"query": "bunny"})
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"query": ""},
        {"query": "   "},
        {"query": "x" * 201},
        {"query": "bunny", "page": 0},
        {"query": "bunny", "page": "two"},
    ],
)
async def test_search_rejects_invalid_query_or_page(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator, params: dict[str, object]
) -> None:
    answer = await alice_client.get("/api/media/search", params=params)
    assert answer.status_code in (400, 422)
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert overseerr_sim.log.count("/api/v1/search") == 0


async def test_search_result_carries_title_year_type_poster_overview_and_availability(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    answer = await alice_client.get("/api/media/search", params={"query": "big buck"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["meta"]["page"] == 1
    assert body["meta"]["total"] == 1
    assert body["data"] == [
        {
            "tmdbId": 10378,
            "mediaType": "movie",
            "title": "Big Buck Bunny",
            "year": 2008,
            "posterUrl": "https://image.tmdb.org/t/p/w300/sim10378.jpg",
            "overview": "A giant rabbit takes revenge.",
            "availability": "available",
            "requestedBy": None,
            "partiallyAvailable": False,
        }
    ]


async def test_search_shows_tv_names_and_partial_availability(
    alice_client: httpx.AsyncClient,
) -> None:
    answer = await alice_client.get("/api/media/search", params={"query": "pioneer"})
    (show,) = answer.json()["data"]
    assert show["mediaType"] == "tv"
    assert show["title"] == "Pioneer One"
    assert show["year"] == 2010
    assert show["availability"] == "requestable"
    assert show["partiallyAvailable"] is True


async def test_search_drops_people(alice_client: httpx.AsyncClient) -> None:
    answer = await alice_client.get("/api/media/search", params={"query": "roosendaal"})
    assert answer.status_code == 200
    assert answer.json()["data"] == []


async def test_search_encodes_spaces_and_ampersands_as_overseerr_demands(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    answer = await alice_client.get(
        "/api/media/search", params={"query": "agent 327: operation & co"}
    )
    assert answer.status_code == 200
    sent = overseerr_sim.log.entries("/api/v1/search")[-1]
    assert sent.status == 200
    assert "query=agent%20327%3A%20operation%20%26%20co&" in sent.query
    assert "+" not in sent.query
    found = await alice_client.get("/api/media/search", params={"query": "agent 327: operation"})
    assert [r["title"] for r in found.json()["data"]] == ["Agent 327: Operation Barbershop"]


async def test_title_requested_elsewhere_shows_as_requested_by_someone(
    alice_client: httpx.AsyncClient,
) -> None:
    # The seeded Overseerr has a pending request for Tears of Steel made outside MediaNest.
    answer = await alice_client.get("/api/media/search", params={"query": "tears of steel"})
    (movie,) = answer.json()["data"]
    assert movie["availability"] == "requested"
    assert movie["requestedBy"] == "someone"


async def test_own_request_shows_as_you_and_as_someone_to_others(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient
) -> None:
    made = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": 9761}
    )
    assert made.status_code == 201
    mine = await alice_client.get("/api/media/search", params={"query": "elephants dream"})
    theirs = await bob_client.get("/api/media/search", params={"query": "elephants dream"})
    assert mine.json()["data"][0]["requestedBy"] == "you"
    assert theirs.json()["data"][0]["availability"] == "requested"
    assert theirs.json()["data"][0]["requestedBy"] == "someone"
    assert "alice" not in theirs.text


async def test_search_pages_through_results(alice_client: httpx.AsyncClient) -> None:
    first = await alice_client.get("/api/media/search", params={"query": "test pattern"})
    second = await alice_client.get(
        "/api/media/search", params={"query": "test pattern", "page": 2}
    )
    assert first.json()["meta"]["total"] == 26
    assert len(first.json()["data"]) == 20
    assert second.json()["meta"]["page"] == 2
    assert len(second.json()["data"]) == 6
    titles = {r["title"] for r in first.json()["data"]} | {
        r["title"] for r in second.json()["data"]
    }
    assert len(titles) == 26


async def test_search_answers_503_quickly_when_overseerr_fails(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.set_fault("error")
    started = time.monotonic()
    answer = await alice_client.get("/api/media/search", params={"query": "bunny"})
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert time.monotonic() - started < 3.0
    # Enough failures open the breaker: later searches do not even reach Overseerr.
    for _ in range(5):
        await alice_client.get("/api/media/search", params={"query": "bunny"})
    calls = overseerr_sim.log.count("/api/v1/search")
    started = time.monotonic()
    answer = await alice_client.get("/api/media/search", params={"query": "bunny"})
    assert answer.status_code == 503
    assert time.monotonic() - started < 0.5
    assert overseerr_sim.log.count("/api/v1/search") == calls


async def test_search_answers_503_when_overseerr_is_unreachable(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.stop()
    try:
        answer = await alice_client.get("/api/media/search", params={"query": "bunny"})
    finally:
        overseerr_sim.start()
    assert answer.status_code == 503
    assert answer.json()["error"]["details"]["service"] == "overseerr"


@pytest.mark.parametrize("tmdb_id", [2**31, 2**63])  # PostgreSQL's integer; SQLite's
async def test_an_overseerr_result_with_an_id_no_column_holds_is_an_upstream_error_not_a_500(
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
    monkeypatch: pytest.MonkeyPatch,
    tmdb_id: int,
) -> None:
    # The answer is Overseerr's to get right: its ids fit 32 bits, as ours do.
    odd = Title("movie", tmdb_id, "Overflowing Id", 2020, "An id out of range.")
    monkeypatch.setitem(CATALOGUE, ("movie", tmdb_id), odd)

    answer = await alice_client.get("/api/media/search", params={"query": "overflowing"})

    assert answer.status_code == 502, answer.text
    assert answer.json()["error"]["code"] == "UPSTREAM_ERROR"
    assert answer.json()["error"]["details"]["service"] == "overseerr"


async def test_a_show_someone_asked_a_season_of_still_offers_its_free_seasons(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient
) -> None:
    """Bob's season 2 of Render Farm (two seasons) must not hide season 1 from Alice: the
    result says "requested" and still opens the season chooser, where season 1 is free."""
    html = {"HX-Request": "true", "Accept": "text/html"}
    asked = await bob_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": 500003, "seasons": [2]}
    )
    assert asked.status_code == 201, asked.text
    page = await alice_client.get("/media/search?query=render", headers=html)
    assert "Someone asked for it" in page.text
    assert 'hx-get="/media/tv/500003/seasons"' in page.text and "More seasons…" in page.text
    chooser = await alice_client.get("/media/tv/500003/seasons", headers=html)
    assert 'data-season-state="requested"><input type="checkbox" name="seasons" value="2"' in (
        chooser.text
    )
    assert '<input type="checkbox" name="seasons" value="1" data-season>' in chooser.text
    mine = await alice_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": 500003, "seasons": [1]}
    )
    assert mine.status_code == 201, mine.text
    assert mine.json()["data"]["seasons"] == [1]


@pytest.mark.parametrize(
    "typed", ["Amélie", "Fast & Furious #7", "🎬 50% off + more/less?", "a=b;c"]
)
async def test_what_people_type_reaches_overseerr_whole_and_accepted(
    typed: str, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """express-openapi-validator (Overseerr's server/index.ts) refuses a reserved character
    left in the query (`:/?#[]@!$&'()*+,;=`): everything but the unreserved is encoded, as
    UTF-8, so Overseerr answers and reads back what was typed."""
    answer = await alice_client.get("/api/media/search", params={"query": typed})
    assert answer.status_code == 200, answer.text
    sent = overseerr_sim.log.entries("/api/v1/search")[-1]
    assert sent.status == 200
    raw = dict(p.split("=", 1) for p in sent.query.split("&"))["query"]
    assert unquote(raw) == typed
    assert not set(raw) & set(":/?#[]@!$&'()*+,;= ")


async def test_a_result_of_a_kind_medianest_does_not_know_is_left_out_not_a_failed_search(
    alice_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seerr's search results may be of a kind beyond movie, tv and person (its
    server/models/Search.ts knows `collection`; a newer server may add more): the movies
    and shows are still shown."""
    collection = {
        "id": 700002,
        "mediaType": "collection",
        "name": "Coffee Run Collection",  # the simulator matches people by `name`
        "title": "Coffee Run Collection",
        "posterPath": "/sim-collection.jpg",
        "popularity": 99.0,
    }
    monkeypatch.setattr("medianest_simulators.overseerr.PERSON", collection)
    answer = await alice_client.get("/api/media/search", params={"query": "coffee run"})
    assert answer.status_code == 200, answer.text
    assert [r["title"] for r in answer.json()["data"]] == ["Coffee Run"]
