"""Saving a service's configuration and changing the system settings are one action each:
the admin page's form and the JSON API store the same row, write the same audit line and
(for a service) check the saved service upstream the same way, with the saved key. The
page is sent as the browser sends it (htmx, the CSRF cookie's value in `X-CSRF-Token`),
the API as a script calls it (a personal API token)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.db.engine import session_scope
from medianest.integrations.models import ServiceConfig
from medianest.integrations.service_store import decrypt_key
from medianest.limits.store import RUNTIME_CONFIG_KEY
from medianest.platform.models import AuditLog, SystemSetting
from medianest_simulators import OverseerrSimulator
from medianest_simulators.overseerr_data import API_KEY as OVERSEERR_KEY
from medianest_simulators.uptime_kuma import API_KEY as KUMA_KEY

PAGE = {"HX-Request": "1"}


async def _stored_service(app: MediaNestApp, name: str) -> dict[str, Any]:
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(ServiceConfig, name)
        assert row is not None
        audit = await session.scalar(
            select(AuditLog)
            .where(AuditLog.action == "service.update", AuditLog.target == f"service:{name}")
            .order_by(AuditLog.created_at.desc(), AuditLog.id)
            .limit(1)
        )
        return {
            "url": row.service_url,
            "enabled": row.enabled,
            "config": dict(row.config_data or {}),
            "key": decrypt_key(app.ctx.secret_box, row),
            "password_set": bool(row.password),
            "audit": audit.details if audit else None,
        }


def _upstream_calls(overseerr: OverseerrSimulator) -> list[str | None]:
    """The API key of every request Overseerr has seen so far."""
    return [entry.headers.get("x-api-key") for entry in overseerr.log.entries()]


@pytest.mark.housekeeping
async def test_saving_overseerr_from_the_page_stores_and_sends_what_the_api_does(
    seeded_app: MediaNestApp,
    browser: httpx.AsyncClient,
    script: httpx.AsyncClient,
    overseerr: OverseerrSimulator,
) -> None:
    # The same change from a disabled service: URL with a trailing slash, key typed again.
    async def disable() -> None:
        off = await script.put(
            "/api/admin/services/overseerr", json={"url": overseerr.url, "enabled": False}
        )
        assert off.status_code == 200, off.text

    await disable()
    before_api = len(_upstream_calls(overseerr))
    by_api = await script.put(
        "/api/admin/services/overseerr",
        json={"url": overseerr.url + "/", "enabled": True, "apiKey": OVERSEERR_KEY},
    )
    assert by_api.status_code == 200, by_api.text
    stored_by_api = await _stored_service(seeded_app, "overseerr")
    sent_by_api = _upstream_calls(overseerr)[before_api:]

    await disable()
    before_page = len(_upstream_calls(overseerr))
    by_page = await browser.put(
        "/admin/services/overseerr",
        data={"url": overseerr.url + "/", "enabled": "on", "apiKey": OVERSEERR_KEY},
    )
    assert by_page.status_code == 200, by_page.text
    stored_by_page = await _stored_service(seeded_app, "overseerr")
    sent_by_page = _upstream_calls(overseerr)[before_page:]

    assert stored_by_api == stored_by_page
    assert stored_by_page["url"] == overseerr.url
    assert stored_by_page["audit"]["keyChange"] == "changed"
    # Both checked the saved service at once, with the saved key and nothing else.
    assert sent_by_api and sent_by_page
    assert set(sent_by_api) == set(sent_by_page) == {OVERSEERR_KEY}


async def test_saving_uptime_kuma_options_from_the_page_stores_what_the_api_does(
    seeded_app: MediaNestApp, seeded_admin: httpx.AsyncClient, kuma: Any
) -> None:
    by_api = await seeded_admin.put(
        "/api/admin/services/uptime_kuma",
        json={
            "url": kuma.url,
            "enabled": True,
            "apiKey": KUMA_KEY,
            "config": {"statusPage": "medianest-alt", "source": "status_page"},
        },
    )
    assert by_api.status_code == 200, by_api.text
    stored_by_api = await _stored_service(seeded_app, "uptime_kuma")
    reset = await seeded_admin.put(
        "/api/admin/services/uptime_kuma",
        json={"url": kuma.url, "enabled": False, "config": {}},
    )
    assert reset.status_code == 200, reset.text

    by_page = await seeded_admin.put(
        "/admin/services/uptime_kuma",
        data={
            "url": kuma.url,
            "enabled": "on",
            "apiKey": KUMA_KEY,
            "statusPage": "medianest-alt",
            "source": "status_page",
        },
        headers=PAGE,
    )
    assert by_page.status_code == 200, by_page.text
    stored_by_page = await _stored_service(seeded_app, "uptime_kuma")
    assert stored_by_api == stored_by_page
    assert stored_by_page["config"] == {"statusPage": "medianest-alt", "source": "status_page"}


async def test_a_refused_service_change_stores_nothing_from_page_or_api(
    seeded_app: MediaNestApp, seeded_admin: httpx.AsyncClient, overseerr: OverseerrSimulator
) -> None:
    before = await _stored_service(seeded_app, "overseerr")
    by_api = await seeded_admin.put(
        "/api/admin/services/overseerr", json={"url": "ftp://evil.test", "enabled": True}
    )
    by_page = await seeded_admin.put(
        "/admin/services/overseerr", data={"url": "ftp://evil.test", "enabled": "on"}, headers=PAGE
    )
    assert by_api.status_code == by_page.status_code == 422
    assert by_api.json()["success"] is False
    # A saved key is never sent to another URL, from either side.
    stolen = {"url": "http://127.0.0.1:9", "enabled": True}
    api_stolen = await seeded_admin.put("/api/admin/services/overseerr", json=stolen)
    page_stolen = await seeded_admin.put(
        "/admin/services/overseerr", data={**stolen, "enabled": "on"}, headers=PAGE
    )
    assert api_stolen.status_code == page_stolen.status_code == 400
    assert api_stolen.json()["error"]["details"]["reason"] == "key_bound_to_saved_url"
    assert "only sent to the URL it was saved with" in page_stolen.text
    assert await _stored_service(seeded_app, "overseerr") == before


async def _stored_settings(app: MediaNestApp) -> tuple[dict[str, Any], Any]:
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(SystemSetting, RUNTIME_CONFIG_KEY)
        assert row is not None
        return dict(row.value), app.ctx.limits


async def test_changing_system_settings_from_the_page_stores_what_the_api_does(
    seeded_app: MediaNestApp, browser: httpx.AsyncClient, script: httpx.AsyncClient
) -> None:
    change = {"apiPerMinute": 90, "youtubePerHour": 7, "defaultDownloadQuality": "720p"}
    by_api = await script.put("/api/admin/config", json=change)
    assert by_api.status_code == 200, by_api.text
    stored_by_api, limits_by_api = await _stored_settings(seeded_app)

    back = await script.put(
        "/api/admin/config",
        json={"apiPerMinute": 60, "youtubePerHour": 5, "defaultDownloadQuality": "best"},
    )
    assert back.status_code == 200, back.text
    by_page = await browser.put("/admin/settings", data={k: str(v) for k, v in change.items()})
    assert by_page.status_code == 200, by_page.text
    stored_by_page, limits_by_page = await _stored_settings(seeded_app)

    assert stored_by_page == stored_by_api
    assert limits_by_page == limits_by_api  # published to this instance at once by both
    assert limits_by_page.youtube_per_hour == 7


async def test_page_and_api_look_up_a_managed_user_alike(
    seeded_app: MediaNestApp,
    seeded_admin: httpx.AsyncClient,
    seeded_user: httpx.AsyncClient,
    client: httpx.AsyncClient,
) -> None:
    unknown = "/users/00000000-0000-4000-8000-000000000000"
    for method, body in (("PUT", {"role": "admin"}), ("DELETE", None)):
        api = await seeded_admin.request(method, f"/api/admin{unknown}", json=body)
        page = await seeded_admin.request(method, f"/admin{unknown}", data=body, headers=PAGE)
        assert api.status_code == page.status_code == 404, (method, api.text, page.text)
        assert api.json()["error"]["message"] == "No such user."
        assert "No such user." in page.text
        # A plain user is refused before any lookup: 403 for a known id as for an unknown one.
        api_user = await seeded_user.request(method, f"/api/admin{unknown}", json=body)
        page_user = await seeded_user.request(method, f"/admin{unknown}", data=body, headers=PAGE)
        assert api_user.status_code == page_user.status_code == 403
        assert (await client.request(method, f"/api/admin{unknown}", json=body)).status_code == 401
