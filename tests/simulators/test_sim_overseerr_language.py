"""The Overseerr simulator answers in the language it is asked for, as the real one passes
TMDB `(req.query.language as string) ?? req.locale` (sct/overseerr routes/search.ts:23,32,
movie.ts:20, tv.ts:17), `req.locale` being the user's locale, else the app's
(middleware/auth.ts:36-38)."""

from __future__ import annotations

import httpx

from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import API_KEY

KEY = {"X-Api-Key": API_KEY}


def _search(sim: OverseerrSimulator, http: httpx.Client, raw: str, **headers: str) -> list[str]:
    answer = http.get(f"{sim.url}/api/v1/search?{raw}", headers=KEY | headers)
    assert answer.status_code == 200
    return [row.get("title") or row.get("name") for row in answer.json()["results"]]


def test_search_answers_titles_in_the_language_asked(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    assert _search(overseerr, http, "query=tears&page=1&language=de") == ["Tränen aus Stahl"]
    assert _search(overseerr, http, "query=tears&page=1&language=fr") == ["Les Larmes d'acier"]
    # A region TMDB has no translation for falls back to its language; an unknown one
    # and an empty `language=` (kept by `??`) to the original.
    assert _search(overseerr, http, "query=tears&page=1&language=de-AT") == ["Tränen aus Stahl"]
    assert _search(overseerr, http, "query=tears&page=1&language=ja") == ["Tears of Steel"]
    assert _search(overseerr, http, "query=tears&page=1&language=") == ["Tears of Steel"]
    # Found by a translated name too, named in the language asked.
    assert _search(overseerr, http, "query=pionier&page=1&language=fr") == ["Pionnier Un"]


def test_without_a_language_the_users_locale_then_the_apps_decides(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    assert _search(overseerr, http, "query=tears&page=1") == ["Tears of Steel"]
    overseerr.main_settings["locale"] = "fr"
    assert _search(overseerr, http, "query=tears&page=1") == ["Les Larmes d'acier"]
    overseerr.users[2].locale = "de"
    as_alice = {"X-API-User": "2"}
    assert _search(overseerr, http, "query=tears&page=1", **as_alice) == ["Tränen aus Stahl"]


def test_details_answer_in_the_language_asked(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    movie = http.get(f"{overseerr.url}/api/v1/movie/9761?language=de", headers=KEY).json()
    assert (movie["title"], movie["originalTitle"]) == ("Elefantentraum", "Elephants Dream")
    assert movie["overview"].startswith("Zwei Menschen")
    show = http.get(f"{overseerr.url}/api/v1/tv/30991?language=fr", headers=KEY).json()
    assert (show["name"], show["originalName"]) == ("Pionnier Un", "Pioneer One")
