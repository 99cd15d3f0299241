"""Titles and overviews in each person's language, over real sockets: MediaNest served by
uvicorn on loopback, Overseerr's simulator answering per `language` as the real one does
(routes/search.ts:23,32, movie.ts:20, tv.ts:17: `(req.query.language as string) ??
req.locale`). Two people with different browsers searching the same title at once each get
their own language, and no cache hands one's answer to the other; a hostile
Accept-Language is never passed on; no header leaves Overseerr its own locale."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

import httpx
import pytest

from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator
from tests.factories.users import create_user
from tests.support.served_apps import Serve, Storage, serve, session_cookie, storage_of

__all__ = ["serve"]

GERMAN = "de-DE,de;q=0.9,en;q=0.5"
FRENCH = "fr-FR,fr;q=0.8"
TEARS = {"de": "Tränen aus Stahl", "fr": "Les Larmes d'acier", "en": "Tears of Steel"}


@pytest.fixture
async def storage(settings: Settings) -> AsyncIterator[Storage]:
    async with storage_of(settings) as storage:
        yield storage


@pytest.fixture
async def browsers(
    serve: Serve, settings: Settings, storage: Storage
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two signed-in people (their own sessions) talking to one served MediaNest."""
    server = await serve(settings)
    alice = await create_user(storage, "alice", plex_id="1002")  # type: ignore[arg-type]
    bob = await create_user(storage, "bob", plex_id="1003")  # type: ignore[arg-type]
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=20) as first,
        httpx.AsyncClient(base_url=server.url, timeout=20) as second,
    ):
        first.headers["Cookie"] = await session_cookie(storage, alice)
        second.headers["Cookie"] = await session_cookie(storage, bob)
        yield first, second


def _languages_asked(overseerr: OverseerrSimulator, path: str) -> list[str | None]:
    """The `language` of each call Overseerr got on `path` (None: none sent)."""
    asked = []
    for entry in overseerr.requests(path):
        values = parse_qs(entry.query, keep_blank_values=True).get("language")
        asked.append(values[0] if values else None)
    return asked


async def _titles(client: httpx.AsyncClient, language: str | None, query: str) -> list[str]:
    headers = {"Accept-Language": language} if language is not None else {}
    answer = await client.get("/api/media/search", params={"query": query}, headers=headers)
    assert answer.status_code == 200, answer.text
    return [row["title"] for row in answer.json()["data"]]


async def test_two_people_searching_the_same_title_at_once_each_get_their_language(
    browsers: tuple[httpx.AsyncClient, httpx.AsyncClient], overseerr_sim: OverseerrSimulator
) -> None:
    alice, bob = browsers
    rounds = 8
    answers = await asyncio.gather(
        *(_titles(alice, GERMAN, "tears") for _ in range(rounds)),
        *(_titles(bob, FRENCH, "tears") for _ in range(rounds)),
    )
    assert answers[:rounds] == [[TEARS["de"]]] * rounds
    assert answers[rounds:] == [[TEARS["fr"]]] * rounds
    # Searching by a translated name finds the title too, named in the asker's language.
    assert await _titles(bob, FRENCH, "tränen") == [TEARS["fr"]]
    asked = _languages_asked(overseerr_sim, "/api/v1/search")
    assert set(asked) == {"de", "fr"}
    # The answer says it depends on the header (a browser or proxy keeps it per language).
    vary = (await alice.get("/api/media/search", params={"query": "tears"})).headers["vary"]
    assert "accept-language" in vary.lower()


async def test_one_person_switching_language_is_not_served_the_kept_answer(
    browsers: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    """The same session, URL and cookie within the response cache's age: the answer kept
    for German must not be the English one's (core/response_cache.py keys by headers)."""
    alice, _ = browsers
    assert await _titles(alice, GERMAN, "tears") == [TEARS["de"]]
    assert await _titles(alice, "en-GB,en;q=0.9", "tears") == [TEARS["en"]]
    assert await _titles(alice, GERMAN, "tears") == [TEARS["de"]]
    assert await _titles(alice, "fr", "pioneer") == ["Pionnier Un"]


@pytest.mark.parametrize(
    "header",
    [
        "../../../etc/passwd",
        "de\"'><script>alert(1)</script>",
        "x" * 4000,
        "de;q=abc, ;;;, =, q=1",
        "de-" + "a" * 200,
        "*",
        "tlh-Piqd",  # a well-formed tag Overseerr does not offer
        "de;q=0",  # "not German"
    ],
)
async def test_a_malformed_or_unusable_accept_language_is_never_passed_on(
    browsers: tuple[httpx.AsyncClient, httpx.AsyncClient],
    overseerr_sim: OverseerrSimulator,
    header: str,
) -> None:
    alice, _ = browsers
    assert await _titles(alice, header, "tears") == [TEARS["en"]]  # Overseerr's own: en
    assert _languages_asked(overseerr_sim, "/api/v1/search") == [None]


async def test_quality_values_choose_among_the_locales_overseerr_offers(
    browsers: tuple[httpx.AsyncClient, httpx.AsyncClient], overseerr_sim: OverseerrSimulator
) -> None:
    alice, _ = browsers
    # The best-liked tag Overseerr has no locale for is passed over; a bad range skipped.
    header = "tlh;q=1, de;q=garbage, fr-CA;q=0.7, de-AT;q=0.6"
    assert await _titles(alice, header, "elephants") == ["Le Rêve des éléphants"]
    assert _languages_asked(overseerr_sim, "/api/v1/search") == ["fr"]


async def test_without_a_header_overseerr_answers_in_its_own_configured_locale(
    browsers: tuple[httpx.AsyncClient, httpx.AsyncClient], overseerr_sim: OverseerrSimulator
) -> None:
    """No `language` sent (not a forced `en`): an Overseerr set up in German answers German,
    as it shows its own users (middleware/auth.ts:36-38 `settings.main.locale`)."""
    alice, _ = browsers
    overseerr_sim.main_settings["locale"] = "de"
    assert await _titles(alice, None, "tears") == [TEARS["de"]]
    assert _languages_asked(overseerr_sim, "/api/v1/search") == [None]


async def test_the_search_page_and_the_season_chooser_follow_the_browser(
    browsers: tuple[httpx.AsyncClient, httpx.AsyncClient], overseerr_sim: OverseerrSimulator
) -> None:
    """The HTML adapters ask the same one decision as the JSON API."""
    alice, bob = browsers
    htmx = {"HX-Request": "true"}
    german = await alice.get(
        "/media/search", params={"query": "tears"}, headers=htmx | {"Accept-Language": GERMAN}
    )
    french = await bob.get(
        "/media/search", params={"query": "tears"}, headers=htmx | {"Accept-Language": FRENCH}
    )
    assert TEARS["de"] in german.text and TEARS["en"] not in german.text
    assert TEARS["fr"].replace("'", "&#39;") in french.text
    assert "accept-language" in german.headers.get("vary", "").lower()
    seasons = await bob.get("/media/tv/30991/seasons", headers=htmx | {"Accept-Language": FRENCH})
    assert seasons.status_code == 200
    assert "Pionnier Un" in seasons.text
    assert _languages_asked(overseerr_sim, "/api/v1/tv/30991") == ["fr"]


async def test_a_request_keeps_the_title_as_the_requester_saw_it(
    browsers: tuple[httpx.AsyncClient, httpx.AsyncClient], overseerr_sim: OverseerrSimulator
) -> None:
    _, bob = browsers
    bob.headers["Cookie"] += "; csrftoken=t"
    answer = await bob.post(
        "/api/media/request",
        json={"mediaType": "movie", "tmdbId": 9761},
        headers={"X-CSRF-Token": "t", "Accept-Language": FRENCH},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["data"]["title"] == "Le Rêve des éléphants"
    assert _languages_asked(overseerr_sim, "/api/v1/movie/9761") == ["fr"]
    mine = await bob.get("/api/media/requests")
    assert [row["title"] for row in mine.json()["data"]] == ["Le Rêve des éléphants"]
