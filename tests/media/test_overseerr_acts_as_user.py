"""A linked person's request is made AS their Overseerr user (`X-API-User`), so it gets
no more than they would get requesting in Overseerr themselves: it waits for approval
unless their own permissions auto-approve it (Overseerr decides that by the caller,
never by a body `userId`), and their missing permission is refused with Overseerr's
reason. Unlinked people still request as the API key's admin. Real sockets to the
Overseerr simulator, which keeps who made each request and how it was answered."""

from __future__ import annotations

import httpx
import pytest

from medianest.auth.models import User
from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import (
    APPROVED,
    AUTO_APPROVE,
    AUTO_APPROVE_TV,
    PENDING,
    REQUEST,
)
from medianest_simulators.overseerr_data import User as OverseerrUser
from tests.media.test_overseerr_auto_link import admin_view

SPRITE_FRIGHT = 400007
RENDER_FARM = 500003  # two seasons, nothing requested
REQUEST_ROUTE = "/api/v1/request"


async def ask(client: httpx.AsyncClient, media_type: str, tmdb_id: int) -> httpx.Response:
    return await client.post(
        "/api/media/request", json={"mediaType": media_type, "tmdbId": tmdb_id}
    )


def upstream(overseerr_sim: OverseerrSimulator, answer: httpx.Response) -> tuple[int, int]:
    """(the Overseerr user it was made for, its Overseerr status) of a made request."""
    assert answer.status_code == 201, answer.text
    made = overseerr_sim.media_requests[answer.json()["data"]["overseerrId"]]
    return made.requested_by.id, made.status


def sent_as(overseerr_sim: OverseerrSimulator) -> list[tuple[str | None, int | None]]:
    """Each `POST /api/v1/request` Overseerr received: its `X-API-User`, its answer."""
    posts = overseerr_sim.requests(REQUEST_ROUTE, "POST")
    return [(post.headers.get("x-api-user"), post.status) for post in posts]


@pytest.mark.parametrize("server", ["overseerr", "seerr"])
async def test_a_linked_person_without_auto_approve_gets_a_pending_request(
    server: str,
    alice_in_overseerr: OverseerrUser,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """Overseerr's admin (whom the API key acts as) auto-approves; alice (REQUEST only)
    does not: her request waits for the household admin, as it would in Overseerr."""
    if server == "seerr":
        overseerr_sim.behave_as_seerr()
    answer = await ask(alice_client, "movie", SPRITE_FRIGHT)
    assert upstream(overseerr_sim, answer) == (alice_in_overseerr.id, PENDING)
    assert answer.json()["data"]["status"] == "pending"
    assert sent_as(overseerr_sim) == [("4", 201)]


async def test_a_linked_person_whose_permissions_auto_approve_gets_an_approved_request(
    alice_in_overseerr: OverseerrUser,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """Her own AUTO_APPROVE counts, whatever the admin's requests do."""
    overseerr_sim.set_permissions(alice_in_overseerr.id, REQUEST | AUTO_APPROVE)
    answer = await ask(alice_client, "movie", SPRITE_FRIGHT)
    assert upstream(overseerr_sim, answer) == (alice_in_overseerr.id, APPROVED)
    # Approved, its media being fetched (Overseerr's PROCESSING): MediaNest's "processing".
    assert answer.json()["data"]["status"] == "processing"


async def test_auto_approval_for_series_only_approves_her_series_not_her_movies(
    alice_in_overseerr: OverseerrUser,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    overseerr_sim.set_permissions(alice_in_overseerr.id, REQUEST | AUTO_APPROVE_TV)
    series = await ask(alice_client, "tv", RENDER_FARM)
    movie = await ask(alice_client, "movie", SPRITE_FRIGHT)
    assert upstream(overseerr_sim, series) == (alice_in_overseerr.id, APPROVED)
    assert upstream(overseerr_sim, movie) == (alice_in_overseerr.id, PENDING)


async def test_a_linked_person_without_request_permission_is_refused_with_overseerrs_reason(
    alice: User,
    alice_in_overseerr: OverseerrUser,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """Refused for her own missing permission (the user exists: no stale link): the
    reason reaches her, nothing is made, her link stays."""
    overseerr_sim.set_permissions(alice_in_overseerr.id, AUTO_APPROVE_TV)  # no REQUEST
    answer = await ask(alice_client, "movie", SPRITE_FRIGHT)
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["code"] == "PERMISSION_DENIED"
    assert error["details"]["reason"] == "You do not have permission to make movie requests."
    assert not [r for r in overseerr_sim.media_requests.values() if r.requested_by.id == 4]
    assert await admin_view(admin_client, alice) == (alice_in_overseerr.id, "automatic")
    assert sent_as(overseerr_sim) == [("4", 403)]


async def test_an_unlinked_person_requests_as_the_api_keys_admin_and_its_rules(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """No Overseerr user has her Plex account: the request goes as the admin (no
    `X-API-User`), approved at once as real Overseerr approves the admin's."""
    answer = await ask(alice_client, "movie", SPRITE_FRIGHT)
    assert upstream(overseerr_sim, answer) == (1, APPROVED)
    assert sent_as(overseerr_sim) == [(None, 201)]


async def test_a_person_past_their_overseerr_quota_is_told_it_is_overseerrs_quota(
    alice_in_overseerr: OverseerrUser,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """Overseerr's own per-user quota (one film a week; one season): asked as her, its
    403 "Movie Quota exceeded." is a 429 QUOTA_EXCEEDED that says it is Overseerr's, not
    a permission error; nothing is stored."""
    overseerr_sim.set_quota(alice_in_overseerr.id, "movie", 1, 7)
    overseerr_sim.set_quota(alice_in_overseerr.id, "tv", 1, 7)
    assert upstream(overseerr_sim, await ask(alice_client, "movie", SPRITE_FRIGHT))[0] == 4

    second = await ask(alice_client, "movie", 400006)
    both_seasons = await ask(alice_client, "tv", RENDER_FARM)  # two seasons, one left

    for answer, kind in ((second, "movie"), (both_seasons, "tv")):
        assert answer.status_code == 429, answer.text
        error = answer.json()["error"]
        assert error["code"] == "QUOTA_EXCEEDED"
        assert (error["details"]["source"], error["details"]["mediaType"]) == ("overseerr", kind)
        assert "quota" in error["message"] and "Overseerr" in error["message"]
    assert sent_as(overseerr_sim)[-2:] == [("4", 403), ("4", 403)]
    mine = (await alice_client.get("/api/media/requests")).json()["data"]
    assert [r["tmdbId"] for r in mine] == [SPRITE_FRIGHT]
