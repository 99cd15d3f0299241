"""Run-time system settings: defaults from the settings, admin-only, validated, audited,
and applied at once (a lower API limit bites on the next request)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from medianest.db.engine import session_scope
from medianest.limits.store import get_runtime_config
from medianest.platform.models import AuditLog


async def test_the_defaults_come_from_the_settings(admin_client, settings):
    response = await admin_client.get("/api/admin/config")

    assert response.status_code == 200
    assert response.json()["data"] == {
        "apiPerMinute": settings.rate_limit_api_per_minute,
        "youtubePerHour": settings.rate_limit_youtube_per_hour,
        "requestsPerHour": settings.rate_limit_requests_per_hour,
        "defaultDownloadQuality": settings.default_download_quality,
        "workerConcurrency": settings.worker_concurrency,
        "perUserConcurrency": settings.worker_per_user_concurrency,
        "plexSignIn": "server_users",
        "plexSignInExtraUsernames": [],
        "overseerrNewPeople": "import",
    }


@pytest.mark.parametrize("method", ["GET", "PUT"])
async def test_only_admins_see_or_change_the_system_config(client, alice_client, method):
    body = {"apiPerMinute": 5} if method == "PUT" else None

    anonymous = await client.request(method, "/api/admin/config", json=body)
    user = await alice_client.request(method, "/api/admin/config", json=body)

    assert anonymous.status_code == 401
    assert user.status_code == 403


async def test_a_change_is_stored_audited_and_merged_with_the_rest(app, admin, admin_client):
    response = await admin_client.put(
        "/api/admin/config", json={"requestsPerHour": 7, "defaultDownloadQuality": "720p"}
    )

    data = response.json()["data"]
    assert data["requestsPerHour"] == 7 and data["defaultDownloadQuality"] == "720p"
    assert data["apiPerMinute"] == app.ctx.settings.rate_limit_api_per_minute
    assert (await get_runtime_config(app.ctx)).requests_per_hour == 7
    assert app.ctx.limits.requests_per_hour == 7
    async with session_scope(app.ctx.session_factory) as session:
        entry = await session.scalar(
            select(AuditLog).where(AuditLog.action == "system_config.update")
        )
    assert entry is not None and entry.actor_id == admin.id
    assert entry.details == {
        "changed": {"requests_per_hour": 7, "default_download_quality": "720p"}
    }


async def test_a_lower_api_limit_applies_to_the_next_requests_without_a_restart(admin_client):
    await admin_client.put("/api/admin/config", json={"apiPerMinute": 4})

    statuses = [(await admin_client.get("/api/admin/config")).status_code for _ in range(6)]

    assert 429 in statuses


@pytest.mark.parametrize(
    "body",
    [
        {"apiPerMinute": 0},
        {"youtubePerHour": 100_000},
        {"defaultDownloadQuality": "4k"},
        {"workerConcurrency": "many"},
        {"unknownSetting": 1},
    ],
)
async def test_out_of_range_or_unknown_values_are_rejected(admin_client, body):
    response = await admin_client.put("/api/admin/config", json=body)

    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_per_user_concurrency_cannot_exceed_worker_concurrency(admin_client):
    response = await admin_client.put(
        "/api/admin/config", json={"workerConcurrency": 2, "perUserConcurrency": 3}
    )

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"perUserConcurrency": 3, "workerConcurrency": 2}


async def test_a_refresh_that_read_before_a_save_does_not_put_the_old_limits_back(
    app, admin_client, monkeypatch
):
    """The every-few-seconds refresh reads the stored limits; an admin's save that
    commits while that read is under way is newer, and must stay published."""
    from medianest.limits import store

    read_done, save_done = asyncio.Event(), asyncio.Event()
    real_load = store.load_runtime_config

    async def slow_load(session, *, settings):  # a database read that takes its time
        limits = await real_load(session, settings=settings)
        read_done.set()
        await save_done.wait()
        return limits

    monkeypatch.setattr(store, "load_runtime_config", slow_load)
    refresh = asyncio.ensure_future(store.get_runtime_config(app.ctx))
    await read_done.wait()  # the refresh has read the old limits
    monkeypatch.setattr(store, "load_runtime_config", real_load)
    saved = await admin_client.put("/api/admin/config", json={"apiPerMinute": 4})
    assert saved.status_code == 200
    save_done.set()
    await refresh

    assert app.ctx.limits.api_per_minute == 4
    assert (await store.get_runtime_config(app.ctx)).api_per_minute == 4
