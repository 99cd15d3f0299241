"""Plex Home members get in only through libraries shared with them, as on plex.tv: being
in the owner's Home reaches no server by itself (support.plex.tv "Consequences of Being
in a Plex Home": "Users only have access to Libraries shared with that particular user";
python-plexapi `createHomeUser` shares with a separate `shared_servers` POST), and
Overseerr admits and imports by the same `<Server>` entry of `/api/users` (plextv.ts
`checkUserAccess`). Sign-in and the periodic audience sweep use one rule, so they agree
for every kind of person. Real sockets: MediaNest → the plex.tv simulator."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import AuthSession, User
from medianest.auth.plex_sign_in import access as plex_access
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest_simulators import PlexTvSimulator
from medianest_simulators.plextv_models import MACHINE_IDENTIFIER
from tests.auth.flows import password_sign_in, poll_until_settled, start_pin
from tests.factories.users import TEST_PASSWORD, make_client, prepare_bootstrap_admin

# Who may use MediaNest: exactly those the server is shared with (and its owner).
ADMITTED = {
    "plexowner": True,
    "carol": True,  # in the Home, libraries shared with her (seeded)
    "dave": False,  # in the Home, no library shared with him
    "kid": True,  # a managed user with libraries shared
    "tot": False,  # a managed user with none
    "eve": False,  # a friend whose invite is pending
    "alice": False,  # a friend whose share was removed
    "bob": True,  # a friend with a share
}


def _shape_the_world(plextv: PlexTvSimulator) -> None:
    plextv.add_user("dave")
    plextv.add_home_member("dave")
    plextv.add_managed_user("kid")
    plextv.share_server("kid", MACHINE_IDENTIFIER, "sim-pms-kid-access")
    plextv.add_managed_user("tot")
    plextv.share_server("eve", MACHINE_IDENTIFIER, "sim-pms-eve-access", pending=True)


async def _sign_in(
    app: MediaNestApp, plextv: PlexTvSimulator, who: str
) -> tuple[httpx.AsyncClient, int]:
    browser = make_client(app)
    pin = await start_pin(browser)
    plextv.approve_pin(pin["id"], who)
    answer = await poll_until_settled(browser, pin["id"])
    return browser, answer.status_code


async def _status_of_sign_in(app: MediaNestApp, plextv: PlexTvSimulator, who: str) -> int:
    browser, status = await _sign_in(app, plextv, who)
    await browser.aclose()
    return status


async def test_sign_in_follows_the_share_not_the_home(
    plex_app: MediaNestApp, plextv: PlexTvSimulator
) -> None:
    _shape_the_world(plextv)
    plextv.unshare_server("alice")
    for who, admitted in ADMITTED.items():
        status = await _status_of_sign_in(plex_app, plextv, who)
        assert status == (200 if admitted else 403), who
    # The Home list is not what decides: plex.tv's `/api/users` alone is read.
    assert plextv.request_count("/api/home/users") == 0


async def _sessions(app: MediaNestApp) -> dict[str, int]:
    async with session_scope(app.ctx.session_factory) as session:
        rows = await session.execute(
            select(User.username, AuthSession.id).join(AuthSession, AuthSession.user_id == User.id)
        )
        found: dict[str, int] = {}
        for username, _session_id in rows:
            found[username] = found.get(username, 0) + 1
        return found


@pytest.mark.housekeeping
async def test_the_sweep_signs_out_exactly_those_sign_in_refuses(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plextv: PlexTvSimulator,
) -> None:
    """Everyone signed in while sign-in was open to any account; the admin then limits it
    to the server's people, alice's share is removed, and the sweep runs."""
    _shape_the_world(plextv)
    app = await app_factory(plex_settings(plex_signin="any_account"))
    browsers: dict[str, httpx.AsyncClient] = {}
    try:
        for who in ADMITTED:
            browsers[who], status = await _sign_in(app, plextv, who)
            assert status == 200, who
        await prepare_bootstrap_admin(app)
        async with make_client(app) as admin:
            assert (await password_sign_in(admin, "admin", TEST_PASSWORD)).status_code == 200
            limited = await admin.put("/api/admin/config", json={"plexSignIn": "server_users"})
            assert limited.status_code == 200, limited.text
        plextv.unshare_server("alice")
        ended = await plex_access.sweep_removed_users(app.ctx)
        assert ended == sum(1 for admitted in ADMITTED.values() if not admitted)
        kept = await _sessions(app)
        for who, admitted in ADMITTED.items():
            assert (who in kept) is admitted, who
            status = (await browsers[who].get("/api/auth/session")).status_code
            assert status == (200 if admitted else 401), who
        # And sign-in now says the same as the sweep did.
        for who, admitted in ADMITTED.items():
            status = await _status_of_sign_in(app, plextv, who)
            assert status == (200 if admitted else 403), who
    finally:
        for browser in browsers.values():
            await browser.aclose()
