"""Users and signed-in clients for tests."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from medianest.auth.models import Role, User
from medianest.auth.sessions import store as session_store
from medianest.core.passwords import hash_password
from medianest.db.engine import session_scope

TEST_PASSWORD = "correct-horse-battery-staple"


async def create_user(
    app: MediaNestApp,
    username: str,
    *,
    role: str = Role.USER,
    plex_id: str | None = None,
    plex_token: str | None = None,
    password: str | None = None,
    status: str = "active",
) -> User:
    ctx = app.ctx
    async with session_scope(ctx.session_factory) as session:
        user = User(
            username=username,
            email=f"{username}@example.test",
            role=role,
            plex_id=plex_id,
            plex_token=ctx.secret_box.encrypt(plex_token, context="plex_token")
            if plex_token
            else None,
            password_hash=await hash_password(password) if password else None,
            status=status,
        )
        session.add(user)
    return user


async def prepare_bootstrap_admin(app: MediaNestApp, *, password: str = TEST_PASSWORD) -> User:
    """The bootstrap admin with its password already changed."""
    ctx = app.ctx
    async with session_scope(ctx.session_factory) as session:
        admin = await session.scalar(select(User).where(User.username == "admin"))
        assert admin is not None
        admin.password_hash = await hash_password(password)
        admin.must_change_password = False
    return admin


def make_client(app: MediaNestApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def signed_in_client(app: MediaNestApp, user: User) -> httpx.AsyncClient:
    """A client holding a real session cookie for `user`, sending the CSRF header."""
    ctx = app.ctx
    async with session_scope(ctx.session_factory) as session:
        issued = await session_store.create_session(
            session, user=user, settings=ctx.settings, ip="127.0.0.1", user_agent="pytest"
        )
    client = make_client(app)
    client.cookies.set(SESSION_COOKIE, issued.token)
    client.cookies.set(CSRF_COOKIE, "test-csrf-token")
    client.headers["X-CSRF-Token"] = "test-csrf-token"
    return client


async def htmx_client(app: MediaNestApp, user: User) -> httpx.AsyncClient:
    """`user`'s browser on the pages: a session cookie, the CSRF cookie a page hands out,
    and every request sent as htmx sends it (`HX-Request`, and `X-CSRF-Token` read from
    the cookie at send time, as app.js does in `htmx:configRequest`). Already opened:
    close it with `aclose()`, not `async with`."""
    client = await signed_in_client(app, user)
    client.cookies.delete(CSRF_COOKIE)
    del client.headers["X-CSRF-Token"]
    page = await client.get("/", headers={"Accept": "text/html"}, follow_redirects=True)
    assert page.status_code == 200 and client.cookies.get(CSRF_COOKIE), page.status_code

    async def as_htmx(request: httpx.Request) -> None:
        request.headers["HX-Request"] = "true"
        request.headers["X-CSRF-Token"] = client.cookies.get(CSRF_COOKIE) or ""

    client.event_hooks["request"].append(as_htmx)
    return client


async def token_client(app: MediaNestApp, user: User) -> httpx.AsyncClient:
    """A script calling the JSON API with `user`'s personal API token (no cookie, no CSRF)."""
    async with await signed_in_client(app, user) as owner:
        created = await owner.post("/api/auth/tokens", json={"name": "test script"})
    assert created.status_code == 201, created.text
    client = make_client(app)
    client.headers["Authorization"] = f"Bearer {created.json()['data']['token']}"
    return client
