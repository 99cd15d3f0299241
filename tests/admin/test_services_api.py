"""The admin service-configuration API: who may use it, keys stored encrypted and never
returned or logged, every change audited, changes live without a restart, and the test
button reporting reachability, version and latency."""

from __future__ import annotations

import pytest
import structlog
from sqlalchemy import select

from medianest.db.engine import session_scope
from medianest.integrations.models import ServiceConfig
from medianest.platform.models import AuditLog
from tests.admin.conftest import SECRETS
from tests.support.servers import free_port
from tests.support.status_monitor import first_aggregate

ENDPOINTS = [
    ("GET", "/api/admin/services", None),
    ("PUT", "/api/admin/services/overseerr", {"url": "http://127.0.0.1:9", "enabled": True}),
    ("POST", "/api/admin/services/test", {"name": "overseerr"}),
]


def closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # a port no other test is handed meanwhile


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_anonymous_callers_get_401(client, method, path, body):
    response = await client.request(method, path, json=body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS)
async def test_non_admins_get_403(alice_client, method, path, body):
    response = await alice_client.request(method, path, json=body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"


async def test_services_seeded_from_the_environment_are_listed_without_their_keys(
    seeded_admin, plex, overseerr, kuma
):
    response = await seeded_admin.get("/api/admin/services")

    assert response.status_code == 200
    services = {s["name"]: s for s in response.json()["data"]}
    assert services["plex"]["url"] == plex.url
    assert services["overseerr"]["apiKeySet"] is True
    assert services["uptime_kuma"]["enabled"] is True
    assert all(secret not in response.text for secret in SECRETS)
    assert "apiKey" not in services["plex"]


async def test_an_unconfigured_service_is_listed_as_such(admin_client):
    services = {
        s["name"]: s for s in (await admin_client.get("/api/admin/services")).json()["data"]
    }

    assert services["overseerr"] == {
        "name": "overseerr",
        "configured": False,
        "url": None,
        "enabled": False,
        "apiKeySet": False,
        "passwordSet": False,
        "config": {},
        "updatedAt": None,
        "updatedBy": None,
    }


async def test_keys_are_stored_encrypted(seeded_app, seeded_admin):
    async with session_scope(seeded_app.ctx.session_factory) as session:
        rows = (await session.scalars(select(ServiceConfig))).all()

    assert len(rows) == 3
    for row in rows:
        assert row.api_key is not None and row.api_key.startswith("v1:")
        assert all(secret not in row.api_key for secret in SECRETS)


async def test_saving_a_service_is_audited_with_the_admins_id_and_no_secret(
    app, admin, admin_client, overseerr
):
    response = await admin_client.put(
        "/api/admin/services/overseerr",
        json={"url": overseerr.url + "/", "apiKey": "sim-overseerr-api-key-0001", "enabled": True},
    )

    assert response.status_code == 200
    data = response.json()["data"]
    assert data["url"] == overseerr.url and data["apiKeySet"] is True
    assert data["updatedBy"] == str(admin.id)
    assert "sim-overseerr-api-key-0001" not in response.text
    async with session_scope(app.ctx.session_factory) as session:
        entry = await session.scalar(select(AuditLog).where(AuditLog.action == "service.update"))
    assert entry is not None and entry.actor_id == admin.id
    assert entry.target == "service:overseerr"
    assert entry.details["keyChange"] == "changed"
    assert "sim-overseerr-api-key-0001" not in repr(entry.details)


@pytest.mark.housekeeping
async def test_a_change_takes_effect_without_a_restart(app, admin_client, overseerr):
    integrations = app.ctx.integrations
    assert await integrations.overseerr() is None
    # The monitor's first round is behind (its next one is 30 s away): the status requests
    # counted below are the save's and the client's, not a round that landed meanwhile.
    await first_aggregate(app)

    await admin_client.put(
        "/api/admin/services/overseerr",
        json={"url": overseerr.url, "apiKey": "sim-overseerr-api-key-0001", "enabled": True},
    )
    # Saving checked the new configuration at once: one status request already.
    assert overseerr.request_count("/api/v1/status") == 1
    client = await integrations.overseerr()
    assert client is not None
    assert (await client.status()).version
    assert overseerr.request_count("/api/v1/status") == 2

    await admin_client.put(
        "/api/admin/services/overseerr", json={"url": overseerr.url, "enabled": False}
    )
    assert await integrations.overseerr() is None


async def test_omitting_the_key_keeps_it_and_an_empty_key_removes_it(seeded_admin, overseerr):
    kept = await seeded_admin.put(
        "/api/admin/services/overseerr", json={"url": overseerr.url, "enabled": True}
    )
    removed = await seeded_admin.put(
        "/api/admin/services/overseerr", json={"url": overseerr.url, "enabled": True, "apiKey": ""}
    )

    assert kept.json()["data"]["apiKeySet"] is True
    assert removed.json()["data"]["apiKeySet"] is False


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org", "example.org", "http://", "http://user:pw@example.org", "http://h/?a=1"],
)
async def test_only_plain_http_and_https_urls_are_accepted(admin_client, url):
    response = await admin_client.put(
        "/api/admin/services/plex", json={"url": url, "enabled": True}
    )

    # 422: refused by the input schema (admin/schemas.py ServiceUrl), as the spec allows.
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "user:pw" not in response.text


async def test_unknown_services_are_404_and_unknown_fields_are_rejected(admin_client):
    unknown = await admin_client.put(
        "/api/admin/services/sonarr", json={"url": "http://h", "enabled": True}
    )
    extra = await admin_client.put(
        "/api/admin/services/plex", json={"url": "http://h", "enabled": True, "token": "x"}
    )
    bad_option = await admin_client.put(
        "/api/admin/services/uptime_kuma",
        json={"url": "http://h", "enabled": True, "config": {"statusPage": "../x"}},
    )

    assert unknown.status_code == 404
    assert extra.status_code in (400, 422)
    assert bad_option.status_code == 400


async def test_testing_a_saved_service_reports_reachability_version_and_latency(seeded_admin):
    response = await seeded_admin.post("/api/admin/services/test", json={"name": "overseerr"})

    assert response.status_code == 200
    result = response.json()["data"]
    assert result["reachable"] is True and result["status"] == "online"
    assert result["version"] == "1.34.0"
    assert result["latencyMs"] > 0


async def test_testing_a_draft_with_a_wrong_key_reports_the_refusal(seeded_admin, overseerr):
    response = await seeded_admin.post(
        "/api/admin/services/test",
        json={"name": "overseerr", "url": overseerr.url, "apiKey": "wrong"},
    )

    result = response.json()["data"]
    assert result["reachable"] is True and result["status"] == "degraded"
    assert result["error"] == "API key rejected"


async def test_testing_an_unreachable_draft_reports_offline_quickly(seeded_admin):
    response = await seeded_admin.post(
        "/api/admin/services/test",
        # A new URL: the saved key is not sent there, so a key is typed for the test.
        json={"name": "uptime_kuma", "url": closed_port_url(), "apiKey": "typed-for-this-test"},
    )

    result = response.json()["data"]
    assert result["reachable"] is False and result["status"] == "offline"


async def test_testing_uptime_kuma_by_status_page_needs_no_key(seeded_admin, kuma):
    response = await seeded_admin.post(
        "/api/admin/services/test",
        json={
            "name": "uptime_kuma",
            "url": kuma.url,
            "apiKey": "",
            "config": {"statusPage": "medianest"},
        },
    )

    assert response.json()["data"]["status"] == "online"
    assert kuma.request_count("/api/status-page/medianest") >= 1


async def test_a_draft_test_does_not_change_the_saved_configuration(seeded_admin, seeded_app):
    await seeded_admin.post(
        "/api/admin/services/test", json={"name": "plex", "url": closed_port_url()}
    )

    plex_client = await seeded_app.ctx.integrations.plex()
    assert plex_client is not None and plex_client.http.breaker.state == "closed"
    services = {
        s["name"]: s for s in (await seeded_admin.get("/api/admin/services")).json()["data"]
    }
    assert services["plex"]["url"] != closed_port_url()


async def test_keys_never_reach_the_logs(seeded_admin, overseerr, kuma):
    with structlog.testing.capture_logs() as logs:
        await seeded_admin.put(
            "/api/admin/services/overseerr",
            json={"url": overseerr.url, "apiKey": "brand-new-key-777", "enabled": True},
        )
        await seeded_admin.post("/api/admin/services/test", json={"name": "overseerr"})
        await seeded_admin.post("/api/admin/services/test", json={"name": "uptime_kuma"})
        await seeded_admin.post("/api/admin/services/test", json={"name": "plex"})

    text = repr(logs)
    assert "brand-new-key-777" not in text
    assert all(secret not in text for secret in SECRETS)


async def test_malformed_upstream_json_becomes_a_502_upstream_error_envelope(
    seeded_app, seeded_user, overseerr
):
    overseerr.set_fault("malformed")

    response = await seeded_user.get("/api/media/search", params={"query": "matrix"})

    assert response.status_code == 502
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "UPSTREAM_ERROR"
