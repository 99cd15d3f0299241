"""A Plex user's requests are made as the Overseerr user imported from the same Plex
account (exact `plexId` match), found at their first request; an admin's link, or their
"no link", always wins; Overseerr unable to say leaves the request as it was (as the API
key's admin). Real sockets to the Overseerr simulator, which keeps who each request is by."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.platform.models import AuditLog
from medianest_simulators import OverseerrSimulator
from tests.factories.users import create_user, signed_in_client
from tests.support.held_requests import until_received

USERS = "/api/v1/user"
MOVIES = [400001, 400002, 400003, 400004, 400005, 400006, 400007]


async def request_movie(client: httpx.AsyncClient, tmdb_id: int = 400007) -> httpx.Response:
    return await client.post("/api/media/request", json={"mediaType": "movie", "tmdbId": tmdb_id})


def requested_as(overseerr_sim: OverseerrSimulator, answer: httpx.Response) -> int:
    """The Overseerr user the simulator made the request for (the POST's `X-API-User`)."""
    assert answer.status_code == 201, answer.text
    return overseerr_sim.media_requests[answer.json()["data"]["overseerrId"]].requested_by.id


async def admin_view(admin_client: httpx.AsyncClient, user: User) -> tuple[int | None, str | None]:
    answer = await admin_client.get("/api/admin/users", params={"search": user.username})
    assert answer.status_code == 200, answer.text
    (row,) = [u for u in answer.json()["data"] if u["id"] == str(user.id)]
    return row["overseerrUserId"], row["overseerrLink"]


async def set_link(admin_client: httpx.AsyncClient, user: User, body: dict[str, object]) -> None:
    answer = await admin_client.put(f"/api/admin/users/{user.id}", json=body)
    assert answer.status_code == 200, answer.text


@pytest.mark.usefixtures("alice_in_overseerr")  # user 4
async def test_a_plex_user_overseerr_knows_requests_as_their_own_overseerr_user(
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    assert requested_as(overseerr_sim, await request_movie(alice_client)) == 4
    assert await admin_view(admin_client, alice) == (4, "automatic")
    # Linked now: the next request asks Overseerr for no user list.
    assert requested_as(overseerr_sim, await request_movie(alice_client, 400006)) == 4
    assert overseerr_sim.request_count(USERS, "GET") == 1


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_the_automatic_link_is_audited(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    await request_movie(alice_client)
    async with session_scope(app.ctx.session_factory) as session:
        entry = await session.scalar(
            select(AuditLog).where(AuditLog.action == "media.overseerr_user_linked")
        )
    assert entry is not None
    assert (entry.target, entry.details) == (
        str(alice.id),
        {"overseerrUserId": 4, "by": "plex_account"},
    )


async def test_a_user_overseerr_does_not_know_by_plex_account_requests_as_the_api_keys_admin(
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """Overseerr's "alice" has alice's username (and a local user her email) but another
    Plex account: names and emails never link, anyone can take them."""
    overseerr_sim.users[2].email = "alice@example.test"  # MediaNest alice's email
    overseerr_sim.add_user("alice")  # a local user: no Plex account
    assert requested_as(overseerr_sim, await request_movie(alice_client)) == 1
    assert await admin_view(admin_client, alice) == (None, None)  # still looked up later
    assert overseerr_sim.request_count(USERS, "GET") == 1


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_two_overseerr_users_of_one_plex_account_link_neither(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.add_user("alice.again", plex_id=1002)
    assert requested_as(overseerr_sim, await request_movie(alice_client)) == 1


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_an_admins_link_wins_over_the_plex_account(
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    await set_link(admin_client, alice, {"overseerrUserId": 2})
    assert requested_as(overseerr_sim, await request_movie(alice_client)) == 2
    assert await admin_view(admin_client, alice) == (2, "admin")
    assert overseerr_sim.request_count(USERS, "GET") == 0


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_an_admins_no_link_is_kept_until_they_hand_it_back(
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    await set_link(admin_client, alice, {"overseerrUserId": None})
    assert await admin_view(admin_client, alice) == (None, "admin")
    assert requested_as(overseerr_sim, await request_movie(alice_client)) == 1
    assert overseerr_sim.request_count(USERS, "GET") == 0
    await set_link(admin_client, alice, {"overseerrLink": "automatic"})
    assert await admin_view(admin_client, alice) == (None, None)
    assert requested_as(overseerr_sim, await request_movie(alice_client, 400006)) == 4


async def test_a_link_and_the_automatic_choice_at_once_are_refused(
    alice: User, admin_client: httpx.AsyncClient
) -> None:
    answer = await admin_client.put(
        f"/api/admin/users/{alice.id}", json={"overseerrUserId": 2, "overseerrLink": "automatic"}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["success"] is False


async def test_a_user_without_a_plex_account_is_never_looked_up(
    admin_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    assert requested_as(overseerr_sim, await request_movie(admin_client)) == 1
    assert overseerr_sim.request_count(USERS, "GET") == 0


@pytest.mark.parametrize("fault", ["error", "malformed", "unavailable"])
@pytest.mark.usefixtures("alice_in_overseerr")
async def test_an_overseerr_whose_user_list_fails_takes_the_request_as_before(
    fault: str,
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """Down, garbage or refusing: the request is made as the API key's admin, nothing is
    linked, and the failure is kept a while, so the next requests do not wait for it."""
    overseerr_sim.set_fault(fault, path_prefix=USERS)
    assert requested_as(overseerr_sim, await request_movie(alice_client)) == 1
    assert requested_as(overseerr_sim, await request_movie(alice_client, 400006)) == 1
    assert overseerr_sim.request_count(USERS, "GET") == 1
    assert await admin_view(admin_client, alice) == (None, None)


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("alice_in_overseerr")
async def test_an_overseerr_whose_user_list_hangs_delays_a_first_request_a_few_seconds_at_most(
    alice_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.hold_requests(USERS, "GET")
    try:
        started = time.monotonic()
        assert requested_as(overseerr_sim, await request_movie(alice_client)) == 1
        assert time.monotonic() - started < 8.0  # the lookup's 5 s budget, and the request
        started = time.monotonic()
        assert requested_as(overseerr_sim, await request_movie(alice_client, 400006)) == 1
        assert time.monotonic() - started < 2.0  # the failure is kept: no second wait
    finally:
        overseerr_sim.release_requests()


@pytest.mark.timeout(60)
async def test_many_first_requests_at_once_ask_overseerr_for_its_users_once(
    app: MediaNestApp, overseerr_sim: OverseerrSimulator
) -> None:
    people = [
        await create_user(app, f"viewer{n}", plex_id=str(5000 + n), plex_token=f"token-{n}")
        for n in range(len(MOVIES))
    ]
    expected = [
        overseerr_sim.add_user(f"viewer{n}", plex_id=5000 + n).id for n in range(len(people))
    ]
    clients = [await signed_in_client(app, person) for person in people]
    overseerr_sim.hold_requests(USERS, "GET")  # the lookup waits until everyone asked
    try:
        asked = [
            asyncio.create_task(request_movie(c, tmdb_id)) for c, tmdb_id in zip(clients, MOVIES)
        ]
        await until_received(overseerr_sim, USERS, "GET")
        await asyncio.sleep(1.0)  # every request reaches the lookup meanwhile
        overseerr_sim.release_requests()
        answers = await asyncio.gather(*asked)
    finally:
        overseerr_sim.release_requests()
        for c in clients:
            await c.aclose()
    assert [requested_as(overseerr_sim, a) for a in answers] == expected
    assert overseerr_sim.request_count(USERS, "GET") == 1


HX = {"HX-Request": "true", "Accept": "text/html"}


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_the_admin_row_shows_the_automatic_link_and_hands_a_choice_back(
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    await request_movie(alice_client)
    listed = await admin_client.get("/admin/users", params={"search": "alice"}, headers=HX)
    assert listed.status_code == 200, listed.text
    assert re.search(r'name="overseerr_user_id"[^>]*value="4"', listed.text)
    assert "same Plex account" in listed.text
    url = f"/admin/users/{alice.id}"
    unlinked = await admin_client.put(url, data={"overseerr_user_id": ""}, headers=HX)
    assert "alice: Overseerr user is now not linked" in unlinked.headers["hx-trigger"]
    assert 'hx-vals=\'{"overseerr_link": "automatic"}\'' in unlinked.text  # the button
    handed = await admin_client.put(url, data={"overseerr_link": "automatic"}, headers=HX)
    assert handed.status_code == 200, handed.text
    assert "alice: Overseerr user is now automatic" in handed.headers["hx-trigger"]
    assert re.search(r'name="overseerr_user_id"[^>]*placeholder="automatic"', handed.text)
    assert requested_as(overseerr_sim, await request_movie(alice_client, 400006)) == 4
