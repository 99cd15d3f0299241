"""A Plex friend Overseerr has no user for is imported into Overseerr at their first
request, as Overseerr's own "Import Plex Users" does (routes/user/index.ts
`import-from-plex`: only people its Plex server is shared with, the owner's default
permissions and quotas), linked, and asks as themselves: the owner's rules apply (a
request waits for approval). Refused or failed, nothing is requested (a 4xx/503 envelope),
unless the admin chose "request as the admin". Real sockets: MediaNest → the Overseerr
simulator → the plex.tv simulator's sharing list."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.media.models import MediaRequest
from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator, PlexTvSimulator
from medianest_simulators.overseerr_data import AUTO_APPROVE, REQUEST
from medianest_simulators.overseerr_plex_import import IMPORT_PATH, PlexConnection
from medianest_simulators.plextv_models import MACHINE_IDENTIFIER, OWNER_TOKEN
from tests.factories.users import create_user, signed_in_client
from tests.support.held_requests import until_received

MOVIES = (400003, 400004, 400005, 400006, 400007)


@pytest.fixture
def overseerr_new_people() -> str:
    return "import"  # the default


@pytest.fixture
def overseerr_on_plex(
    overseerr_sim: OverseerrSimulator, plextv: PlexTvSimulator
) -> Iterator[PlexTvSimulator]:
    """Overseerr set up with the plex.tv owner's account and server (as its setup does);
    dave is a new friend the server is shared with (plex.tv id 6), whom Overseerr has no
    user for; eve's server is not shared with her."""
    plextv.add_user("dave", email="dave@medianest.test")
    plextv.share_server("dave", MACHINE_IDENTIFIER, "sim-pms-dave-access-0006")
    overseerr_sim.connect_plex(PlexConnection(plextv.url, OWNER_TOKEN, MACHINE_IDENTIFIER))
    yield plextv
    overseerr_sim.connect_plex(None)


@pytest.fixture
async def dave(app: MediaNestApp, overseerr_on_plex: PlexTvSimulator) -> User:
    plex_id = overseerr_on_plex.accounts["dave"].id
    return await create_user(app, "dave", plex_id=str(plex_id), plex_token="dave-plex-token")


@pytest.fixture
async def dave_client(app: MediaNestApp, dave: User) -> Any:
    async with await signed_in_client(app, dave) as client:
        yield client


async def request_movie(client: httpx.AsyncClient, tmdb_id: int = 400007) -> httpx.Response:
    return await client.post("/api/media/request", json={"mediaType": "movie", "tmdbId": tmdb_id})


async def request_movie_page(client: httpx.AsyncClient) -> httpx.Response:
    """The same request from the request page (an htmx form post)."""
    return await client.post(
        "/media/request", data={"mediaType": "movie", "tmdbId": "400007"}, headers=HTMX
    )


HTMX = {"HX-Request": "true"}


def overseerr_users_of(overseerr_sim: OverseerrSimulator, plex_id: int) -> list[int]:
    return [u.id for u in overseerr_sim.users.values() if u.plex_id == plex_id]


async def local_rows(app: MediaNestApp) -> int:
    async with session_scope(app.ctx.session_factory) as session:
        return int(await session.scalar(select(func.count()).select_from(MediaRequest)) or 0)


async def test_a_plex_friend_overseerr_has_no_user_for_is_imported_and_their_request_waits(
    dave: User, dave_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    answer = await request_movie(dave_client)
    assert answer.status_code == 201, answer.text
    assert answer.json()["data"]["status"] == "pending"  # the owner's OK is needed
    (imported,) = overseerr_users_of(overseerr_sim, int(dave.plex_id or 0))
    assert overseerr_sim.users[imported].permissions == REQUEST  # the default permissions
    made = overseerr_sim.media_requests[answer.json()["data"]["overseerrId"]]
    assert made.requested_by.id == imported
    # Linked now: the next request imports nobody.
    assert (await request_movie(dave_client, 400006)).status_code == 201
    assert overseerr_sim.request_count(IMPORT_PATH, "POST") == 1


async def test_the_owners_default_permissions_and_quotas_are_what_apply(
    dave_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    overseerr_sim.set_default_permissions(REQUEST | AUTO_APPROVE)
    overseerr_sim.set_default_quota("movie", 1, 7)
    first = await request_movie(dave_client)
    assert first.status_code == 201, first.text
    assert first.json()["data"]["status"] == "processing"  # approved at once, downloading
    second = await request_movie(dave_client, 400006)
    assert second.status_code == 429, second.text
    assert second.json()["error"]["code"] == "QUOTA_EXCEEDED"
    assert second.json()["error"]["details"]["source"] == "overseerr"


async def test_a_person_overseerrs_plex_server_is_not_shared_with_is_refused_and_nothing_asked(
    app: MediaNestApp,
    overseerr_on_plex: PlexTvSimulator,
    overseerr_sim: OverseerrSimulator,
    admin_client: httpx.AsyncClient,
) -> None:
    """eve signed in (e.g. "any Plex account"); dave's share was removed before his first
    request. Overseerr's import creates neither: a 403 that says an admin must add them."""
    overseerr_on_plex.unshare_server("dave")
    before = dict(overseerr_sim.media_requests)
    for name in ("eve", "dave"):
        person = await create_user(app, name, plex_id=str(overseerr_on_plex.accounts[name].id))
        async with await signed_in_client(app, person) as client:
            answer = await request_movie(client)
        assert answer.status_code == 403, answer.text
        error = answer.json()["error"]
        assert answer.json()["success"] is False
        assert error["code"] == "NOT_IN_OVERSEERR"
        assert "Import Plex Users" in error["message"]
    assert overseerr_sim.media_requests == before
    assert await local_rows(app) == 0
    assert len(overseerr_sim.users) == 3
    # The admin may choose to let such people request as Overseerr's admin.
    changed = await admin_client.put("/api/admin/config", json={"overseerrNewPeople": "as_admin"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["data"]["overseerrNewPeople"] == "as_admin"
    async with await signed_in_client(app, person) as client:
        answer = await request_movie(client)
    assert answer.status_code == 201, answer.text
    assert overseerr_sim.media_requests[answer.json()["data"]["overseerrId"]].requested_by.id == 1


async def test_a_plex_home_member_is_imported_exactly_when_the_server_is_shared_with_her(
    app: MediaNestApp, overseerr_on_plex: PlexTvSimulator, overseerr_sim: OverseerrSimulator
) -> None:
    """carol is in the owner's Plex Home with the libraries shared (the one MediaNest's
    sign-in admits): her first request imports her. dave, added to the Home with nothing
    shared (the one sign-in refuses), is not imported: Overseerr and MediaNest agree."""
    plextv = overseerr_on_plex
    plextv.unshare_server("dave")
    plextv.add_home_member("dave")
    for name, created in (("carol", 201), ("dave", 403)):
        person = await create_user(app, name, plex_id=str(plextv.accounts[name].id))
        async with await signed_in_client(app, person) as client:
            answer = await request_movie(client)
        assert answer.status_code == created, answer.text
        imported = overseerr_users_of(overseerr_sim, plextv.accounts[name].id)
        assert len(imported) == (1 if created == 201 else 0), name
    assert len(overseerr_sim.users) == 4


async def test_the_request_page_shows_the_refusal(
    app: MediaNestApp, overseerr_on_plex: PlexTvSimulator
) -> None:
    eve = await create_user(app, "eve", plex_id=str(overseerr_on_plex.accounts["eve"].id))
    async with await signed_in_client(app, eve) as client:
        page = await request_movie_page(client)
    assert page.status_code == 403, page.text
    assert "Import Plex Users" in page.text


async def test_an_overseerr_whose_import_fails_refuses_with_503_and_keeps_the_hour(
    app_factory: Callable[[Settings], Any],
    make_settings: Callable[..., Settings],
    settings: Settings,
    overseerr_sim: OverseerrSimulator,
    overseerr_on_plex: PlexTvSimulator,
) -> None:
    """Overseerr not set up with Plex (plex.tv refuses it: its import answers 500), then a
    hung import: 503 within the timeout, nothing stored, the hourly request kept; when
    Overseerr answers again the request goes through as the imported person."""
    app: MediaNestApp = await app_factory(
        make_settings(
            overseerr_url=settings.overseerr_url,
            overseerr_api_key=settings.overseerr_api_key,
            rate_limit_requests_per_hour=1,
            http_timeout_seconds=1.5,
        )
    )
    dave = await create_user(app, "dave", plex_id=str(overseerr_on_plex.accounts["dave"].id))
    async with await signed_in_client(app, dave) as client:
        overseerr_sim.connect_plex(None)
        failed = await request_movie(client)
        assert failed.status_code == 503, failed.text
        assert failed.json()["error"]["code"] == "OVERSEERR_IMPORT_FAILED"
        overseerr_sim.connect_plex(
            PlexConnection(overseerr_on_plex.url, OWNER_TOKEN, MACHINE_IDENTIFIER)
        )
        overseerr_sim.hold_requests(IMPORT_PATH, "POST")
        try:
            started = time.monotonic()
            hung = await request_movie(client)
            assert time.monotonic() - started < 6.0
        finally:
            overseerr_sim.release_requests()
        assert hung.status_code == 503, hung.text
        assert hung.json()["error"]["code"] == "OVERSEERR_IMPORT_FAILED"
        assert await local_rows(app) == 0
        answer = await request_movie(client)  # the hour's one request is still there
    assert answer.status_code == 201, answer.text
    # The hung import was made after all: linked to that user, no second one.
    (imported,) = overseerr_users_of(overseerr_sim, int(dave.plex_id or 0))
    assert overseerr_sim.media_requests[answer.json()["data"]["overseerrId"]].requested_by.id == (
        imported
    )


@pytest.mark.timeout(60)
async def test_two_tabs_requesting_at_once_import_the_person_once(
    app: MediaNestApp, dave: User, overseerr_sim: OverseerrSimulator
) -> None:
    tabs = [await signed_in_client(app, dave) for _ in range(2)]
    overseerr_sim.hold_requests(IMPORT_PATH, "POST")
    try:
        asked = [asyncio.create_task(request_movie(t, m)) for t, m in zip(tabs, MOVIES)]
        await until_received(overseerr_sim, IMPORT_PATH, "POST")
        await asyncio.sleep(0.5)  # the other tab reaches the import meanwhile
        overseerr_sim.release_requests()
        answers = await asyncio.gather(*asked)
    finally:
        overseerr_sim.release_requests()
        for tab in tabs:
            await tab.aclose()
    (imported,) = overseerr_users_of(overseerr_sim, int(dave.plex_id or 0))
    for answer in answers:
        assert answer.status_code == 201, answer.text
        made = overseerr_sim.media_requests[answer.json()["data"]["overseerrId"]]
        assert made.requested_by.id == imported
    assert overseerr_sim.request_count(IMPORT_PATH, "POST") == 1


async def test_a_user_overseerr_has_by_email_is_linked_not_created_again(
    dave_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    """A local Overseerr user with dave's email: the import turns it into his Plex user."""
    local = overseerr_sim.add_user("dave")  # local, email dave@medianest.test
    answer = await request_movie(dave_client)
    assert answer.status_code == 201, answer.text
    assert overseerr_sim.media_requests[answer.json()["data"]["overseerrId"]].requested_by.id == (
        local.id
    )
    assert len(overseerr_sim.users) == 4


async def test_an_admins_not_linked_and_people_without_plex_still_request_as_the_admin(
    dave: User,
    dave_client: httpx.AsyncClient,
    admin_client: httpx.AsyncClient,
    overseerr_sim: OverseerrSimulator,
) -> None:
    unlinked = await admin_client.put(f"/api/admin/users/{dave.id}", json={"overseerrUserId": None})
    assert unlinked.status_code == 200, unlinked.text
    for client, tmdb_id in ((dave_client, 400007), (admin_client, 400006)):
        answer = await request_movie(client, tmdb_id)
        assert answer.status_code == 201, answer.text
        made = overseerr_sim.media_requests[answer.json()["data"]["overseerrId"]]
        assert made.requested_by.id == 1
    assert overseerr_sim.request_count(IMPORT_PATH, "POST") == 0


async def test_the_system_settings_page_switches_to_requesting_as_the_admin(
    app: MediaNestApp, admin_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    page = await admin_client.get("/admin")
    assert 'name="overseerrNewPeople"' in page.text
    saved = await admin_client.put(
        "/admin/settings", data={"overseerrNewPeople": "as_admin"}, headers={"HX-Request": "true"}
    )
    assert saved.status_code == 200, saved.text
    eve = await create_user(app, "eve", plex_id="4")
    async with await signed_in_client(app, eve) as client:
        answer = await request_movie(client)
    assert answer.status_code == 201, answer.text  # Overseerr not even asked to import
    assert overseerr_sim.request_count(IMPORT_PATH, "POST") == 0
    refused = await admin_client.put(
        "/admin/settings", data={"overseerrNewPeople": "everyone"}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 422, refused.text


async def test_a_person_deleted_in_overseerr_is_imported_again_not_sent_as_the_admin(
    dave: User, dave_client: httpx.AsyncClient, overseerr_sim: OverseerrSimulator
) -> None:
    first = await request_movie(dave_client)
    assert first.status_code == 201, first.text
    (gone,) = overseerr_users_of(overseerr_sim, int(dave.plex_id or 0))
    overseerr_sim.delete_user(gone)
    again = await request_movie(dave_client, 400006)
    assert again.status_code == 201, again.text
    (new,) = overseerr_users_of(overseerr_sim, int(dave.plex_id or 0))
    assert new != gone
    assert overseerr_sim.media_requests[again.json()["data"]["overseerrId"]].requested_by.id == new
    assert again.json()["data"]["status"] == "pending"
