"""Socket.IO under attack: a page of another site opening a socket, sockets outliving
their sign-in, and a client faking the connected-clients gauge.

The app is served by uvicorn on loopback; clients are python-socketio over WebSocket,
each with its own cookie, as browsers are. What ends a sign-in is done over HTTP
against the same served app, as a user or an admin would.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import socketio
from sqlalchemy import update

from medianest.app import MediaNestApp, create_app
from medianest.auth.cookies import SESSION_COOKIE
from medianest.auth.models import ApiToken, AuthSession
from medianest.auth.sessions.maintenance import purge_expired
from medianest.core.tokens import hash_token
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from tests.auth.flows import password_sign_in
from tests.factories.users import TEST_PASSWORD, create_user, prepare_bootstrap_admin
from tests.support.http import http_client
from tests.support.servers import ServedApp
from tests.support.socket_listener import close_refused, unclosed_sessions

NEW_PASSWORD = "another-long-passphrase-42"


@pytest.fixture(autouse=True)
def no_client_session_left_open() -> Iterator[None]:
    """Each test closes every client it opened, refused ones included: a session left to
    the collector printed "Unclosed client session" into a later test's captured stderr."""
    before = {id(s) for s in unclosed_sessions()}
    collecting = gc.isenabled()
    gc.disable()  # a session dropped unclosed stays to be seen, not finalized mid-test
    try:
        yield
        assert [s for s in unclosed_sessions() if id(s) not in before] == []
    finally:
        if collecting:
            gc.enable()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Settings], Awaitable[ServedApp]]]:
    async with contextlib.AsyncExitStack() as stack:

        async def start(settings: Settings) -> ServedApp:
            served = ServedApp(create_app(settings, run_migrations=False))
            return await stack.enter_async_context(served)

        yield start


@pytest.fixture
async def served(
    settings: Settings, app: MediaNestApp, serve: Callable[..., Awaitable[ServedApp]]
) -> ServedApp:
    return await serve(settings)


async def _socket(
    url: str, *, cookie: str | None = None, token: str | None = None, origin: str | None = None
) -> socketio.AsyncClient:
    client = socketio.AsyncClient(reconnection=False)
    headers = {}
    if cookie:
        headers["Cookie"] = cookie
    if origin:
        headers["Origin"] = origin
    try:
        await asyncio.wait_for(
            client.connect(
                url,
                headers=headers,
                auth={"token": token} if token else None,
                transports=["websocket"],
                wait_timeout=5,
            ),
            10,
        )
    except BaseException:
        await close_refused(client)
        raise
    return client


async def _refused(url: str, **kwargs: Any) -> bool:
    try:
        client = await _socket(url, **kwargs)
    except socketio.exceptions.ConnectionError:
        return True
    await client.disconnect()
    return False


async def _dropped(client: socketio.AsyncClient, within: float = 5.0) -> bool:
    for _ in range(int(within / 0.05)):
        if not client.connected:
            return True
        await asyncio.sleep(0.05)
    return False


@contextlib.asynccontextmanager
async def _signed_in(url: str, username: str) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(base_url=url, timeout=30) as http:
        assert (await password_sign_in(http, username, TEST_PASSWORD)).status_code == 200
        yield http


def _cookie(http: httpx.AsyncClient) -> str:
    return f"{SESSION_COOKIE}={http.cookies[SESSION_COOKIE]}"


async def test_a_page_of_another_site_cannot_open_a_socket(
    app: MediaNestApp, served: ServedApp
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    async with _signed_in(served.url, "carol") as http:
        cookie = _cookie(http)
        # Before: cors_allowed_origins=[] switched the check off, so this was let in.
        assert await _refused(served.url, cookie=cookie, origin="http://evil.example")
        assert await _refused(served.url, cookie=cookie, origin="http://127.0.0.1.evil.example")
        assert await _refused(served.url, cookie=cookie, origin="null")
        # The site's own pages (same host) still may.
        assert not await _refused(served.url, cookie=cookie, origin=served.url)


async def test_the_public_url_is_an_accepted_origin(
    app: MediaNestApp,
    make_settings: Callable[..., Settings],
    serve: Callable[..., Awaitable[ServedApp]],
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    served = await serve(make_settings(public_url="https://media.example.org"))
    async with _signed_in(served.url, "carol") as http:
        cookie = _cookie(http)
        assert not await _refused(served.url, cookie=cookie, origin="https://media.example.org")
        assert await _refused(served.url, cookie=cookie, origin="https://evil.example.org")


async def test_signing_out_disconnects_that_sessions_sockets_only(
    app: MediaNestApp, served: ServedApp
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    async with _signed_in(served.url, "carol") as laptop, _signed_in(served.url, "carol") as phone:
        laptop_socket = await _socket(served.url, cookie=_cookie(laptop))
        phone_socket = await _socket(served.url, cookie=_cookie(phone))
        assert (await laptop.post("/api/auth/logout")).status_code == 200
        # Before: the socket stayed open and kept receiving the user's events.
        assert await _dropped(laptop_socket)
        await asyncio.sleep(0.5)
        assert phone_socket.connected
        await phone_socket.disconnect()


async def test_disabling_a_user_disconnects_every_socket_of_theirs(
    app: MediaNestApp, served: ServedApp
) -> None:
    carol = await create_user(app, "carol", password=TEST_PASSWORD)
    await prepare_bootstrap_admin(app)
    async with (
        _signed_in(served.url, "admin") as admin,
        _signed_in(served.url, "carol") as signed_in,
    ):
        made = await signed_in.post("/api/auth/tokens", json={"name": "script"})
        by_cookie = await _socket(served.url, cookie=_cookie(signed_in))
        by_token = await _socket(served.url, token=made.json()["data"]["token"])
        disabled = await admin.put(f"/api/admin/users/{carol.id}", json={"status": "disabled"})
        assert disabled.status_code == 200
        assert await _dropped(by_cookie)
        assert await _dropped(by_token)


async def test_a_password_change_revokes_api_tokens_and_drops_their_sockets(
    app: MediaNestApp, served: ServedApp
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    async with (
        _signed_in(served.url, "carol") as here,
        _signed_in(served.url, "carol") as elsewhere,
    ):
        token = (await here.post("/api/auth/tokens", json={"name": "script"})).json()["data"]
        bearer = {"Authorization": f"Bearer {token['token']}"}
        async with http_client(base_url=served.url, timeout=30) as script:
            assert (await script.get("/api/auth/tokens", headers=bearer)).status_code == 200
            by_token = await _socket(served.url, token=token["token"])
            other_browser = await _socket(served.url, cookie=_cookie(elsewhere))

            changed = await here.post(
                "/api/auth/change-password",
                json={"currentPassword": TEST_PASSWORD, "newPassword": NEW_PASSWORD},
            )
            assert changed.status_code == 200
            # Before: the token kept working after the password that minted it changed.
            refused = await script.get("/api/auth/tokens", headers=bearer)
            assert refused.status_code == 401
            assert await _dropped(by_token)
            assert await _dropped(other_browser)  # that session ended with the change
        # The user sees which tokens they have (none now) and can make a new one.
        assert (await here.get("/api/auth/tokens")).json()["data"] == []


async def test_revoking_a_token_drops_its_sockets(app: MediaNestApp, served: ServedApp) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    async with _signed_in(served.url, "carol") as signed_in:
        token = (await signed_in.post("/api/auth/tokens", json={"name": "tv"})).json()["data"]
        by_token = await _socket(served.url, token=token["token"])
        assert (await signed_in.delete(f"/api/auth/tokens/{token['id']}")).status_code == 204
        assert await _dropped(by_token)


async def test_an_expired_tokens_socket_is_dropped_by_the_next_purge(
    app: MediaNestApp, served: ServedApp
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    async with _signed_in(served.url, "carol") as signed_in:
        made = await signed_in.post("/api/auth/tokens", json={"name": "tv", "expiresInDays": 1})
        token = made.json()["data"]
        by_token = await _socket(served.url, token=token["token"])
        async with session_scope(app.ctx.session_factory) as session:
            # A day later: the token expired, and the hourly purge of expired sign-ins runs.
            await session.execute(
                update(ApiToken)
                .where(ApiToken.id == uuid.UUID(token["id"]))
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
            await purge_expired(session, settings=app.ctx.settings)
        assert await _dropped(by_token)
        assert await _refused(served.url, token=token["token"])


def _gauge(text: str) -> float:
    match = re.search(r"^medianest_socketio_connected_clients (\S+)$", text, re.MULTILINE)
    assert match, text
    return float(match.group(1))


async def test_a_client_sent_disconnect_event_does_not_move_the_gauge(
    app: MediaNestApp, served: ServedApp
) -> None:
    await create_user(app, "carol", password=TEST_PASSWORD)
    async with (
        _signed_in(served.url, "carol") as signed_in,
        http_client(base_url=served.url, timeout=30) as scraper,
    ):
        sockets = [await _socket(served.url, cookie=_cookie(signed_in)) for _ in range(3)]
        assert _gauge((await scraper.get("/metrics")).text) == 3
        for _ in range(5):  # before: each one took the gauge down by one (to 0)
            await sockets[0].emit("disconnect")
            await sockets[1].emit("connect", {"HTTP_COOKIE": _cookie(signed_in)})
        await asyncio.sleep(0.5)
        assert _gauge((await scraper.get("/metrics")).text) == 3
        assert all(s.connected for s in sockets)
        for client in sockets:
            await client.disconnect()
        await asyncio.sleep(0.5)
        assert _gauge((await scraper.get("/metrics")).text) == 0


@contextlib.asynccontextmanager
async def _page_of_a_session(
    app: MediaNestApp,
    serve: Callable[..., Awaitable[ServedApp]],
    make_settings: Callable[..., Settings],
) -> AsyncIterator[tuple[ServedApp, httpx.AsyncClient, socketio.AsyncClient]]:
    """A served app re-checking sockets every 0.2 s (no session cache, so a session row
    moved back in time is read as it is), and carol's signed-in page with its socket."""
    served = await serve(make_settings(session_cache_seconds=0, socket_recheck_seconds=0.2))
    await create_user(app, "carol", password=TEST_PASSWORD)
    async with _signed_in(served.url, "carol") as page:
        socket = await _socket(served.url, cookie=_cookie(page))
        try:
            yield served, page, socket
        finally:
            await socket.disconnect()


async def _move_session(app: MediaNestApp, page: httpx.AsyncClient, **times: Any) -> None:
    """As if time had passed: the session row's times set as given, a change that tells
    nothing to anyone (as the clock moving on does not)."""
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(AuthSession, hash_token(page.cookies[SESSION_COOKIE]))
        assert row is not None
        for name, value in times.items():
            setattr(row, name, value)


async def test_a_session_past_its_lifetime_drops_its_socket_and_the_page_goes_to_sign_in(
    app: MediaNestApp,
    settings: Settings,
    make_settings: Callable[..., Settings],
    serve: Callable[..., Awaitable[ServedApp]],
) -> None:
    async with _page_of_a_session(app, serve, make_settings) as (served, page, socket):
        await _move_session(app, page, expires_at=utcnow() - timedelta(seconds=1))
        # Before: nothing re-checked it until the hourly purge (or another sign-in change).
        assert await _dropped(socket, within=15)
        # What app.js does next: connect again (refused), ask for the session (401), sign-in.
        assert await _refused(served.url, cookie=_cookie(page))
        assert (await page.get("/api/auth/session")).status_code == 401


async def test_a_session_left_idle_drops_its_socket(
    app: MediaNestApp,
    settings: Settings,
    make_settings: Callable[..., Settings],
    serve: Callable[..., Awaitable[ServedApp]],
) -> None:
    async with _page_of_a_session(app, serve, make_settings) as (_served, page, socket):
        idle = timedelta(minutes=settings.session_idle_minutes)
        await _move_session(app, page, last_seen_at=utcnow() - idle - timedelta(seconds=1))
        # Before: not even a re-check caught it (only the absolute expiry was compared).
        assert await _dropped(socket, within=15)
        assert (await page.get("/api/auth/session")).status_code == 401


async def test_a_page_in_use_keeps_its_socket_past_its_sessions_former_idle_limit(
    app: MediaNestApp,
    settings: Settings,
    make_settings: Callable[..., Settings],
    serve: Callable[..., Awaitable[ServedApp]],
) -> None:
    async with _page_of_a_session(app, serve, make_settings) as (_served, page, socket):
        idle = timedelta(minutes=settings.session_idle_minutes)
        ends = utcnow() + timedelta(seconds=3)
        await _move_session(app, page, last_seen_at=ends - idle)
        # A request of the page, as htmx makes: the session is in use again.
        assert (await page.get("/api/auth/session")).status_code == 200
        await asyncio.sleep(max(0.0, (ends - utcnow()).total_seconds()) + 1.0)
        assert socket.connected
        assert (await page.get("/api/auth/session")).status_code == 200
