"""DNS rebinding against a fresh install: a web page visited from the household points a
name of its own at the machine running MediaNest and signs in with the bootstrap password
from its own origin. The server sees only the `Host` its browser sends: here sent over a
real socket to the served app, as such a browser sends it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from medianest.app import MediaNestApp, create_app
from medianest.auth.bootstrap_host import private_host
from medianest.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from medianest.settings import Settings
from tests.support.servers import ServedApp

ATTACKER = "rebind.attacker.example"
NEW_PASSWORD = "a-much-better-passphrase"


@pytest.fixture
def served_settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(rate_limit_login_failures=100)


@pytest.fixture
async def served(
    served_settings: Settings, app_factory: Callable[..., Awaitable[MediaNestApp]]
) -> AsyncIterator[str]:
    """A fresh install (migrated by an app of the test), served on loopback: its URL."""
    await app_factory(served_settings)
    async with ServedApp(create_app(served_settings, run_migrations=False)) as server:
        yield server.url


async def sign_in(url: str, host: str, password: str = "admin") -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, headers={"Host": host}) as client:
        return await client.post(
            "/api/auth/admin", json={"username": "admin", "password": password}
        )


async def test_a_strangers_name_cannot_use_the_bootstrap_password(served: str) -> None:
    port = served.rsplit(":", 1)[1]

    refused = await sign_in(served, f"{ATTACKER}:{port}")

    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "PERMISSION_DENIED"
    assert error["details"] == {"reason": "bootstrap_host", "host": ATTACKER}
    assert "http://localhost" in error["message"]
    assert SESSION_COOKIE not in refused.cookies and CSRF_COOKIE not in refused.cookies
    # A wrong password learns nothing more than anywhere else.
    guessed = await sign_in(served, f"{ATTACKER}:{port}", password="hunter22")
    assert guessed.status_code == 401
    # The owner, at the address `serve` printed, signs in as before.
    assert (await sign_in(served, f"127.0.0.1:{port}")).status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "localhost:8000",
        "[::1]:8000",
        "192.168.1.20:8000",
        "nas:8000",
        "nas.local",
        "media.home.arpa",
    ],
)
async def test_addresses_no_stranger_answers_for_take_the_bootstrap_password(
    served: str, host: str
) -> None:
    answer = await sign_in(served, host)

    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["passwordChangeRequired"] is True


async def test_once_the_password_is_changed_any_name_signs_in(served: str) -> None:
    port = served.rsplit(":", 1)[1]
    async with httpx.AsyncClient(base_url=served) as owner:
        await owner.post("/api/auth/admin", json={"username": "admin", "password": "admin"})
        changed = await owner.post(
            "/api/auth/change-password",
            json={"currentPassword": "admin", "newPassword": NEW_PASSWORD},
            headers={"X-CSRF-Token": owner.cookies[CSRF_COOKIE]},
        )
        assert changed.status_code == 200

    assert (await sign_in(served, f"media.example.com:{port}", NEW_PASSWORD)).status_code == 200
    assert (await sign_in(served, f"{ATTACKER}:{port}")).status_code == 401


async def test_the_public_url_s_name_takes_the_bootstrap_password(
    make_settings: Callable[..., Settings], app_factory: Callable[..., Awaitable[MediaNestApp]]
) -> None:
    settings = make_settings(public_url="https://Media.Example.com/", rate_limit_login_failures=100)
    app = await app_factory(settings)
    async with ServedApp(create_app(settings, run_migrations=False)) as server:
        assert (await sign_in(server.url, "media.example.com")).status_code == 200
        assert (await sign_in(server.url, "other.example.com")).status_code == 403
    assert app.ctx.settings.public_url == "https://Media.Example.com/"


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("127.0.0.1:8000", True),
        ("[fe80::1]", True),
        ("LOCALHOST", True),
        ("medianest.localhost:8000", True),
        ("box.internal", True),
        ("nas.lan.", True),
        ("evil.example", False),
        ("127.0.0.1.nip.io", False),  # a public name that answers 127.0.0.1
        ("localhost.attacker.example", False),
        ("", False),
    ],
)
def test_which_names_a_stranger_cannot_answer_for(host: str, private: bool) -> None:
    assert private_host(host, None) is private
