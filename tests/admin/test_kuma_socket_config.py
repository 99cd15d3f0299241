"""Uptime Kuma's live-source configuration: `source: socket` with a username and a
write-only, encrypted password; "Test connection" signs in and reports Kuma's version
and monitor count; saving checks the service at once; the dashboard's Refresh checks
(rate-limited) instead of re-reading."""

from __future__ import annotations

import pytest
import structlog
from sqlalchemy import select

from medianest.db.engine import session_scope
from medianest.integrations.models import ServiceConfig
from medianest.integrations.uptime_kuma_live import TWO_FACTOR_REFUSAL
from medianest.platform.models import AuditLog

KUMA_PASSWORD = "admin123"


def socket_config(url: str, **extra) -> dict:
    return {
        "url": url,
        "enabled": True,
        "config": {"source": "socket", "username": "admin"},
        **extra,
    }


async def test_the_live_source_saves_a_write_only_encrypted_password(app, admin_client, kuma):
    with structlog.testing.capture_logs() as logs:
        saved = await admin_client.put(
            "/api/admin/services/uptime_kuma", json=socket_config(kuma.url, password=KUMA_PASSWORD)
        )
        listed = await admin_client.get("/api/admin/services")

    assert saved.status_code == 200
    body = saved.json()["data"]
    assert body["passwordSet"] is True and body["config"] == {
        "source": "socket",
        "username": "admin",
    }
    assert KUMA_PASSWORD not in saved.text and KUMA_PASSWORD not in listed.text
    assert KUMA_PASSWORD not in repr(logs)
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(ServiceConfig, "uptime_kuma")
        audit = (await session.scalars(select(AuditLog))).all()
    assert row is not None and row.password and row.password.startswith("v1:")
    assert KUMA_PASSWORD not in row.password
    assert [a.details["signInChange"] for a in audit] == ["changed"]
    assert all(KUMA_PASSWORD not in repr(a.details) for a in audit)


async def test_omitting_the_password_keeps_it_and_an_empty_one_removes_it(admin_client, kuma):
    await admin_client.put(
        "/api/admin/services/uptime_kuma", json=socket_config(kuma.url, password=KUMA_PASSWORD)
    )
    kept = await admin_client.put("/api/admin/services/uptime_kuma", json=socket_config(kuma.url))
    refused = await admin_client.put(
        "/api/admin/services/uptime_kuma", json=socket_config(kuma.url, password="")
    )
    removed = await admin_client.put(
        "/api/admin/services/uptime_kuma",
        json={"url": kuma.url, "enabled": True, "password": "", "config": {}},
    )

    assert kept.json()["data"]["passwordSet"] is True
    # The live source without a password cannot sign in: refused, nothing changed.
    assert refused.status_code == 400
    assert refused.json()["error"]["details"]["field"] == "password"
    assert removed.json()["data"]["passwordSet"] is False


async def test_the_live_source_needs_a_username_and_only_kuma_takes_a_password(admin_client):
    no_user = await admin_client.put(
        "/api/admin/services/uptime_kuma",
        json={
            "url": "http://127.0.0.1:9",
            "enabled": True,
            "password": "x",
            "config": {"source": "socket"},
        },
    )
    plex = await admin_client.put(
        "/api/admin/services/plex",
        json={"url": "http://127.0.0.1:9", "enabled": True, "password": "x"},
    )
    bad_source = await admin_client.put(
        "/api/admin/services/uptime_kuma",
        json={"url": "http://127.0.0.1:9", "enabled": True, "config": {"source": "websocket"}},
    )

    assert no_user.status_code == 400
    assert no_user.json()["error"]["details"]["options"] == ["username"]
    assert plex.status_code == 400 and plex.json()["error"]["details"]["field"] == "password"
    assert bad_source.status_code == 400
    assert all(r.json().get("data") != "x" for r in (no_user, plex, bad_source))


async def test_test_connection_signs_in_and_reports_version_and_monitor_count(admin_client, kuma):
    kuma.add_monitor("NAS", "ping", None, hostname="nas.local")
    response = await admin_client.post(
        "/api/admin/services/test",
        json={
            "name": "uptime_kuma",
            "url": kuma.url,
            "password": KUMA_PASSWORD,
            "config": {"source": "socket", "username": "admin"},
        },
    )

    result = response.json()["data"]
    assert result["status"] == "online" and result["reachable"] is True
    assert result["version"] == "2.5.3" and result["monitorCount"] == 4
    assert kuma.socket_logins == 1


async def test_test_connection_refuses_a_two_factor_account_clearly(admin_client, kuma):
    kuma.set_account(twofa=True)
    response = await admin_client.post(
        "/api/admin/services/test",
        json={
            "name": "uptime_kuma",
            "url": kuma.url,
            "password": KUMA_PASSWORD,
            "config": {"source": "socket", "username": "admin"},
        },
    )

    result = response.json()["data"]
    assert result["status"] == "degraded" and result["error"] == TWO_FACTOR_REFUSAL


@pytest.mark.housekeeping
async def test_saving_a_service_checks_it_at_once(admin_client, alice_client, overseerr):
    before = await alice_client.get("/api/dashboard/status")
    await admin_client.put(
        "/api/admin/services/overseerr",
        json={"url": overseerr.url, "apiKey": "sim-overseerr-api-key-0001", "enabled": True},
    )
    after = await alice_client.get("/api/dashboard/status")

    def overseerr_of(response) -> dict:
        return next(e for e in response.json()["data"] if e["service"] == "overseerr")

    assert overseerr_of(before)["status"] == "unconfigured"
    assert overseerr_of(after)["status"] == "online"
    assert overseerr_of(after)["lastCheckAt"] is not None


@pytest.mark.housekeeping
async def test_refresh_checks_the_services_and_is_rate_limited_for_everyone(
    admin_client, alice_client, bob_client, overseerr
):
    await admin_client.put(
        "/api/admin/services/overseerr",
        json={"url": overseerr.url, "apiKey": "sim-overseerr-api-key-0001", "enabled": True},
    )
    overseerr.log.clear()

    refreshed = await alice_client.post("/api/dashboard/refresh")
    again = await bob_client.post("/api/dashboard/refresh")

    assert refreshed.status_code == 200
    assert overseerr.request_count("/api/v1/status") == 1  # it checked, not re-read
    assert again.status_code == 429
    assert again.json()["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert int(again.headers["Retry-After"]) >= 1
    assert overseerr.request_count("/api/v1/status") == 1


async def test_refresh_needs_a_signed_in_user(client):
    response = await client.post("/api/dashboard/refresh")
    assert response.status_code == 401


async def test_a_draft_at_another_address_needs_the_saved_password_or_key_typed_again(
    admin_client, kuma
):
    import asyncio

    from medianest_simulators import UptimeKumaSimulator
    from medianest_simulators.uptime_kuma import API_KEY

    await admin_client.put(
        "/api/admin/services/uptime_kuma",
        json=socket_config(kuma.url, password=KUMA_PASSWORD, apiKey=API_KEY),
    )
    stranger = UptimeKumaSimulator()
    await asyncio.to_thread(stranger.start)
    try:
        live = await admin_client.post(
            "/api/admin/services/test",
            json={"name": "uptime_kuma", "url": stranger.url},
        )
        metrics = await admin_client.post(
            "/api/admin/services/test",
            json={"name": "uptime_kuma", "url": stranger.url, "config": {"source": "metrics"}},
        )
    finally:
        await asyncio.to_thread(stranger.stop)

    # A saved secret is bound to its URL: another address must have it typed again.
    for refused in (live, metrics):
        assert refused.status_code == 400
        assert refused.json()["error"]["details"]["reason"] == "key_bound_to_saved_url"
    assert stranger.socket_logins == 0
    assert stranger.requests("/metrics") == []
