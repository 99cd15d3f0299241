"""The automatic Overseerr link (media/overseerr_link.py) outside the request's unit of
work: written and committed before Overseerr is asked to make the request, so an admin
saving the user meanwhile never waits for Overseerr and their choice stays; and mended
by itself once Overseerr no longer has the linked user (nobody chose it), where an
admin's link keeps its refusal. Real sockets to the Overseerr simulator."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.platform.models import AuditLog
from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import User as OverseerrUser
from tests.media.test_overseerr_auto_link import (
    USERS,
    admin_view,
    request_movie,
    requested_as,
    set_link,
)
from tests.support.held_requests import until_received

REQUEST = "/api/v1/request"


async def audited(app: MediaNestApp, action: str) -> list[dict[str, object]]:
    async with session_scope(app.ctx.session_factory) as session:
        rows = await session.scalars(
            select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.created_at)
        )
        return [dict(row.details or {}) for row in rows]


@pytest.fixture
async def alice_linked_to_a_deleted_user(
    alice_in_overseerr: OverseerrUser,
    alice_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """alice's first request links her to Overseerr's user 4 by her Plex account (the
    automatic link: nobody chose it); then Overseerr deletes that user."""
    linked = alice_in_overseerr.id
    assert requested_as(overseerr_sim, await request_movie(alice_client)) == linked
    overseerr_sim.delete_user(linked)


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("alice_in_overseerr")
async def test_an_admin_saves_a_users_link_without_waiting_for_overseerr_to_make_their_request(
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """The first request links alice and Overseerr is slow to make it: no row of hers
    stays locked meanwhile, and the admin's link saved then is the one kept."""
    overseerr_sim.hold_requests(REQUEST, "POST")
    try:
        asked = asyncio.create_task(request_movie(alice_client))
        await until_received(overseerr_sim, REQUEST, "POST")
        assert overseerr_sim.request_count(REQUEST, "POST") == 1
        saving = asyncio.create_task(set_link(admin_client, alice, {"overseerrUserId": 2}))
        done, _ = await asyncio.wait({saving}, timeout=5.0)
        assert saving in done, "the admin's save waited for Overseerr"
        await saving
    finally:
        overseerr_sim.release_requests()
    assert requested_as(overseerr_sim, await asked) == 4  # linked before the admin chose
    assert await admin_view(admin_client, alice) == (2, "admin")
    assert requested_as(overseerr_sim, await request_movie(alice_client, 400006)) == 2


@pytest.mark.usefixtures("alice_linked_to_a_deleted_user")
async def test_an_automatic_link_to_a_user_overseerr_imported_again_follows_the_new_id(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    assert overseerr_sim.add_user("alice.plex", plex_id=1002).id == 5  # re-imported
    answer = await request_movie(alice_client, 400006)
    assert requested_as(overseerr_sim, answer) == 5
    assert await admin_view(admin_client, alice) == (5, "automatic")
    # The kept user list (a minute) still named 4: asked again for the new id.
    assert overseerr_sim.request_count(USERS, "GET") == 2
    # Made once more, once, each as the user (`X-API-User`): the first request, the one
    # Overseerr refused for a user it no longer has (isAuthenticated's 403), the one
    # that made it.
    posts = overseerr_sim.requests(REQUEST, "POST")
    assert [(p.headers.get("x-api-user"), p.status) for p in posts] == [
        ("4", 201),
        ("4", 403),
        ("5", 201),
    ]
    assert (await audited(app, "media.overseerr_user_linked"))[-1] == {
        "overseerrUserId": 5,
        "by": "plex_account",
        "replaced": 4,
    }


@pytest.mark.usefixtures("alice_linked_to_a_deleted_user")
async def test_an_automatic_link_to_a_user_overseerr_deleted_requests_as_the_api_keys_admin(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    assert requested_as(overseerr_sim, await request_movie(alice_client, 400006)) == 1
    assert await admin_view(admin_client, alice) == (None, None)  # looked up again later
    posts = overseerr_sim.requests(REQUEST, "POST")[1:]  # after the one that linked her
    assert [(p.headers.get("x-api-user"), p.status) for p in posts] == [("4", 403), (None, 201)]
    assert await audited(app, "media.overseerr_user_unlinked") == [
        {"overseerrUserId": 4, "reason": "gone"}
    ]
    # Imported again just after: the list asked for just now is kept a minute.
    overseerr_sim.add_user("alice.plex", plex_id=1002)
    assert requested_as(overseerr_sim, await request_movie(alice_client, 400005)) == 1


@pytest.mark.usefixtures("alice_in_overseerr")
async def test_an_admins_link_to_a_user_overseerr_deleted_is_still_refused(
    alice: User,
    alice_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    await set_link(admin_client, alice, {"overseerrUserId": 4})
    overseerr_sim.delete_user(4)
    overseerr_sim.add_user("alice.plex", plex_id=1002)  # re-imported: not the admin's choice
    answer = await request_movie(alice_client)
    assert answer.status_code == 403, answer.text
    assert "Ask an administrator" in answer.json()["error"]["message"]
    assert await admin_view(admin_client, alice) == (4, "admin")
    assert overseerr_sim.request_count(USERS, "GET") == 0
    posts = overseerr_sim.requests(REQUEST, "POST")
    assert [(p.headers.get("x-api-user"), p.status) for p in posts] == [("4", 403)]
