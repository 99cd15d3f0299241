"""When the admin points MediaNest at another Plex server, sign-in follows the new server's
people at once: a friend of only the old server is refused and signed out, a friend of
only the new one gets in, on this instance and on the others (the audience is kept under
the server's configuration, and a change of it is heard through the table changes); a
user's own token for the server is the new server's."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import AuthSession, SessionToken, User
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.plextv_models import OWNER_TOKEN, OWNER_USERNAME
from tests.auth.flows import password_sign_in, poll_until_settled, start_pin
from tests.factories.users import TEST_PASSWORD, make_client, prepare_bootstrap_admin

OTHER_MACHINE = "b" * 40


@pytest.fixture(scope="module")
def _other_plex_session() -> Iterator[PlexSimulator]:
    with PlexSimulator(machine_identifier=OTHER_MACHINE) as sim:
        yield sim


@pytest.fixture
def other_plex(_other_plex_session: PlexSimulator, plextv: PlexTvSimulator) -> PlexSimulator:
    """The owner's second server, shared with eve and bob (not alice) and with carol, in
    the owner's Plex Home (a Home member reaches a server only through a share)."""
    _other_plex_session.reset()
    # It knows its own people's tokens only (not those the first server gave out).
    _other_plex_session.tokens = {
        OWNER_TOKEN: OWNER_USERNAME,
        "sim-pms-eve-second": "eve",
        "sim-pms-bob-second": "bob",
        "sim-pms-carol-second": "carol",
    }
    plextv.register_server(
        OTHER_MACHINE, "Second PMS", OWNER_USERNAME, _other_plex_session.url, OWNER_TOKEN
    )
    plextv.share_server("eve", OTHER_MACHINE, "sim-pms-eve-second")
    plextv.share_server("bob", OTHER_MACHINE, "sim-pms-bob-second")
    plextv.share_server("carol", OTHER_MACHINE, "sim-pms-carol-second")
    return _other_plex_session


async def _sign_in(
    app: MediaNestApp, plextv: PlexTvSimulator, who: str, *, remember_me: bool = False
) -> tuple[httpx.AsyncClient, int]:
    browser = make_client(app)
    pin = await start_pin(browser, remember_me=remember_me)
    plextv.approve_pin(pin["id"], who)
    return browser, (await poll_until_settled(browser, pin["id"])).status_code


async def _status_of_sign_in(app: MediaNestApp, plextv: PlexTvSimulator, who: str) -> int:
    browser, status = await _sign_in(app, plextv, who)
    await browser.aclose()
    return status


async def _switch_plex_server(app: MediaNestApp, url: str) -> None:
    """The admin saves another Plex server (its URL and owner token) in the admin area."""
    await prepare_bootstrap_admin(app)
    async with make_client(app) as admin:
        assert (await password_sign_in(admin, "admin", TEST_PASSWORD)).status_code == 200
        saved = await admin.put(
            "/api/admin/services/plex", json={"url": url, "apiKey": OWNER_TOKEN, "enabled": True}
        )
        assert saved.status_code == 200, saved.text


async def _sign_ins_of(app: MediaNestApp, username: str) -> tuple[int, int]:
    async with session_scope(app.ctx.session_factory) as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        sessions = await session.scalars(select(AuthSession).where(AuthSession.user_id == user.id))
        tokens = await session.scalars(
            select(SessionToken).where(
                SessionToken.user_id == user.id, SessionToken.revoked_at.is_(None)
            )
        )
        return len(list(sessions)), len(list(tokens))


async def test_after_a_switch_of_plex_server_only_the_new_servers_people_get_in(
    plex_app: MediaNestApp, plextv: PlexTvSimulator, other_plex: PlexSimulator
) -> None:
    # The old server's audience is read and kept.
    assert await _status_of_sign_in(plex_app, plextv, "alice") == 200
    assert await _status_of_sign_in(plex_app, plextv, "eve") == 403

    await _switch_plex_server(plex_app, other_plex.url)

    assert await _status_of_sign_in(plex_app, plextv, "alice") == 403
    assert await _status_of_sign_in(plex_app, plextv, "eve") == 200
    for who in ("bob", "carol", "plexowner"):  # shared with both (carol at home), owner
        assert await _status_of_sign_in(plex_app, plextv, who) == 200, who


@pytest.mark.housekeeping
async def test_a_signed_in_friend_of_only_the_old_server_is_signed_out_right_after_a_switch(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plextv: PlexTvSimulator,
    other_plex: PlexSimulator,
) -> None:
    # The scheduled sweep is minutes away: only the change of server can start it now.
    app = await app_factory(plex_settings(plex_audience_refresh_seconds=300))
    alice_browser, alice_in = await _sign_in(app, plextv, "alice", remember_me=True)
    bob_browser, bob_in = await _sign_in(app, plextv, "bob")
    async with contextlib.aclosing(alice_browser), contextlib.aclosing(bob_browser):
        assert (alice_in, bob_in) == (200, 200)
        assert await _sign_ins_of(app, "alice") == (1, 1)

        await _switch_plex_server(app, other_plex.url)

        deadline = time.monotonic() + 5
        while await _sign_ins_of(app, "alice") != (0, 0) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert await _sign_ins_of(app, "alice") == (0, 0)
        assert (await alice_browser.get("/api/auth/session")).status_code == 401
        # bob is shared with the new server too: he stays signed in.
        assert (await bob_browser.get("/api/auth/session")).status_code == 200


async def test_a_switch_saved_on_one_instance_is_followed_at_once_by_another(
    app_factory: Callable[[Settings], Any],
    plex_settings: Callable[..., Settings],
    plextv: PlexTvSimulator,
    other_plex: PlexSimulator,
) -> None:
    # Two instances on one database (and, on PostgreSQL, one Redis: one kept audience).
    one = await app_factory(plex_settings())
    other = await app_factory(plex_settings())
    assert await _status_of_sign_in(other, plextv, "alice") == 200
    assert await _status_of_sign_in(other, plextv, "eve") == 403

    await _switch_plex_server(one, other_plex.url)

    # Well within the instances' periodic look at the configuration (every 5 s).
    assert await _status_of_sign_in(other, plextv, "alice") == 403
    assert await _status_of_sign_in(other, plextv, "eve") == 200


async def test_a_friend_of_both_servers_reaches_the_new_one_with_its_own_token_after_a_switch(
    plex_app: MediaNestApp, plextv: PlexTvSimulator, other_plex: PlexSimulator
) -> None:
    bob, signed_in = await _sign_in(plex_app, plextv, "bob")
    async with contextlib.aclosing(bob):
        assert signed_in == 200
        # His token for the old server is looked up (and kept) on his first visit.
        assert (await bob.get("/api/plex/playlists")).status_code == 200

        await _switch_plex_server(plex_app, other_plex.url)

        listed = await bob.get("/api/plex/playlists")
        assert listed.status_code == 200, listed.text
        sent = {r.headers.get("x-plex-token") for r in other_plex.requests("/playlists")}
        assert sent == {"sim-pms-bob-second"}
