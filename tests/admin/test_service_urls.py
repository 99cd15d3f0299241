"""M5: a service URL with a newline (or any control character, space or non-http
scheme) is refused with 422 and never stored; one stored before this rule existed
makes that service unusable, not the app: start, the admin list and the Plex pages
answer (503 for the unusable service), and saving a good URL repairs it.

Before: the PUT answered 500 after storing the URL, Plex pages answered 500, and
`serve` no longer started until the database was edited by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from medianest.db.engine import session_scope
from medianest.integrations.models import ServiceConfig
from medianest.settings import Settings
from medianest_simulators.plextv_models import OWNER_TOKEN
from tests.factories.users import prepare_bootstrap_admin, signed_in_client

BAD_URLS = [
    "http://127.0.0.1:32400/\nX-Injected: 1",
    "http://plex\n.local:32400",
    "http://plex.local\t:32400",
    "http://plex local:32400",
    "http://plex.local:32400/\x00",
    "http://plex.local:32400/\u202e",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "http://plex.local:99999",
]


@pytest.mark.parametrize("url", BAD_URLS)
async def test_a_service_url_with_control_characters_or_a_bad_scheme_is_refused_and_not_stored(
    seeded_app: Any, seeded_admin: httpx.AsyncClient, url: str
) -> None:
    before = (await seeded_admin.get("/api/admin/services")).json()["data"]
    answer = await seeded_admin.put("/api/admin/services/plex", json={"url": url, "enabled": True})
    assert answer.status_code in (400, 422), answer.text
    assert answer.json()["error"]["code"] == "VALIDATION_ERROR"
    assert (await seeded_admin.get("/api/admin/services")).json()["data"] == before
    tested = await seeded_admin.post("/api/admin/services/test", json={"name": "plex", "url": url})
    assert tested.status_code in (400, 422), tested.text


async def test_a_stored_bad_url_leaves_the_app_starting_and_serving_and_can_be_repaired(
    seeded_app: Any,
    make_settings: Callable[..., Settings],
    simulator_env: dict[str, Any],
    app_factory: Callable[[Settings], Any],
    plex: Any,
) -> None:
    # As an older version stored it (the database edited behind the app's back).
    async with session_scope(seeded_app.ctx.session_factory) as session:
        await session.execute(
            update(ServiceConfig)
            .where(ServiceConfig.service_name == "plex")
            .values(service_url="http://127.0.0.1:1/\nX-Injected: 1")
        )
    restarted = await app_factory(make_settings(**simulator_env))  # starts: no exception
    admin = await prepare_bootstrap_admin(restarted)
    async with await signed_in_client(restarted, admin) as client:
        listed = await client.get("/api/admin/services")
        assert listed.status_code == 200
        libraries = await client.get("/api/plex/libraries")
        assert libraries.status_code == 503, libraries.text
        assert libraries.json()["success"] is False
        assert (await client.get("/api/dashboard/status")).status_code == 200
        # The saved token is bound to the URL it was saved with: a new URL, even a repair,
        # needs it typed again.
        kept_key = await client.put(
            "/api/admin/services/plex", json={"url": plex.url, "enabled": True}
        )
        assert kept_key.status_code == 400
        assert kept_key.json()["error"]["details"]["reason"] == "key_bound_to_saved_url"
        repaired = await client.put(
            "/api/admin/services/plex",
            json={"url": plex.url, "enabled": True, "apiKey": OWNER_TOKEN},
        )
        assert repaired.status_code == 200, repaired.text
        assert (await client.get("/api/plex/libraries")).status_code == 200
    async with session_scope(restarted.ctx.session_factory) as session:
        stored = await session.scalar(
            select(ServiceConfig.service_url).where(ServiceConfig.service_name == "plex")
        )
    assert stored == plex.url
