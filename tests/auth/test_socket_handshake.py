"""Socket.IO handshakes are authenticated by the same session cookie or an API token;
anonymous, disabled and must-change-password sockets are refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import socketio
from sqlalchemy import select

from medianest.app import MediaNestApp, create_app
from medianest.auth.cookies import SESSION_COOKIE
from medianest.auth.models import User
from medianest.auth.sessions import store as session_store
from medianest.auth.tokens import service as api_tokens
from medianest.db.engine import session_scope
from medianest.settings import Settings
from tests.factories.users import create_user
from tests.support.servers import ServedApp
from tests.support.socket_listener import close_refused


@pytest.fixture
async def served(settings: Settings, app: MediaNestApp) -> AsyncIterator[ServedApp]:
    """A second app on the same database, served by uvicorn on loopback."""
    async with ServedApp(create_app(settings, run_migrations=False)) as server:
        yield server


async def _session_cookie(app: MediaNestApp, user: User) -> str:
    async with session_scope(app.ctx.session_factory) as session:
        issued = await session_store.create_session(
            session, user=user, settings=app.ctx.settings, ip="127.0.0.1", user_agent="pytest"
        )
    return f"{SESSION_COOKIE}={issued.token}"


async def _connects(
    url: str, *, cookie: str | None = None, token: str | None = None, raw: bool = False
) -> bool:
    """`raw`: the Cookie header exactly as given, as a browser sends it (the client
    otherwise re-reads it with `http.cookies`, which drops what it finds malformed)."""
    if raw and cookie:
        client = socketio.AsyncClient(
            reconnection=False, websocket_extra_options={"headers": {"Cookie": cookie}}
        )
        cookie = None
    else:
        client = socketio.AsyncClient(reconnection=False)
    try:
        await asyncio.wait_for(
            client.connect(
                url,
                headers={"Cookie": cookie} if cookie else {},
                auth={"token": token} if token else None,
                transports=["websocket"],
                wait_timeout=5,
            ),
            10,
        )
    except socketio.exceptions.ConnectionError:
        await close_refused(client)
        return False
    await client.disconnect()
    return True


async def test_an_anonymous_socket_is_refused(served: ServedApp) -> None:
    assert await _connects(served.url) is False
    assert await _connects(served.url, cookie=f"{SESSION_COOKIE}=forged") is False
    assert await _connects(served.url, token="mn_forged") is False


async def test_a_signed_in_session_or_api_token_may_connect(
    app: MediaNestApp, alice: User, served: ServedApp
) -> None:
    assert await _connects(served.url, cookie=await _session_cookie(app, alice)) is True
    async with session_scope(app.ctx.session_factory) as session:
        _row, token = await api_tokens.create_token(
            session, user=alice, name="socket", expires_in_days=None
        )
    assert await _connects(served.url, token=token) is True


async def test_disabled_and_must_change_password_users_are_refused(
    app: MediaNestApp, served: ServedApp
) -> None:
    disabled = await create_user(app, "mallory", status="disabled")
    assert await _connects(served.url, cookie=await _session_cookie(app, disabled)) is False
    async with session_scope(app.ctx.session_factory) as session:
        bootstrap = await session.scalar(select(User).where(User.username == "admin"))
    assert bootstrap is not None and bootstrap.must_change_password
    assert await _connects(served.url, cookie=await _session_cookie(app, bootstrap)) is False


async def test_a_signed_in_browser_connects_beside_other_apps_cookies_on_the_same_host(
    app: MediaNestApp, alice: User, served: ServedApp
) -> None:
    # Cookies are not kept apart by port: a household's other apps on the same host send
    # theirs too, in shapes Python's strict cookie reader gives up on. HTTP requests read
    # the session cookie past them; the socket handshake must as well.
    session_cookie = await _session_cookie(app, alice)
    for others in ('theme={"dark":true}', "grafana_session=a b", 'kuma="unclosed', "x=é"):
        both = f"{others}; {session_cookie}"
        assert await _connects(served.url, cookie=both, raw=True) is True, others
