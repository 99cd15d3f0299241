"""Requesting media: storage, seasons, duplicates, Overseerr's refusals and the quota."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.media.models import MediaRequest
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator
from tests.factories.users import create_user, signed_in_client

SPRITE_FRIGHT = 400007
RENDER_FARM = 500003  # two seasons, nothing requested


async def stored(app: MediaNestApp, request_id: str) -> MediaRequest:
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.scalar(
            select(MediaRequest).where(MediaRequest.id == uuid.UUID(request_id))
        )
    assert row is not None
    return row


async def test_anonymous_request_is_refused(client: httpx.AsyncClient) -> None:
    answer = await client.post("/api/media/request", json={"mediaType": "movie", "tmdbId": 1})
    assert answer.status_code == 401


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_movie_request_is_made_in_overseerr_and_stored_with_its_id(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    assert answer.status_code == 201
    data = answer.json()["data"]
    assert data["title"] == "Sprite Fright"
    assert data["status"] == "pending"
    assert data["mediaType"] == "movie"
    assert data["seasons"] is None
    upstream = overseerr_sim.media_requests[data["overseerrId"]]
    assert upstream.media.title.tmdb_id == SPRITE_FRIGHT
    row = await stored(app, data["id"])
    assert row.user_id == alice.id
    assert row.overseerr_id == data["overseerrId"]
    created = overseerr_sim.log.entries("/api/v1/request", "POST")
    assert len(created) == 1
    assert created[0].headers["x-api-key"]


async def test_tv_request_for_some_seasons_asks_only_for_those(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": [2]}
    )
    assert answer.status_code == 201
    data = answer.json()["data"]
    assert data["title"] == "Render Farm"
    assert data["seasons"] == [2]
    assert overseerr_sim.media_requests[data["overseerrId"]].seasons == [2]


async def test_tv_request_for_all_seasons_asks_for_every_season(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": "all"}
    )
    assert answer.status_code == 201
    assert answer.json()["data"]["seasons"] == [1, 2]


async def test_request_with_bad_input_is_rejected_before_overseerr(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    bad_bodies: list[object] = [
        {"mediaType": "movie"},
        {"mediaType": "music", "tmdbId": 1},
        {"mediaType": "movie", "tmdbId": -4},
        {"mediaType": "movie", "tmdbId": SPRITE_FRIGHT, "seasons": [1]},
        {"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": []},
        {"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": [0]},
        {"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": "some"},
        {"mediaType": "movie", "tmdbId": SPRITE_FRIGHT, "userId": 3},
        ["movie", SPRITE_FRIGHT],
    ]
    for body in bad_bodies:
        answer = await alice_client.post("/api/media/request", json=body)
        assert answer.status_code in (400, 422), body
        assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert overseerr_sim.log.count("/api/v1/request", "POST") == 0


async def test_seasons_the_show_does_not_have_are_rejected(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": [2, 7]}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["details"]["unknownSeasons"] == [7]
    assert overseerr_sim.log.count("/api/v1/request", "POST") == 0


async def test_unknown_title_is_not_found(alice_client: httpx.AsyncClient) -> None:
    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": 123456789}
    )
    assert answer.status_code == 404


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_duplicate_request_by_another_user_is_a_conflict_naming_only_our_request(
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    alice: User,
    overseerr_sim: OverseerrSimulator,
) -> None:
    first = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    again = await bob_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "CONFLICT"
    assert error["details"]["existingRequest"] == {
        "id": first.json()["data"]["id"],
        "status": "pending",
    }
    assert "alice" not in again.text
    assert str(alice.id) not in again.text
    assert overseerr_sim.log.count("/api/v1/request", "POST") == 1


async def test_same_user_asking_twice_gets_a_conflict(alice_client: httpx.AsyncClient) -> None:
    body = {"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    assert (await alice_client.post("/api/media/request", json=body)).status_code == 201
    assert (await alice_client.post("/api/media/request", json=body)).status_code == 409


async def test_other_seasons_of_a_requested_show_can_still_be_requested(
    alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient
) -> None:
    first = await alice_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": [1]}
    )
    overlapping = await bob_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": [1, 2]}
    )
    other = await bob_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": RENDER_FARM, "seasons": [2]}
    )
    assert first.status_code == 201
    assert overlapping.status_code == 409
    assert other.status_code == 201


async def test_declined_request_no_longer_blocks_a_new_one(
    app: MediaNestApp, alice_client: httpx.AsyncClient, bob_client: httpx.AsyncClient
) -> None:
    first = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(MediaRequest, uuid.UUID(first.json()["data"]["id"]))
        assert row is not None
        row.status = "declined"
    # Overseerr still has its own request, so the title is still taken.
    again = await bob_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    assert again.status_code == 409
    assert again.json()["error"]["details"]["reason"] == "requested_in_overseerr"


async def test_overseerr_conflict_becomes_our_conflict(alice_client: httpx.AsyncClient) -> None:
    # Tears of Steel has a pending request made in Overseerr directly (seeded).
    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": 133701}
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "CONFLICT"


async def test_already_available_show_seasons_are_a_conflict(
    alice_client: httpx.AsyncClient,
) -> None:
    # Pioneer One season 1 is available in Plex: nothing is left to request.
    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": 30991, "seasons": [1]}
    )
    assert answer.status_code == 409
    error = answer.json()["error"]
    # The true reason, found before Overseerr is asked (not "already has a request").
    assert error["message"] == "Season 1 is already in Plex."
    assert error["details"] == {"reason": "season_available", "seasons": [1]}


async def test_all_seasons_of_a_partly_available_show_asks_only_for_the_missing_ones(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": 30991, "seasons": "all"}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["data"]["seasons"] == [2]
    again = await alice_client.post(
        "/api/media/request", json={"mediaType": "tv", "tmdbId": 30991, "seasons": [2]}
    )
    assert again.status_code == 409


async def test_the_season_chooser_marks_seasons_in_plex_and_keeps_itself_after_a_refusal(
    alice_client: httpx.AsyncClient,
) -> None:
    html = {"HX-Request": "true", "Accept": "text/html"}
    chooser = await alice_client.get("/media/tv/30991/seasons", headers=html)
    assert chooser.status_code == 200
    assert 'data-season-state="available"' in chooser.text
    assert "(in Plex)" in chooser.text
    assert 'value="1" data-season disabled' in chooser.text
    assert 'value="2" data-season>' in chooser.text
    refused = await alice_client.post(
        "/media/request",
        data={"mediaType": "tv", "tmdbId": "30991", "seasons": "1"},
        headers=html,
    )
    assert refused.status_code == 409
    assert "Season 1 is already in Plex." in refused.text
    assert ">Request</button>" in refused.text  # the card keeps its Request button


async def test_overseerr_permission_refusal_is_403_with_its_reason(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.forbid_requests(1)  # MediaNest acts as Overseerr's admin (user 1)
    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "PERMISSION_DENIED"
    assert error["details"]["reason"] == "You do not have permission to make movie requests."


async def test_request_is_not_retried_when_overseerr_fails(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.set_fault("error", path_prefix="/api/v1/request")
    answer = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    assert answer.status_code == 503
    assert overseerr_sim.log.count("/api/v1/request", "POST") == 1


async def test_quota_per_hour_answers_429_with_retry_after(
    app_factory: Callable[[Settings], object],
    make_settings: Callable[..., Settings],
    settings: Settings,
    overseerr_sim: OverseerrSimulator,
) -> None:
    limited = make_settings(**_services(settings), rate_limit_requests_per_hour=2)
    app: MediaNestApp = await app_factory(limited)  # type: ignore[assignment]
    carol = await create_user(app, "carol", plex_id="1004")
    async with await signed_in_client(app, carol) as carol_client:
        for tmdb_id in (SPRITE_FRIGHT, 400006):
            made = await carol_client.post(
                "/api/media/request", json={"mediaType": "movie", "tmdbId": tmdb_id}
            )
            assert made.status_code == 201
        answer = await carol_client.post(
            "/api/media/request", json={"mediaType": "movie", "tmdbId": 400005}
        )
    assert answer.status_code == 429
    error = answer.json()["error"]
    assert error["code"] == "RATE_LIMIT_EXCEEDED"
    assert error["details"]["limit"] == 2
    assert error["details"]["window"] == 3600
    assert 0 < error["details"]["retryAfter"] <= 3600
    assert int(answer.headers["Retry-After"]) == error["details"]["retryAfter"]
    assert overseerr_sim.log.count("/api/v1/request", "POST") == 2


async def test_duplicates_do_not_spend_the_quota(
    app_factory: Callable[[Settings], object],
    make_settings: Callable[..., Settings],
    settings: Settings,
) -> None:
    limited = make_settings(**_services(settings), rate_limit_requests_per_hour=2)
    app: MediaNestApp = await app_factory(limited)  # type: ignore[assignment]
    carol = await create_user(app, "carol", plex_id="1004")
    async with await signed_in_client(app, carol) as carol_client:
        body = {"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
        assert (await carol_client.post("/api/media/request", json=body)).status_code == 201
        for _ in range(3):
            assert (await carol_client.post("/api/media/request", json=body)).status_code == 409
        other = {"mediaType": "movie", "tmdbId": 400006}
        assert (await carol_client.post("/api/media/request", json=other)).status_code == 201


def _services(settings: Settings) -> dict[str, object]:
    return {
        "overseerr_url": settings.overseerr_url,
        "overseerr_api_key": settings.overseerr_api_key,
        "plex_url": settings.plex_url,
        "plex_token": settings.plex_token,
        "overseerr_new_people": settings.overseerr_new_people,
    }


async def test_quota_follows_the_admins_run_time_setting(
    admin_client: httpx.AsyncClient, alice_client: httpx.AsyncClient
) -> None:
    changed = await admin_client.put("/api/admin/config", json={"requestsPerHour": 1})
    assert changed.status_code == 200
    first = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )
    second = await alice_client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": 400006}
    )
    assert first.status_code == 201
    assert second.status_code == 429
    assert second.json()["error"]["details"]["limit"] == 1


async def link_to_overseerr_user(
    admin_client: httpx.AsyncClient, user: User, overseerr_user_id: int | None
) -> None:
    answer = await admin_client.put(
        f"/api/admin/users/{user.id}", json={"overseerrUserId": overseerr_user_id}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["overseerrUserId"] == overseerr_user_id


async def request_sprite_fright(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(
        "/api/media/request", json={"mediaType": "movie", "tmdbId": SPRITE_FRIGHT}
    )


async def test_a_linked_user_requests_as_their_overseerr_user(
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    await link_to_overseerr_user(admin_client, alice, 2)  # the simulator's "alice"
    answer = await request_sprite_fright(alice_client)
    assert answer.status_code == 201, answer.text
    upstream = overseerr_sim.media_requests[answer.json()["data"]["overseerrId"]]
    assert (upstream.requested_by.id, upstream.requested_by.username) == (2, "alice")


async def test_an_unlinked_user_requests_as_the_api_keys_admin(
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    await link_to_overseerr_user(admin_client, alice, 2)
    await link_to_overseerr_user(admin_client, alice, None)  # unlinked again
    answer = await request_sprite_fright(alice_client)
    assert answer.status_code == 201, answer.text
    assert overseerr_sim.media_requests[answer.json()["data"]["overseerrId"]].requested_by.id == 1


async def test_a_link_to_a_user_overseerr_no_longer_has_is_refused_and_nothing_stored(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """Real Overseerr answers an `X-API-User` it does not have with isAuthenticated's
    403 (middleware/auth.ts: `checkUser` finds nobody): that is about this link, not a
    refusal of the person nor an outage. The user reads what is wrong, and Overseerr
    stays usable for everyone (the breaker does not count it)."""
    # Linked while Overseerr had that user, which was deleted there since.
    async with session_scope(app.ctx.session_factory) as session:
        stored_alice = await session.get(User, alice.id)
        assert stored_alice is not None
        stored_alice.overseerr_user_id = 999
    upstream_before = set(overseerr_sim.media_requests)
    for _ in range(app.ctx.settings.breaker_min_volume + 1):
        answer = await request_sprite_fright(alice_client)
        assert answer.status_code == 403, answer.text
        error = answer.json()["error"]
        assert error["code"] == "PERMISSION_DENIED"
        assert "Overseerr user 999" in error["message"]
        assert "administrator" in error["message"]
    assert set(overseerr_sim.media_requests) == upstream_before
    posts = overseerr_sim.requests("/api/v1/request", "POST")
    assert {(p.headers.get("x-api-user"), p.status) for p in posts} == {("999", 403)}
    async with session_scope(app.ctx.session_factory) as session:
        assert await session.scalar(select(MediaRequest).limit(1)) is None
    # Overseerr was up all along: a search still reaches it.
    found = await alice_client.get("/api/media/search", params={"query": "sprite"})
    assert found.status_code == 200, found.text
    assert overseerr_sim.log.count("/api/v1/search", "GET") == 1
