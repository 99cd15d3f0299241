"""Overseerr with "Enable CSRF Protection" on refuses every change another app asks for
(csurf's 403 `invalid csrf token`, whatever the API key): a request says so plainly (503
OVERSEERR_WRITES_BLOCKED: what an admin must turn off, where), keeps what the person did
(their hour's quota, their Overseerr link, the season chooser) and never opens the breaker."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from sqlalchemy import func, select

from medianest.app import MediaNestApp
from medianest.auth.models import OverseerrLink, User
from medianest.db.engine import session_scope
from medianest.media.models import MediaRequest
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import User as OverseerrUser
from tests.factories.users import create_user, signed_in_client

SPRITE_FRIGHT = 400007
FREE_MOVIES = (400003, 400004, 400005, 400006, 400007)
RENDER_FARM = 500003  # two seasons, nothing requested


async def _local_rows(app: MediaNestApp) -> int:
    async with session_scope(app.ctx.session_factory) as session:
        return int(await session.scalar(select(func.count()).select_from(MediaRequest)) or 0)


async def test_a_request_overseerr_blocks_is_a_503_that_says_which_setting_and_where(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    alice_in_overseerr: OverseerrUser,
    overseerr_sim: OverseerrSimulator,
) -> None:
    overseerr_sim.set_csrf_protection(True)
    before = dict(overseerr_sim.media_requests)

    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )

    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["success"] is False
    error = body["error"]
    assert error["code"] == "OVERSEERR_WRITES_BLOCKED"
    assert '"Enable CSRF Protection"' in error["message"]
    assert "Overseerr → Settings → General" in error["message"]
    assert "other apps" in error["message"]
    assert error["details"] == {
        "service": "overseerr",
        "reason": "csrf_protection",
        "setting": "Enable CSRF Protection",
    }
    # Overseerr was asked once (as the linked user) and refused before any route ran.
    (sent,) = overseerr_sim.log.entries("/api/v1/request", "POST")
    assert sent.status == 403
    assert overseerr_sim.media_requests == before
    assert await _local_rows(app) == 0
    # The automatic link made for this request stays: only the request was refused.
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(User, alice.id)
        assert row is not None
        assert (row.overseerr_user_id, row.overseerr_link) == (4, OverseerrLink.AUTOMATIC)

    overseerr_sim.set_csrf_protection(False)
    again = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    assert again.status_code == 201, again.text
    assert overseerr_sim.media_requests[again.json()["data"]["overseerrId"]].requested_by.id == 4


async def test_blocked_requests_give_their_hour_back_and_never_open_the_breaker(
    app_factory: Callable[[Settings], object],
    make_settings: Callable[..., Settings],
    settings: Settings,
    overseerr_sim: OverseerrSimulator,
) -> None:
    app: MediaNestApp = await app_factory(  # type: ignore[assignment]
        make_settings(
            overseerr_url=settings.overseerr_url,
            overseerr_api_key=settings.overseerr_api_key,
            plex_url=settings.plex_url,
            plex_token=settings.plex_token,
            overseerr_new_people=settings.overseerr_new_people,
            rate_limit_requests_per_hour=2,
            breaker_min_volume=3,
        )
    )
    carol = await create_user(app, "carol", plex_id="1004")  # unlinked: Overseerr's admin
    overseerr_sim.set_csrf_protection(True)
    async with await signed_in_client(app, carol) as carol_client:
        codes = []
        for tmdb_id in FREE_MOVIES:  # more than the hour allows, and than the breaker takes
            answer = await carol_client.post(
                "/api/media/request", json={"mediaType": "movie", "tmdbId": tmdb_id}
            )
            codes.append((answer.status_code, answer.json()["error"]["code"]))
        assert codes == [(503, "OVERSEERR_WRITES_BLOCKED")] * len(FREE_MOVIES)
        search = await carol_client.get("/api/media/search", params={"query": "sprite"})
        assert search.status_code == 200, search.text

        overseerr_sim.set_csrf_protection(False)
        made = [
            (
                await carol_client.post(
                    "/api/media/request", json={"mediaType": "movie", "tmdbId": tmdb_id}
                )
            ).status_code
            for tmdb_id in FREE_MOVIES[:3]
        ]
    assert made == [201, 201, 429]  # the hour was all there: the blocked ones cost nothing
    client = await app.ctx.integrations.overseerr()
    assert client is not None and client.http.breaker.state == "closed"


async def test_the_season_chooser_stays_with_the_reason_when_overseerr_blocks_the_request(
    app: MediaNestApp, alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.set_csrf_protection(True)

    page = await alice_client.post(
        "/media/request",
        data={"mediaType": "tv", "tmdbId": str(RENDER_FARM), "seasons": ["2"]},
        headers={"HX-Request": "true"},
    )

    assert page.status_code == 503
    assert 'data-error-code="OVERSEERR_WRITES_BLOCKED"' in page.text
    assert "Enable CSRF Protection" in page.text
    assert 'name="seasons" value="2"' in page.text  # the chooser, to ask again later
    assert await _local_rows(app) == 0
