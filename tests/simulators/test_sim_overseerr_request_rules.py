"""The simulator's `POST /api/v1/request` takes what Overseerr's and Seerr's
entity/MediaRequest.ts `request` takes (overseerr_requests.py cites the lines): films by
their oldest request of the same `is4k`, never by their status; shows by season, with
season 0 in Overseerr's "all"."""

from __future__ import annotations

import httpx
import pytest

from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import (
    CATALOGUE,
    DECLINED,
    FAILED,
    PARTIALLY_AVAILABLE,
)
from tests.simulators.test_sim_overseerr import request_media

SPRITE_FRIGHT, RENDER_FARM, KEYFRAMES = 400007, 500003, 500004


def upstream(
    sim: OverseerrSimulator, kind: str, tmdb: int, seasons: list[int], **more: bool
) -> int:
    media = sim.media_for(CATALOGUE[(kind, tmdb)])
    return sim.add_request(media, sim.users[3], seasons=seasons, extra={}, **more).id


def film(sim: OverseerrSimulator, http: httpx.Client, **body: object) -> int:
    return request_media(
        sim, http, {"mediaType": "movie", "mediaId": SPRITE_FRIGHT} | body
    ).status_code


def show(sim: OverseerrSimulator, http: httpx.Client, seasons: object) -> httpx.Response:
    return request_media(sim, http, {"mediaType": "tv", "mediaId": RENDER_FARM, "seasons": seasons})


@pytest.mark.parametrize(("first", "answer"), [(FAILED, 409), (DECLINED, 201), ("COMPLETED", 201)])
def test_a_film_is_judged_by_its_oldest_request(
    overseerr: OverseerrSimulator, http: httpx.Client, first: int | str, answer: int
) -> None:
    """A FAILED request still holds the film; Seerr passes over a COMPLETED one."""
    if first == "COMPLETED":
        overseerr.behave_as_seerr()
        overseerr.complete_request(upstream(overseerr, "movie", SPRITE_FRIGHT, [], is4k=False))
    else:
        overseerr.set_request_status(
            upstream(overseerr, "movie", SPRITE_FRIGHT, [], is4k=False), first
        )
    assert film(overseerr, http) == answer


def test_a_4k_request_holds_only_the_4k_version(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    upstream(overseerr, "movie", SPRITE_FRIGHT, [], is4k=True)
    upstream(overseerr, "tv", RENDER_FARM, [1, 2], is4k=True)
    assert film(overseerr, http, is4k=True) == 409
    assert film(overseerr, http) == 201
    ordinary = show(overseerr, http, [1, 2])
    assert ordinary.status_code == 201
    assert [s["seasonNumber"] for s in ordinary.json()["seasons"]] == [1, 2]
    media = overseerr.media[("tv", RENDER_FARM)].as_json()
    # the admin's request approved at once (PROCESSING), bob's 4K one PENDING: each its own
    assert (media["status"], media["status4k"]) == (3, 2)


def test_seasons_taken_by_any_status_or_a_failed_request_are_dropped(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    media = overseerr.media_for(CATALOGUE[("tv", RENDER_FARM)])
    with overseerr.lock:
        media.season_status = {1: PARTIALLY_AVAILABLE}
    failed = upstream(overseerr, "tv", RENDER_FARM, [2], is4k=False)
    overseerr.set_request_status(failed, FAILED)
    refused = show(overseerr, http, "all")
    assert (refused.status_code, refused.json()["message"]) == (
        202,
        "No seasons available to request",
    )
    overseerr.set_request_status(failed, DECLINED)  # a declined request frees its seasons
    made = show(overseerr, http, [1, 2])
    assert [s["seasonNumber"] for s in made.json()["seasons"]] == [2]


@pytest.mark.parametrize(("seerr", "all_seasons"), [(False, [0, 1]), (True, [1])])
def test_all_seasons_has_the_specials_on_overseerr_only(
    overseerr: OverseerrSimulator, http: httpx.Client, seerr: bool, all_seasons: list[int]
) -> None:
    if seerr:
        overseerr.behave_as_seerr()
    details = http.get(
        f"{overseerr.url}/api/v1/tv/{KEYFRAMES}", headers={"X-Api-Key": overseerr.api_key}
    )
    assert [(s["seasonNumber"], s["name"]) for s in details.json()["seasons"]] == [
        (0, "Specials"),
        (1, "Season 1"),
    ]
    assert details.json()["numberOfSeasons"] == 1
    body = {"mediaType": "tv", "mediaId": KEYFRAMES, "seasons": "all"}
    made = request_media(overseerr, http, body)
    assert [s["seasonNumber"] for s in made.json()["seasons"]] == all_seasons
    # A season asked for by number is not checked against TMDB; Seerr drops a season 0
    # (enableSpecialEpisodes off), Overseerr takes it.
    zero = show(overseerr, http, [0])
    assert zero.status_code == (202 if seerr else 201)


def listed(
    sim: OverseerrSimulator, http: httpx.Client, query: str, user: int = 1
) -> httpx.Response:
    headers = {"X-Api-Key": sim.api_key, "X-API-User": str(user)}
    return http.get(f"{sim.url}/api/v1/request?{query}", headers=headers)


def ids(answer: httpx.Response) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [r["id"] for r in answer.json()["results"]]


@pytest.mark.parametrize("seerr", [False, True])
def test_the_list_filters_as_routes_request_ts(
    overseerr: OverseerrSimulator, http: httpx.Client, seerr: bool
) -> None:
    """Seeded: 1 Tears of Steel PENDING (alice), 2 Test Pattern Theater APPROVED (bob)."""
    if seerr:
        overseerr.behave_as_seerr()
    done = upstream(overseerr, "movie", SPRITE_FRIGHT, [], is4k=False)
    overseerr.complete_request(done)  # APPROVED, in Plex; Seerr: COMPLETED
    four_k = upstream(overseerr, "movie", 10378, [], is4k=True)  # in Plex, not in 4K
    overseerr.set_request_status(four_k, "APPROVED")
    assert ids(listed(overseerr, http, "filter=available")) == [done]
    assert ids(listed(overseerr, http, "filter=approved")) == (
        [four_k, 2] if seerr else [four_k, done, 2]
    )
    assert ids(listed(overseerr, http, "filter=processing")) == [four_k, 2]  # by status4k
    completed = listed(overseerr, http, "filter=completed")  # Seerr's only
    if seerr:
        assert ids(completed) == [done]
    else:
        assert completed.status_code == 400
    assert ids(listed(overseerr, http, "filter=pending&sort=added")) == [1]


def test_a_user_without_request_view_lists_only_their_own(
    overseerr: OverseerrSimulator, http: httpx.Client
) -> None:
    assert ids(listed(overseerr, http, "take=20", user=2)) == [1]  # alice's only
    refused = listed(overseerr, http, "requestedBy=3", user=2)
    assert (refused.status_code, refused.json()["message"]) == (
        403,
        "You do not have permission to view this user's requests.",
    )
    assert ids(listed(overseerr, http, "requestedBy=3")) == [2]  # the admin may
