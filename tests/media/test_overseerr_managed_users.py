"""Plex Home managed users (python-plexapi `createHomeUser`: no email or password of their
own; plex.tv's `/api/users` lists them `email="" restricted="1" home="1"`) and Overseerr.

Real Overseerr's "Import Plex Users" skips every `/api/users` row without an email
(sct/overseerr server/routes/user/index.ts:506 `if (account.email)`; Seerr the same), so
it can never create a user for them, share or not; its maintainers' advice is a local
user or a Plex account of their own (sct/overseerr#3352). A managed user MediaNest lets
in (their libraries are shared) is told so at their first request, with what an admin
can do, and nothing is requested, as the admin least of all. And an automatic link never
makes two MediaNest accounts one Overseerr requester. Real sockets: MediaNest → the
Overseerr simulator → the plex.tv simulator; sign-in through plex.tv's PIN flow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Literal

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator, PlexSimulator, PlexTvSimulator
from medianest_simulators.overseerr_data import API_KEY as OVERSEERR_API_KEY
from medianest_simulators.overseerr_plex_import import IMPORT_PATH, PlexConnection
from medianest_simulators.plextv_models import MACHINE_IDENTIFIER, OWNER_TOKEN
from tests.auth.flows import poll_until_settled, start_pin
from tests.factories.users import create_user, make_client, signed_in_client
from tests.media.test_overseerr_import import (
    local_rows,
    overseerr_users_of,
    request_movie,
    request_movie_page,
)


@pytest.fixture
def settings(
    make_settings: Callable[..., Settings],
    overseerr_sim: OverseerrSimulator,
    plex_sim: PlexSimulator,
    plextv: PlexTvSimulator,
) -> Settings:
    """MediaNest with the Plex server, plex.tv and Overseerr of one household; Plex users
    Overseerr has no user for are imported (the default)."""
    return make_settings(
        overseerr_new_people="import",
        overseerr_url=overseerr_sim.url,
        overseerr_api_key=OVERSEERR_API_KEY,
        plex_url=plex_sim.url,
        plex_token=OWNER_TOKEN,
        plex_tv_url=plextv.url,
        plex_app_url=plextv.url,
        http_retry_attempts=1,
    )


@pytest.fixture
def household(overseerr_sim: OverseerrSimulator, plextv: PlexTvSimulator) -> Iterator[None]:
    """The owner's Plex Home has a managed kid with the libraries shared; dave is a friend
    the server is shared with; Overseerr is set up with the owner's Plex account."""
    plextv.add_managed_user("kid")
    plextv.share_server("kid", MACHINE_IDENTIFIER, "sim-pms-kid-access")
    plextv.add_user("dave", email="dave@medianest.test")
    plextv.share_server("dave", MACHINE_IDENTIFIER, "sim-pms-dave-access")
    overseerr_sim.connect_plex(PlexConnection(plextv.url, OWNER_TOKEN, MACHINE_IDENTIFIER))
    yield
    overseerr_sim.connect_plex(None)


@pytest.fixture
async def dave_and_erin(
    app: MediaNestApp, household: None, plextv: PlexTvSimulator
) -> tuple[User, User]:
    """dave and erin, a new friend the server is shared with too, signed up in MediaNest
    (linked to Overseerr by nothing yet)."""
    plextv.add_user("erin", email="erin@medianest.test")
    plextv.share_server("erin", MACHINE_IDENTIFIER, "sim-pms-erin-access")
    dave = await create_user(app, "dave", plex_id=str(plextv.accounts["dave"].id))
    erin = await create_user(app, "erin", plex_id=str(plextv.accounts["erin"].id))
    return dave, erin


def requester(overseerr_sim: OverseerrSimulator, answer: httpx.Response) -> int:
    """The Overseerr user a request that MediaNest made (201) was made as."""
    assert answer.status_code == 201, answer.text
    return overseerr_sim.media_requests[answer.json()["data"]["overseerrId"]].requested_by.id


async def link(admin_client: httpx.AsyncClient, user_id: object, overseerr_id: int) -> None:
    """The admin links a MediaNest user to an Overseerr user (Admin → Users)."""
    linked = await admin_client.put(
        f"/api/admin/users/{user_id}", json={"overseerrUserId": overseerr_id}
    )
    assert linked.status_code == 200, linked.text


@asynccontextmanager
async def plex_sign_in(
    app: MediaNestApp, plextv: PlexTvSimulator, who: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as `who` through plex.tv's PIN flow."""
    async with make_client(app) as browser:
        pin = await start_pin(browser)
        plextv.approve_pin(pin["id"], who)
        answer = await poll_until_settled(browser, pin["id"])
        assert answer.status_code == 200, answer.text
        yield browser


async def test_a_managed_home_user_is_told_what_the_admin_must_do_and_nothing_is_requested(
    app: MediaNestApp,
    household: None,
    plextv: PlexTvSimulator,
    overseerr_sim: OverseerrSimulator,
    admin_client: httpx.AsyncClient,
) -> None:
    before = dict(overseerr_sim.media_requests)
    async with plex_sign_in(app, plextv, "kid") as kid:
        answer = await request_movie(kid)
        assert answer.status_code == 403, answer.text
        body = answer.json()
        assert body["success"] is False
        assert body["error"]["code"] == "NOT_IN_OVERSEERR"
        assert body["error"]["details"]["reason"] == "managed_plex_user"
        message = body["error"]["message"]
        assert "managed Plex Home user" in message
        assert "Create Local User" in message and "Admin → Users" in message
        # The request page says the same.
        page = await request_movie_page(kid)
        assert page.status_code == 403, page.text
        assert "Create Local User" in page.text
        # Overseerr was asked to import them and skipped them; nothing was requested, as
        # the API key's admin least of all, and MediaNest kept nothing.
        assert overseerr_sim.request_count(IMPORT_PATH, "POST") == 2
        assert overseerr_users_of(overseerr_sim, plextv.accounts["kid"].id) == []
        assert overseerr_sim.media_requests == before
        assert await local_rows(app) == 0

        # What the message says: a local Overseerr user, linked by an admin.
        local = overseerr_sim.add_user("kid")
        await link(admin_client, (await _user_row(admin_client, "kid"))["id"], local.id)
        answer = await request_movie(kid)
    assert requester(overseerr_sim, answer) == local.id
    assert answer.json()["data"]["status"] == "pending"  # the kid's rules, not the admin's


async def test_a_managed_user_requesting_as_the_admin_only_when_the_admin_chose_it(
    app: MediaNestApp,
    household: None,
    plextv: PlexTvSimulator,
    overseerr_sim: OverseerrSimulator,
    admin_client: httpx.AsyncClient,
) -> None:
    """`overseerrNewPeople: as_admin` is the admin's choice for everyone Overseerr has no
    user for; a managed user then requests as the API key's admin like the others."""
    chosen = await admin_client.put("/api/admin/config", json={"overseerrNewPeople": "as_admin"})
    assert chosen.status_code == 200, chosen.text
    async with plex_sign_in(app, plextv, "kid") as kid:
        answer = await request_movie(kid)
    assert requester(overseerr_sim, answer) == 1
    assert overseerr_sim.request_count(IMPORT_PATH, "POST") == 0


async def test_an_overseerr_user_linked_to_another_account_is_never_linked_automatically(
    app: MediaNestApp,
    household: None,
    plextv: PlexTvSimulator,
    overseerr_sim: OverseerrSimulator,
    admin_client: httpx.AsyncClient,
) -> None:
    """The admin made the kid a local Overseerr user with a parent's email (dave's) and
    linked the kid to it. dave's first request makes Overseerr's import turn that local
    user into dave's Plex user (same email: routes/user/index.ts:507-525), so its
    `plexId` is now dave's: linking dave to it as well would send his requests, quota and
    notifications to the kid's user and the kid's to him. Refused, nothing requested; the
    admin decides."""
    kid = await create_user(app, "kid", plex_id=str(plextv.accounts["kid"].id))
    local = overseerr_sim.add_user("dave")  # local, with dave's email
    await link(admin_client, kid.id, local.id)
    before = dict(overseerr_sim.media_requests)
    async with plex_sign_in(app, plextv, "dave") as dave:
        refused = await request_movie(dave)
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "OVERSEERR_USER_TAKEN"
        assert "Admin → Users" in error["message"]
        assert overseerr_sim.users[local.id].plex_id == plextv.accounts["dave"].id
        assert overseerr_sim.media_requests == before
        assert await local_rows(app) == 0
        dave_row = await _user_row(admin_client, "dave")
        assert dave_row["overseerrUserId"] is None
        # The kid still requests as the user made for them.
        async with await signed_in_client(app, kid) as kid_client:
            own = await request_movie(kid_client, 400006)
        assert requester(overseerr_sim, own) == local.id
        # The admin gives the kid another user: dave's Overseerr user is his now.
        other = overseerr_sim.add_user("kid")
        await link(admin_client, kid.id, other.id)
        answer = await request_movie(dave)
    assert requester(overseerr_sim, answer) == local.id


async def _user_row(admin_client: httpx.AsyncClient, username: str) -> dict[str, object]:
    users = (await admin_client.get("/api/admin/users")).json()["data"]
    (row,) = [u for u in users if u["username"] == username]
    assert isinstance(row, dict)
    return row


async def test_a_person_whose_plex_email_changed_still_requests_as_their_own_user(
    app: MediaNestApp,
    dave_and_erin: tuple[User, User],
    plextv: PlexTvSimulator,
    overseerr_sim: OverseerrSimulator,
) -> None:
    """dave was imported and linked, then changed his plex.tv email; erin's first request
    makes Overseerr import her and, on the way, give dave's user his new email
    (routes/user/index.ts:518). MediaNest links by Plex account id only, so dave
    keeps requesting as his own user, before Overseerr knew and after."""
    dave_user, erin_user = dave_and_erin
    async with await signed_in_client(app, dave_user) as dave:
        first = await request_movie(dave)
        assert first.status_code == 201, first.text
        (own,) = overseerr_users_of(overseerr_sim, plextv.accounts["dave"].id)
        plextv.accounts["dave"].email = "dave.new@medianest.test"
        before_overseerr_knew = await request_movie(dave, 400006)
        async with await signed_in_client(app, erin_user) as erin:
            assert (await request_movie(erin, 400005)).status_code == 201
        assert overseerr_sim.users[own].email == "dave.new@medianest.test"
        after = await request_movie(dave, 400004)
    for answer in (before_overseerr_knew, after):
        assert requester(overseerr_sim, answer) == own
    assert overseerr_sim.request_count(IMPORT_PATH, "POST") == 2  # dave's, erin's


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
async def test_a_plex_email_changed_to_a_local_users_blocks_imports_and_the_admin_is_told(
    app: MediaNestApp,
    dave_and_erin: tuple[User, User],
    plextv: PlexTvSimulator,
    overseerr_sim: OverseerrSimulator,
    database: Literal["sqlite", "postgres"],
) -> None:
    """dave (imported, linked) changes his plex.tv email to the one a local Overseerr user
    has. Overseerr's import then fails at his row, for everyone after it (its unique
    email: the save throws, the route answers 500 in its database's words: SQLite's, or
    Seerr's on PostgreSQL naming the email's constraint): erin, a new friend, cannot be
    added until an admin changes one of the two emails. Trying again does not help, so
    she is told what the admin must do; dave, linked by Plex account id, is not
    affected."""
    overseerr_sim.set_database(database)
    dave_user, erin_user = dave_and_erin
    async with await signed_in_client(app, dave_user) as dave:
        assert (await request_movie(dave)).status_code == 201
        (own,) = overseerr_users_of(overseerr_sim, plextv.accounts["dave"].id)
        local = overseerr_sim.add_user("papa")
        plextv.accounts["dave"].email = local.email
        async with await signed_in_client(app, erin_user) as erin:
            blocked = await request_movie(erin, 400005)
            assert blocked.status_code == 409, blocked.text
            error = blocked.json()["error"]
            assert error["code"] == "OVERSEERR_IMPORT_BLOCKED"
            assert "change one of the two emails" in error["message"]
            assert overseerr_users_of(overseerr_sim, plextv.accounts["erin"].id) == []
            assert await local_rows(app) == 1  # dave's first only
            mine = await request_movie(dave, 400006)
            assert requester(overseerr_sim, mine) == own
            # The admin gives the local user another email: imports work again.
            local.email = "papa@elsewhere.test"
            answer = await request_movie(erin, 400005)
    made_as = requester(overseerr_sim, answer)
    (imported,) = overseerr_users_of(overseerr_sim, plextv.accounts["erin"].id)
    assert made_as == imported
