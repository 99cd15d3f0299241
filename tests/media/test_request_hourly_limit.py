"""The hourly media request limit counts requests Overseerr made: one it refused, or was
never asked, gives its hour's request back; parallel requests still cannot overspend."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator
from tests.factories.users import create_user, signed_in_client

TEARS = 133701  # Overseerr already has a request for it (made there, not here)
FREE_MOVIES = (400003, 400004, 400005, 400006, 400007)


def limited_settings(
    make_settings: Callable[..., Settings], settings: Settings, **extra: object
) -> Settings:
    return make_settings(
        overseerr_url=settings.overseerr_url,
        overseerr_api_key=settings.overseerr_api_key,
        plex_url=settings.plex_url,
        plex_token=settings.plex_token,
        overseerr_new_people=settings.overseerr_new_people,
        rate_limit_requests_per_hour=2,
        **extra,
    )


async def ask(client: httpx.AsyncClient, tmdb_id: int) -> int:
    answer = await client.post("/api/media/request", json={"mediaType": "movie", "tmdbId": tmdb_id})
    return answer.status_code


async def test_refused_requests_past_the_limit_leave_the_hour_for_accepted_ones(
    app_factory: Callable[[Settings], object],
    make_settings: Callable[..., Settings],
    settings: Settings,
    overseerr_sim: OverseerrSimulator,
) -> None:
    app: MediaNestApp = await app_factory(limited_settings(make_settings, settings))  # type: ignore[assignment]
    carol = await create_user(app, "carol", plex_id="1004")  # unlinked: Overseerr's admin
    async with await signed_in_client(app, carol) as carol_client:
        overseerr_sim.forbid_requests(1)  # no permission, or Overseerr's own quota: 403
        assert [await ask(carol_client, FREE_MOVIES[0]) for _ in range(3)] == [403] * 3
        overseerr_sim.forbid_requests(1, forbidden=False)
        assert [await ask(carol_client, TEARS) for _ in range(2)] == [409, 409]
        # Its own 500 with a reason: it could not make this request.
        overseerr_sim.set_fault("error", path_prefix="/api/v1/request", times=1)
        assert await ask(carol_client, FREE_MOVIES[0]) == 503
        made = [await ask(carol_client, tmdb_id) for tmdb_id in FREE_MOVIES[:3]]
    assert made == [201, 201, 429]  # accepted requests still count
    assert len(overseerr_sim.media_requests) == 4  # the two seeded, and carol's two


async def test_parallel_requests_at_the_limit_do_not_all_pass(
    app_factory: Callable[[Settings], object],
    make_settings: Callable[..., Settings],
    settings: Settings,
    overseerr_sim: OverseerrSimulator,
) -> None:
    app: MediaNestApp = await app_factory(limited_settings(make_settings, settings))  # type: ignore[assignment]
    carol = await create_user(app, "carol", plex_id="1004")
    async with await signed_in_client(app, carol) as carol_client:
        answers = await asyncio.gather(*(ask(carol_client, t) for t in FREE_MOVIES))
    assert sorted(answers) == [201, 201, 429, 429, 429]
    assert overseerr_sim.log.count("/api/v1/request", "POST") == 2


async def test_parallel_refusals_give_back_what_they_held(
    app_factory: Callable[[Settings], object],
    make_settings: Callable[..., Settings],
    settings: Settings,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """Refusals in flight hold their hour's request until Overseerr answers (so a burst
    cannot pass the limit), then give it back."""
    app: MediaNestApp = await app_factory(limited_settings(make_settings, settings))  # type: ignore[assignment]
    carol = await create_user(app, "carol", plex_id="1004")
    async with await signed_in_client(app, carol) as carol_client:
        refused = await asyncio.gather(*(ask(carol_client, TEARS) for _ in range(6)))
        assert set(refused) <= {409, 429} and refused.count(409) >= 2
        made = [await ask(carol_client, tmdb_id) for tmdb_id in FREE_MOVIES[:3]]
    assert made == [201, 201, 429]


async def test_a_request_overseerr_did_not_answer_in_time_keeps_its_hour(
    app_factory: Callable[[Settings], object],
    make_settings: Callable[..., Settings],
    settings: Settings,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """A timeout may hide a request Overseerr made: it still counts."""
    quick = limited_settings(make_settings, settings, http_timeout_seconds=0.3)
    app: MediaNestApp = await app_factory(quick)  # type: ignore[assignment]
    carol = await create_user(app, "carol", plex_id="1004")
    async with await signed_in_client(app, carol) as carol_client:
        overseerr_sim.set_fault("hang", delay=1.0, path_prefix="/api/v1/request", times=1)
        assert await ask(carol_client, FREE_MOVIES[0]) == 503
        made = [await ask(carol_client, tmdb_id) for tmdb_id in FREE_MOVIES[1:3]]
    assert made == [201, 429]
