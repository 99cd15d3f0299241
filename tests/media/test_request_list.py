"""Reading requests: own only, admins anyone's, paging and status filter, 404 for another
user's request, and answers from our database while Overseerr is down."""

from __future__ import annotations

import uuid

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.media.models import MediaRequest
from medianest_simulators import OverseerrSimulator


async def add_requests(app: MediaNestApp, user: User, statuses: list[str]) -> list[str]:
    ids = []
    async with session_scope(app.ctx.session_factory) as session:
        for n, status in enumerate(statuses):
            row = MediaRequest(
                user_id=user.id,
                title=f"Title {n}",
                media_type="movie",
                tmdb_id=800_000 + n,
                status=status,
                overseerr_id=None,
            )
            session.add(row)
            await session.flush()
            ids.append(str(row.id))
    return ids


@pytest.mark.parametrize("path", ["/api/media/requests", f"/api/media/requests/{uuid.UUID(int=1)}"])
async def test_anonymous_cannot_read_requests(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)
    assert answer.status_code == 401


async def test_users_see_only_their_own_requests(
    app: MediaNestApp,
    alice: User,
    bob: User,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
) -> None:
    mine = await add_requests(app, alice, ["pending", "available"])
    await add_requests(app, bob, ["pending"])
    answer = await alice_client.get("/api/media/requests")
    assert answer.status_code == 200
    body = answer.json()
    assert {r["id"] for r in body["data"]} == set(mine)
    assert body["meta"]["total"] == 2
    assert all(r["userId"] == str(alice.id) for r in body["data"])


async def test_requests_are_paged_and_filtered_by_status(
    app: MediaNestApp, alice: User, alice_client: httpx.AsyncClient
) -> None:
    await add_requests(app, alice, ["pending"] * 5 + ["available"] * 2)
    first = await alice_client.get("/api/media/requests", params={"pageSize": 3})
    third = await alice_client.get("/api/media/requests", params={"pageSize": 3, "page": 3})
    available = await alice_client.get("/api/media/requests", params={"status": "available"})
    assert len(first.json()["data"]) == 3
    assert first.json()["meta"] == first.json()["meta"] | {"page": 1, "pageSize": 3, "total": 7}
    assert len(third.json()["data"]) == 1
    assert [r["status"] for r in available.json()["data"]] == ["available", "available"]
    assert available.json()["meta"]["total"] == 2


@pytest.mark.parametrize(
    "params",
    [{"status": "lost"}, {"page": 0}, {"pageSize": 101}, {"userId": "not-a-uuid"}],
)
async def test_bad_list_parameters_are_rejected(
    alice_client: httpx.AsyncClient, params: dict[str, object]
) -> None:
    answer = await alice_client.get("/api/media/requests", params=params)
    assert answer.status_code in (400, 422)
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_users_cannot_list_other_users_requests(
    alice_client: httpx.AsyncClient, bob: User, alice: User
) -> None:
    everyone = await alice_client.get("/api/media/requests", params={"all": "true"})
    bobs = await alice_client.get("/api/media/requests", params={"userId": str(bob.id)})
    own = await alice_client.get("/api/media/requests", params={"userId": str(alice.id)})
    assert everyone.status_code == 403
    assert bobs.status_code == 403
    assert own.status_code == 200


async def test_admins_list_one_users_or_everyones_requests(
    app: MediaNestApp, alice: User, bob: User, admin_client: httpx.AsyncClient
) -> None:
    alices = await add_requests(app, alice, ["pending", "pending"])
    bobs = await add_requests(app, bob, ["failed"])
    everyone = await admin_client.get("/api/media/requests", params={"all": "true"})
    only_bob = await admin_client.get("/api/media/requests", params={"userId": str(bob.id)})
    own = await admin_client.get("/api/media/requests")
    assert {r["id"] for r in everyone.json()["data"]} == set(alices + bobs)
    assert [r["id"] for r in only_bob.json()["data"]] == bobs
    assert own.json()["data"] == []


async def test_one_request_is_readable_by_its_owner_and_admins_only(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
) -> None:
    (request_id,) = await add_requests(app, alice, ["approved"])
    path = f"/api/media/requests/{request_id}"
    own = await alice_client.get(path)
    other = await bob_client.get(path)
    admin = await admin_client.get(path)
    assert own.status_code == 200
    assert own.json()["data"]["status"] == "approved"
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "NOT_FOUND"
    assert "Title 0" not in other.text
    assert admin.status_code == 200


async def test_unknown_or_malformed_request_ids(alice_client: httpx.AsyncClient) -> None:
    unknown = await alice_client.get(f"/api/media/requests/{uuid.uuid4()}")
    malformed = await alice_client.get("/api/media/requests/42")
    assert unknown.status_code == 404
    assert malformed.status_code in (400, 422)


async def test_requests_are_listed_while_overseerr_is_down(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    (request_id,) = await add_requests(app, alice, ["pending"])
    overseerr_sim.set_fault("error")
    listed = await alice_client.get("/api/media/requests")
    one = await alice_client.get(f"/api/media/requests/{request_id}")
    assert listed.status_code == 200
    assert [r["id"] for r in listed.json()["data"]] == [request_id]
    assert one.status_code == 200
