"""A title Overseerr cannot retrieve: its details answer 500 "Unable to retrieve movie."
(routes/movie.ts, tv.ts) for an id TMDB does not know and for TMDB out of its reach
alike. That is an answer about the title, not an outage: the person reads both
possibilities, the call is not retried, and the breaker does not count it."""

from __future__ import annotations

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.media import sync
from medianest_simulators import OverseerrSimulator
from tests.media.test_removed_in_overseerr import in_overseerr, request_movie
from tests.media.test_status_sync import wait_for_status

UNKNOWN_TO_TMDB = 123456789
SPRITE_FRIGHT = 400007
RENDER_FARM = 500003
HTML = {"HX-Request": "true", "Accept": "text/html"}


@pytest.mark.parametrize(
    ("media_type", "tmdb_id", "tmdb_reachable"),
    [
        ("movie", UNKNOWN_TO_TMDB, True),
        ("tv", UNKNOWN_TO_TMDB, True),
        ("movie", SPRITE_FRIGHT, False),
        ("tv", RENDER_FARM, False),
    ],
)
async def test_a_request_for_a_title_overseerr_cannot_retrieve_is_404_and_overseerr_stays_up(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
    media_type: str,
    tmdb_id: int,
    tmdb_reachable: bool,
) -> None:
    overseerr_sim.cut_tmdb(not tmdb_reachable)
    details_path = f"/api/v1/{media_type}/{tmdb_id}"
    tries = app.ctx.settings.breaker_min_volume + 1
    for _ in range(tries):
        answer = await alice_client.post(
            "/api/media/request", json={"mediaType": media_type, "tmdbId": tmdb_id}
        )
        assert answer.status_code == 404, answer.text
        error = answer.json()["error"]
        assert error["code"] == "NOT_FOUND"
        assert error["details"] == {
            "reason": "title_unavailable",
            "mediaType": media_type,
            "tmdbId": tmdb_id,
        }
        assert f"TMDB id {tmdb_id}" in error["message"]
        assert "TMDB does not know this id" in error["message"]
        assert "cannot reach TMDB" in error["message"]
    assert overseerr_sim.log.count(details_path, "GET") == tries  # one call each, no retry
    assert overseerr_sim.log.count("/api/v1/request", "POST") == 0
    # Overseerr answered every time: the breaker stays closed and search reaches it.
    found = await alice_client.get("/api/media/search", params={"query": "sprite"})
    assert found.status_code == 200, found.text
    assert overseerr_sim.log.count("/api/v1/search", "GET") == 1


async def test_the_season_chooser_of_a_show_overseerr_cannot_retrieve_says_why(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    for _ in range(app.ctx.settings.breaker_min_volume + 1):
        chooser = await alice_client.get(f"/media/tv/{UNKNOWN_TO_TMDB}/seasons", headers=HTML)
        assert chooser.status_code == 404, chooser.text
        assert "Overseerr could not retrieve the TV show" in chooser.text
        assert "cannot reach TMDB right now" in chooser.text
    found = await alice_client.get("/api/media/search", params={"query": "sprite"})
    assert found.status_code == 200, found.text


async def test_a_deleted_request_whose_title_overseerr_cannot_retrieve_is_removed(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """The details say nothing then, so the request list has the last word."""
    made = await request_movie(alice_client)
    deleted = await in_overseerr(overseerr_sim, "DELETE", f"/api/v1/request/{made['overseerrId']}")
    assert deleted.status_code == 204
    overseerr_sim.cut_tmdb()
    assert await sync.reconcile(app.ctx) == 1
    await wait_for_status(app, made["id"], "removed", 1.0)


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_a_404_for_a_listed_request_whose_title_overseerr_cannot_retrieve_leaves_it(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    made = await request_movie(alice_client)
    overseerr_sim.cut_tmdb()
    overseerr_sim.fail_database(1)  # the request's read answers 404, the list does not
    assert await sync.reconcile(app.ctx) == 0
    assert (await wait_for_status(app, made["id"], "pending", 1.0)).completed_at is None


async def test_any_other_500_of_the_details_is_still_an_outage(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """Only Overseerr's own "Unable to retrieve movie." is an answer about the title."""
    overseerr_sim.set_fault("error")  # 500 {"message": "Internal Server Error"}
    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["details"]["reason"] == "server error"
