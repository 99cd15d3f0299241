"""Overseerr's webhook set up from the admin page or API alone (a fresh install with no
secret in the environment): the secret is write-only and stored encrypted, rotating it
retires the old one, the settings to paste are shown, and "send test" goes through
Overseerr's own test notification and reports whether it arrived."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp, create_app
from medianest.db.engine import session_scope
from medianest.media.webhook_setup import SECRET_SETTING
from medianest.platform.models import AuditLog, SystemSetting
from medianest_simulators import OverseerrSimulator
from tests.factories.users import prepare_bootstrap_admin, signed_in_client
from tests.support.http import http_client
from tests.support.servers import ServedApp

TEST_BODY = {"notification_type": "TEST_NOTIFICATION", "subject": "Test Notification"}


async def _hook(client: httpx.AsyncClient, authorization: str | None) -> int:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.post("/api/webhooks/overseerr", json=TEST_BODY, headers=headers)
    return response.status_code


async def test_out_of_the_box_every_webhook_is_refused_and_the_admin_is_told(
    seeded_app: MediaNestApp, seeded_admin: httpx.AsyncClient
) -> None:
    setup = (await seeded_admin.get("/api/admin/services/overseerr/webhook")).json()["data"]
    assert setup["secretSet"] is False and setup["secret"] is None
    assert setup["webhookUrl"].endswith("/api/webhooks/overseerr")
    assert '"notification_type": "{{notification_type}}"' in setup["jsonPayload"]
    assert await _hook(seeded_admin, "anything") == 401
    page = await seeded_admin.get("/admin")
    assert "No secret yet" in page.text and "/api/webhooks/overseerr" in page.text


async def test_the_api_sets_a_secret_once_shown_encrypted_at_rest_and_rotates_it(
    seeded_app: MediaNestApp, seeded_admin: httpx.AsyncClient
) -> None:
    generated = await seeded_admin.put("/api/admin/services/overseerr/webhook/secret", json={})
    assert generated.status_code == 200, generated.text
    first = generated.json()["data"]["secret"]
    assert len(first) >= 32 and generated.json()["data"]["secretSet"] is True
    # Write-only: never readable again.
    again = (await seeded_admin.get("/api/admin/services/overseerr/webhook")).json()["data"]
    assert again["secretSet"] is True and again["secret"] is None
    assert first not in (await seeded_admin.get("/admin")).text
    async with session_scope(seeded_app.ctx.session_factory) as session:
        row = await session.get(SystemSetting, SECRET_SETTING)
        assert row is not None and first not in str(row.value)
        audit = await session.scalar(
            select(AuditLog).where(AuditLog.action == "overseerr.webhook_secret_set")
        )
        assert audit is not None and first not in str(audit.details)
    assert await _hook(seeded_admin, first) == 200
    assert await _hook(seeded_admin, f"Bearer {first}") == 200

    chosen = "my-own-webhook-secret-0123"
    rotated = await seeded_admin.put(
        "/api/admin/services/overseerr/webhook/secret", json={"secret": chosen}
    )
    assert rotated.json()["data"]["secret"] == chosen
    assert await _hook(seeded_admin, chosen) == 200
    assert await _hook(seeded_admin, first) == 401


@pytest.mark.parametrize(
    ("secret", "status"),
    [("short", 400), ("has spaces in it but long enough", 400), ("x" * 257, 422)],
)
async def test_a_bad_secret_is_refused_with_a_clear_error(
    seeded_admin: httpx.AsyncClient, secret: str, status: int
) -> None:
    response = await seeded_admin.put(
        "/api/admin/services/overseerr/webhook/secret", json={"secret": secret}
    )
    assert response.status_code == status
    assert response.json()["success"] is False
    assert secret not in response.text


async def test_only_admins_reach_the_webhook_setup(
    seeded_app: MediaNestApp, seeded_user: httpx.AsyncClient
) -> None:
    for method, path in (
        ("GET", "/api/admin/services/overseerr/webhook"),
        ("PUT", "/api/admin/services/overseerr/webhook/secret"),
        ("POST", "/api/admin/services/overseerr/webhook/test"),
    ):
        assert (await seeded_user.request(method, path, json={})).status_code == 403
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=seeded_app), base_url="http://testserver"
        ) as anonymous:
            assert (await anonymous.request(method, path, json={})).status_code == 401


async def test_the_admin_page_alone_sets_up_a_working_webhook(
    seeded_app: MediaNestApp, seeded_admin: httpx.AsyncClient
) -> None:
    saved = await seeded_admin.put("/admin/webhook/secret", data={"secret": ""})
    assert saved.status_code == 200
    match = re.search(r'data-testid="webhook-secret">([^<]+)<', saved.text)
    assert match is not None
    secret = match.group(1)
    assert await _hook(seeded_admin, secret) == 200
    assert secret not in (await seeded_admin.get("/admin")).text
    refused = await seeded_admin.put("/admin/webhook/secret", data={"secret": "short"})
    assert refused.status_code == 400 and "16 to 256" in refused.text
    assert await _hook(seeded_admin, secret) == 200  # the refused change changed nothing


@pytest.fixture
async def served(
    make_settings: Callable[..., Any], simulator_env: dict[str, Any]
) -> AsyncIterator[ServedApp]:
    server = ServedApp(create_app(make_settings(**simulator_env), run_migrations=False))
    await asyncio.to_thread(server.start)
    yield server
    await asyncio.to_thread(server.stop)


async def test_send_test_goes_through_overseerr_and_reports_arrival(
    served: ServedApp, seeded_app: MediaNestApp, overseerr: OverseerrSimulator
) -> None:
    # The session is made through an in-process app on the same database (the served
    # app's engine belongs to its own thread's event loop).
    admin = await prepare_bootstrap_admin(seeded_app)
    client = await signed_in_client(seeded_app, admin)
    async with http_client(
        base_url=served.url, cookies=client.cookies, headers=client.headers
    ) as browser:
        before = (await browser.post("/api/admin/services/overseerr/webhook/test")).json()
        assert before["data"] == {
            "sent": False,
            "received": False,
            "message": "Set a webhook secret first.",
        }
        set_secret = await browser.put("/api/admin/services/overseerr/webhook/secret", json={})
        secret = set_secret.json()["data"]["secret"]
        tested = (await browser.post("/api/admin/services/overseerr/webhook/test")).json()
        assert tested["data"]["sent"] is True and tested["data"]["received"] is True
        delivery = overseerr.webhook_deliveries[0]
        assert delivery["url"] == served.url + "/api/webhooks/overseerr"
        assert delivery["status"] == 200
        assert delivery["payload"]["notification_type"] == "TEST_NOTIFICATION"
        assert delivery["payload"]["media"] is None  # Overseerr's default template
        page = await browser.post("/admin/webhook/test")
        assert "test notification arrived" in page.text
    await client.aclose()
    # One request to Overseerr per test (API and page), none before a secret existed.
    assert len(overseerr.log.entries("/api/v1/settings/notifications/webhook/test", "POST")) == 2
    assert all(d["status"] == 200 for d in overseerr.webhook_deliveries)
    assert secret


async def test_failed_webhook_tests_tell_overseerrs_reason_and_never_take_overseerr_down(
    seeded_app: MediaNestApp, seeded_admin: httpx.AsyncClient, overseerr: OverseerrSimulator
) -> None:
    # The in-process app's webhook URL (http://testserver) is one Overseerr cannot reach:
    # Overseerr answers each test with its documented 500 "Failed to send webhook
    # notification." That is the test's answer, not an Overseerr outage: searching and
    # requesting must go on working for everyone, however often the admin tries.
    await seeded_admin.put("/api/admin/services/overseerr/webhook/secret", json={})
    for _ in range(8):
        tested = await seeded_admin.post("/api/admin/services/overseerr/webhook/test")
        assert tested.status_code == 200
        assert tested.json()["data"] == {
            "sent": False,
            "received": False,
            "message": "Overseerr could not send the test: Failed to send webhook notification.",
        }
    search = await seeded_admin.get("/api/media/search", params={"query": "dune"})
    assert search.status_code == 200, search.text
    sent = overseerr.log.entries("/api/v1/settings/notifications/webhook/test", "POST")
    assert len(sent) == 8
