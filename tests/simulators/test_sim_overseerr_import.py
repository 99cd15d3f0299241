"""The Overseerr simulator's "Import Plex Users" follows routes/user/index.ts
`import-from-plex`: only friends of the connected plex.tv account with a `<Server>` of its
machineId (plextv.ts `checkUserAccess`), asked for by string id (`plexIds.includes`),
created with `defaultPermissions`, existing users (plexId or email) never created again,
the answer without `email`/`plexId` (`User.filterMany`), MANAGE_USERS required."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import httpx
import pytest

from medianest_simulators import OverseerrSimulator, PlexTvSimulator
from medianest_simulators.overseerr_data import API_KEY, AUTO_APPROVE, REQUEST
from medianest_simulators.overseerr_plex_import import IMPORT_PATH, PlexConnection
from medianest_simulators.plextv_models import MACHINE_IDENTIFIER, OWNER_TOKEN
from tests.support.http import sync_http_client


@pytest.fixture
def connected(overseerr: OverseerrSimulator, plextv: PlexTvSimulator) -> Iterator[PlexTvSimulator]:
    plextv.add_user("dave")  # plex.tv id 6
    plextv.share_server("dave", MACHINE_IDENTIFIER, "sim-pms-dave-access-0006")
    overseerr.connect_plex(PlexConnection(plextv.url, OWNER_TOKEN, MACHINE_IDENTIFIER))
    yield plextv
    overseerr.connect_plex(None)


def post_import(overseerr: OverseerrSimulator, body: object, user: str = "1") -> httpx.Response:
    with sync_http_client(base_url=overseerr.url, timeout=10) as http:
        headers = {"X-Api-Key": API_KEY, "X-API-User": user}
        return http.post(IMPORT_PATH, json=body, headers=headers)


@pytest.mark.usefixtures("connected")
def test_a_shared_friend_is_created_with_the_default_permissions_once(
    overseerr: OverseerrSimulator,
) -> None:
    overseerr.set_default_permissions(REQUEST | AUTO_APPROVE)
    answer = post_import(overseerr, {"plexIds": ["6"]})
    assert answer.status_code == 201, answer.text
    (created,) = answer.json()
    assert "email" not in created and "plexId" not in created
    assert overseerr.users[created["id"]].plex_id == 6
    assert overseerr.users[created["id"]].permissions == REQUEST | AUTO_APPROVE
    again = post_import(overseerr, {"plexIds": ["6"]})
    assert (again.status_code, again.json()) == (201, [])
    assert len(overseerr.users) == 4


@pytest.mark.usefixtures("connected")
def test_nobody_unshared_home_or_asked_by_number_is_created(
    overseerr: OverseerrSimulator, connected: PlexTvSimulator
) -> None:
    """eve (4) has no share, carol (5) is a Home member whose libraries are no longer
    shared (no `<Server>`), and 6 given as a number never equals the XML's string id."""
    connected.unshare_server("carol")
    for body in ({"plexIds": ["4", "5"]}, {"plexIds": [6]}):
        answer = post_import(overseerr, body)
        assert (answer.status_code, answer.json()) == (201, []), answer.text
    connected.unshare_server("dave")
    assert post_import(overseerr, {"plexIds": ["6"]}).json() == []
    assert len(overseerr.users) == 3


@pytest.mark.usefixtures("connected")
def test_a_local_user_with_the_friends_email_becomes_their_plex_user(
    overseerr: OverseerrSimulator,
) -> None:
    local = overseerr.add_user("dave")  # local, dave@medianest.test
    assert post_import(overseerr, {"plexIds": ["6"]}).json() == []
    assert (local.user_type, local.plex_id) == (1, 6)


def test_without_plex_set_up_or_manage_users_the_import_is_refused(
    overseerr: OverseerrSimulator,
) -> None:
    answer = post_import(overseerr, {"plexIds": ["6"]})
    assert answer.status_code == 500
    assert answer.json()["message"] == "Request failed with status code 401"
    assert post_import(overseerr, {"plexIds": ["6"]}, user="2").status_code == 403


@pytest.mark.usefixtures("connected")
def test_a_managed_home_user_is_skipped_even_with_a_share(
    overseerr: OverseerrSimulator, connected: PlexTvSimulator
) -> None:
    """plex.tv lists a managed user with `email=""` (python-plexapi `createHomeUser`);
    the route's `if (account.email)` (routes/user/index.ts:506) skips them, share or
    not, asked for by id or not (no body: everyone)."""
    connected.add_managed_user("kid")
    connected.share_server("kid", MACHINE_IDENTIFIER, "sim-pms-kid-access")
    kid = str(connected.accounts["kid"].id)
    assert post_import(overseerr, {"plexIds": [kid]}).json() == []
    everyone = post_import(overseerr, {"plexIds": [kid, "6"]}).json()
    assert [overseerr.users[u["id"]].plex_id for u in everyone] == [6]
    assert not [u for u in overseerr.users.values() if u.plex_id == int(kid)]


@pytest.mark.usefixtures("connected")
@pytest.mark.parametrize(
    ("database", "words"),
    [
        ("sqlite", "SQLITE_CONSTRAINT: UNIQUE constraint failed: user.email"),
        # Seerr on PostgreSQL: node-postgres' message, the constraint of
        # server/migration/postgres/1734786061496-InitialMigration.ts:47.
        (
            "postgres",
            'duplicate key value violates unique constraint "UQ_e12875dfb3b1d92d7d7c5377e22"',
        ),
    ],
)
def test_a_plex_email_another_user_has_fails_the_import_at_that_row(
    overseerr: OverseerrSimulator,
    connected: PlexTvSimulator,
    database: Literal["sqlite", "postgres"],
    words: str,
) -> None:
    """alice (imported) now has, on plex.tv, the email of a local user: giving it to her
    user breaks `email`'s unique column (entity/User.ts), so the save throws and the
    route answers 500 with the error (index.ts:546-547), in its database's words; dave,
    after her in plex.tv's list, is not created. Changed back, the import works again."""
    overseerr.set_database(database)
    local = overseerr.add_user("papa")
    connected.accounts["alice"].email = local.email
    failed = post_import(overseerr, {"plexIds": ["6"]})
    assert failed.status_code == 500
    assert failed.json()["message"] == words
    assert not [u for u in overseerr.users.values() if u.plex_id == 6]
    local.email = "papa@elsewhere.test"
    (created,) = post_import(overseerr, {"plexIds": ["6"]}).json()
    assert overseerr.users[created["id"]].plex_id == 6
    assert overseerr.users[2].email == "papa@medianest.test"  # alice's user: her new email
