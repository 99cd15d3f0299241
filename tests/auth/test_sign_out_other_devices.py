""" "Sign out of other devices": a user (a Plex user has no password to change) ends every
other session and remember-me token of theirs from one browser, which stays signed in.

Devices are real clients with their own cookies against a served app, as browsers are;
their sockets are real Socket.IO clients over WebSocket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import socketio

from medianest.app import MediaNestApp, create_app
from medianest.auth.cookies import REMEMBER_COOKIE, SESSION_COOKIE
from medianest.auth.models import User
from medianest.settings import Settings
from medianest_simulators import PlexTvSimulator
from tests.auth.flows import audit_actions, cookie, password_sign_in, poll_until_settled, start_pin
from tests.factories.users import (
    TEST_PASSWORD,
    create_user,
    htmx_client,
    make_client,
    signed_in_client,
    token_client,
)
from tests.support.http import http_client
from tests.support.servers import ServedApp

OTHERS = "/api/auth/logout-others"


@pytest.fixture
async def served(
    plex_app: MediaNestApp, plex_settings: Callable[..., Settings]
) -> AsyncIterator[ServedApp]:
    """The plex-enabled app served by uvicorn on loopback (its database migrated)."""
    async with ServedApp(create_app(plex_settings(), run_migrations=False)) as server:
        yield server


@contextlib.asynccontextmanager
async def _device(
    served: ServedApp, plextv: PlexTvSimulator, who: str, *, remember_me: bool = False
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as `who`: alice through the Plex PIN, pat with a password."""
    async with http_client(base_url=served.url, timeout=30) as device:
        if who == "alice":
            pin = await start_pin(device, remember_me=remember_me)
            plextv.approve_pin(pin["id"], "alice")
            signed_in = await poll_until_settled(device, pin["id"])
            assert signed_in.json()["data"]["status"] == "authorized", signed_in.text
        else:
            answer = await password_sign_in(device, who, TEST_PASSWORD, remember_me=remember_me)
            assert answer.status_code == 200, answer.text
        assert (cookie(device, REMEMBER_COOKIE) is not None) == remember_me
        yield device


async def _socket(url: str, device: httpx.AsyncClient) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        url,
        headers={"Cookie": f"{SESSION_COOKIE}={cookie(device, SESSION_COOKIE)}"},
        transports=["websocket"],
        wait_timeout=10,
    )
    return client


async def _dropped(client: socketio.AsyncClient, within: float = 5.0) -> bool:
    for _ in range(int(within / 0.05)):
        if not client.connected:
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize("who", ["alice", "pat"], ids=["plex user", "password user"])
async def test_signing_out_other_devices_ends_their_sessions_remember_me_and_sockets(
    plex_app: MediaNestApp, served: ServedApp, plextv: PlexTvSimulator, who: str
) -> None:
    await create_user(plex_app, "pat", password=TEST_PASSWORD)
    async with (
        _device(served, plextv, who) as laptop,
        _device(served, plextv, who, remember_me=True) as lost_phone,
    ):
        laptop_socket = await _socket(served.url, laptop)
        phone_socket = await _socket(served.url, lost_phone)

        answer = await laptop.post(OTHERS)
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"] == {"sessionsEnded": 1}

        assert await _dropped(phone_socket)
        refused = await lost_phone.get("/api/auth/session")  # session and remember-me cookies
        assert refused.status_code == 401, refused.text
        lost_phone.cookies.delete(SESSION_COOKIE)
        assert (await lost_phone.get("/api/auth/session")).status_code == 401
        # The laptop is still signed in, its socket still open.
        assert (await laptop.get("/api/auth/session")).status_code == 200
        await asyncio.sleep(0.3)
        assert laptop_socket.connected
        await laptop_socket.disconnect()
    assert ("auth.logout_others", {"sessionsEnded": 1}) in await audit_actions(plex_app)


async def test_the_callers_own_remember_me_and_the_api_tokens_stay(
    app: MediaNestApp, alice: User
) -> None:
    await create_user(app, "pat", password=TEST_PASSWORD)
    async with make_client(app) as here, make_client(app) as elsewhere:
        assert (await password_sign_in(here, "pat", TEST_PASSWORD, remember_me=True)).is_success
        assert (await password_sign_in(elsewhere, "pat", TEST_PASSWORD)).is_success
        script = await here.post("/api/auth/tokens", json={"name": "backup"})
        bearer = {"Authorization": f"Bearer {script.json()['data']['token']}"}

        assert (await here.post(OTHERS)).json()["data"] == {"sessionsEnded": 1}
        assert (await elsewhere.get("/api/auth/session")).status_code == 401
        # This browser's session lapsing later: its remember-me still signs it in.
        here.cookies.delete(SESSION_COOKIE)
        assert (await here.get("/api/auth/session")).status_code == 200
        assert (await here.get("/api/auth/tokens", headers=bearer)).status_code == 200


async def test_without_the_csrf_header_nothing_is_signed_out(
    app: MediaNestApp, alice: User
) -> None:
    async with (
        await signed_in_client(app, alice) as here,
        await signed_in_client(app, alice) as elsewhere,
    ):
        del here.headers["X-CSRF-Token"]
        refused = await here.post(OTHERS)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "CSRF_FAILED"
        assert (await elsewhere.get("/api/auth/session")).status_code == 200


async def test_an_api_token_has_no_session_to_keep_and_is_refused(
    app: MediaNestApp, alice: User
) -> None:
    async with (
        await token_client(app, alice) as script,
        await signed_in_client(app, alice) as browser,
    ):
        refused = await script.post(OTHERS)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["details"]["reason"] == "session_required"
        assert (await browser.get("/api/auth/session")).status_code == 200


async def test_the_account_page_counts_the_other_sessions_and_signs_them_out(
    app: MediaNestApp, alice: User, client: httpx.AsyncClient
) -> None:
    async with await signed_in_client(app, alice) as phone:
        page_user = await htmx_client(app, alice)
        try:
            page = await page_user.get("/account")
            assert page.status_code == 200
            assert "1 other session is active." in page.text
            assert "API tokens stay" in page.text
            assert 'name="currentPassword"' not in page.text  # a Plex user has no password

            done = await page_user.post("/account/logout-others")
            assert done.status_code == 200, done.text
            assert "Signed out of 1 other session." in done.text
            assert "Signed out of 1 other session." in done.headers["HX-Trigger"]
            assert (await phone.get("/api/auth/session")).status_code == 401
            assert "No other session is active." in (await page_user.get("/account")).text
        finally:
            await page_user.aclose()
    anonymous = await client.post("/account/logout-others", headers={"HX-Request": "true"})
    assert anonymous.headers["HX-Redirect"].startswith("/login")
