"""The repository's nginx config: valid for `nginx -t`, and in front of the app it
terminates TLS, passes trustworthy forwarded headers and upgrades Socket.IO to WebSocket."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import socketio
from sqlalchemy import select

from medianest.app import MediaNestApp, create_app
from medianest.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from medianest.auth.models import AuthSession
from medianest.db.engine import create_engine
from medianest.settings import Settings
from tests.ops.nginx_proxy import NginxProxy, nginx_available
from tests.support.http import http_client
from tests.support.servers import ServedApp

pytestmark = pytest.mark.skipif(not nginx_available(), reason="Debian nginx is not installed")

ADMIN_LOGIN = {"username": "admin", "password": "admin"}


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[ServedApp, MediaNestApp]]:
    app = create_app(settings, run_migrations=False)
    with ServedApp(app) as server:
        yield server, app


@pytest.fixture
def proxy(tmp_path: Path, served: tuple[ServedApp, MediaNestApp]) -> Iterator[NginxProxy]:
    nginx = NginxProxy(tmp_path / "nginx", served[0].port).start()
    yield nginx
    nginx.stop()


@pytest.fixture
async def https() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=False, timeout=10) as client:
        yield client


def set_cookie_for(response: httpx.Response, name: str) -> str:
    matching = [v for v in response.headers.get_list("set-cookie") if v.startswith(f"{name}=")]
    assert len(matching) == 1, response.headers.get_list("set-cookie")
    return matching[0]


async def session_ips(settings: Settings) -> list[str | None]:
    """The addresses recorded on sessions; waits briefly because the request's commit
    runs after its response was sent (FastAPI's request-scoped yield dependencies)."""
    engine = create_engine(settings.resolved_database_url)
    try:
        for _ in range(50):
            async with engine.connect() as connection:
                ips = list((await connection.execute(select(AuthSession.ip))).scalars().all())
            if ips:
                return ips
            await asyncio.sleep(0.1)
        return []
    finally:
        await engine.dispose()


async def sign_in_with_a_changed_password(https: httpx.AsyncClient, proxy: NginxProxy) -> str:
    """The bootstrap admin signs in and sets a password (sockets refuse it before that)."""
    login = await https.post(f"{proxy.https_url}/api/auth/admin", json=ADMIN_LOGIN)
    assert login.status_code == 200, login.text
    changed = await https.post(
        f"{proxy.https_url}/api/auth/change-password",
        json={"currentPassword": "admin", "newPassword": "a-much-better-passphrase-42"},
        headers={"X-CSRF-Token": https.cookies[CSRF_COOKIE]},
    )
    assert changed.status_code == 200, changed.text
    return str(https.cookies[SESSION_COOKIE])


def test_repository_config_passes_nginx_syntax_check(tmp_path):
    nginx = NginxProxy(tmp_path / "nginx", upstream_port=8000)
    result = nginx.check()
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr
    assert "test is successful" in result.stderr


async def test_tls_proxying_marks_cookies_secure_and_adds_security_headers(proxy, https):
    health = await https.get(f"{proxy.https_url}/api/health")
    assert health.status_code == 200
    assert health.headers["strict-transport-security"].startswith("max-age=")
    # nginx owns these: each is sent once, not once by nginx and once by the app.
    for header in ("x-frame-options", "x-content-type-options", "referrer-policy"):
        assert len(health.headers.get_list(header)) == 1, header
    assert "x-correlation-id" in health.headers
    assert "nginx/" not in health.headers.get("server", "")

    login = await https.post(f"{proxy.https_url}/api/auth/admin", json=ADMIN_LOGIN)
    assert login.status_code == 200, login.text
    session_cookie = set_cookie_for(login, SESSION_COOKIE)
    assert "Secure" in session_cookie
    assert "HttpOnly" in session_cookie


async def test_the_same_sign_in_without_the_proxy_is_not_marked_secure(served, proxy):
    # The Secure flag above comes from nginx's X-Forwarded-Proto, not from a constant.
    async with http_client(timeout=10) as plain:
        login = await plain.post(f"{served[0].url}/api/auth/admin", json=ADMIN_LOGIN)
    assert login.status_code == 200, login.text
    assert "Secure" not in set_cookie_for(login, SESSION_COOKIE)


async def test_a_client_cannot_spoof_its_address_through_x_forwarded_for(proxy, https, settings):
    login = await https.post(
        f"{proxy.https_url}/api/auth/admin",
        json=ADMIN_LOGIN,
        headers={"X-Forwarded-For": "203.0.113.66"},
    )
    assert login.status_code == 200, login.text
    ips = await session_ips(settings)
    assert ips == ["127.0.0.1"]


async def test_plain_http_is_redirected_to_https(proxy, https):
    response = await https.get(f"{proxy.http_url}/dashboard?x=1")
    assert response.status_code == 301
    assert response.headers["location"].startswith("https://127.0.0.1/dashboard?x=1")


async def test_oversized_request_bodies_are_refused_by_the_proxy(proxy, https):
    too_big = b"x" * (2 * 1024 * 1024)
    response = await https.post(
        f"{proxy.https_url}/api/auth/admin",
        content=too_big,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["strict-transport-security"]


async def test_metrics_are_not_published_through_the_proxy(proxy, https, served):
    assert (await https.get(f"{proxy.https_url}/metrics")).status_code == 404
    async with http_client(timeout=10) as internal:
        assert (await internal.get(f"{served[0].url}/metrics")).status_code == 200


async def test_socketio_upgrades_to_websocket_through_the_proxy_for_a_signed_in_user(
    proxy, https, served
):
    token = await sign_in_with_a_changed_password(https, proxy)
    client = socketio.AsyncClient(ssl_verify=False, reconnection=False)
    await client.connect(
        proxy.https_url,
        transports=["websocket"],
        headers={"Cookie": f"{SESSION_COOKIE}={token}"},
        wait_timeout=10,
    )
    try:
        assert client.transport() == "websocket"
        assert await client.call("subscribe:status", timeout=10) == {"ok": True}
        async with http_client(timeout=10) as internal:
            metrics = (await internal.get(f"{served[0].url}/metrics")).text
        assert "medianest_socketio_connected_clients 1.0" in metrics
    finally:
        await client.disconnect()


async def test_socketio_through_the_proxy_refuses_an_anonymous_client(proxy):
    client = socketio.AsyncClient(ssl_verify=False, reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(proxy.https_url, transports=["websocket"], wait_timeout=10)
    assert not client.connected


async def test_the_apps_gzip_and_etags_pass_through_the_proxy_unchanged(proxy, https):
    url = f"{proxy.https_url}/api/openapi.json"
    async with https.stream("GET", url, headers={"Accept-Encoding": "gzip"}) as packed:
        raw = b"".join([chunk async for chunk in packed.aiter_raw()])
    assert packed.status_code == 200
    assert packed.headers["content-encoding"] == "gzip"  # once: the app's, not nginx's too
    assert json.loads(gzip.decompress(raw))["info"]["title"] == "MediaNest"
    etag = packed.headers["etag"]
    again = await https.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag
    assert again.content == b""
