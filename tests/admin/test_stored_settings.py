"""The `runtime_config` and `youtube_quotas` system settings are read through their models:
a value stored by an earlier version loads, one that no longer validates is logged and
the defaults apply (nobody locked out), and a save writes the model's JSON."""

from __future__ import annotations

from typing import Any

import httpx
import structlog
from sqlalchemy import delete

from medianest.app import MediaNestApp
from medianest.db.engine import session_scope
from medianest.limits.quotas import QUOTAS_KEY
from medianest.limits.store import RUNTIME_CONFIG_KEY
from medianest.platform.models import SystemSetting

NO_QUOTAS = {"youtubeItemsPerDay": None, "youtubeGbPerWeek": None, "mediaRequestsPerWeek": None}


async def store(app: MediaNestApp, key: str, value: Any) -> None:
    """Put a value in the table as it is, past the models (an older version, a hand edit)."""
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(delete(SystemSetting).where(SystemSetting.key == key))
        session.add(SystemSetting(key=key, value=value))


async def stored(app: MediaNestApp, key: str) -> Any:
    async with session_scope(app.ctx.session_factory) as session:
        row = await session.get(SystemSetting, key)
        return row.value if row else None


def invalid_logged(logs: list[dict[str, Any]], key: str) -> list[str]:
    found = [e for e in logs if e["event"] == "stored_setting_invalid" and e["key"] == key]
    assert len(found) == 1, logs
    problems: list[str] = found[0]["problems"]
    return problems


async def test_stored_run_time_limits_load_and_a_change_keeps_them(
    app: MediaNestApp, admin_client: httpx.AsyncClient
) -> None:
    await store(
        app, RUNTIME_CONFIG_KEY, {"api_per_minute": 90, "plex_sign_in_extra_usernames": ["kim"]}
    )
    shown = (await admin_client.get("/api/admin/config")).json()["data"]
    assert (shown["apiPerMinute"], shown["plexSignInExtraUsernames"]) == (90, ["kim"])

    changed = await admin_client.put("/api/admin/config", json={"youtubePerHour": 7})
    assert changed.status_code == 200, changed.text
    assert await stored(app, RUNTIME_CONFIG_KEY) == {
        "api_per_minute": 90,
        "youtube_per_hour": 7,
        "plex_sign_in_extra_usernames": ["kim"],
    }


async def test_run_time_limits_that_no_longer_validate_give_the_defaults_and_say_why(
    app: MediaNestApp, admin_client: httpx.AsyncClient
) -> None:
    await store(app, RUNTIME_CONFIG_KEY, {"api_per_minute": 0, "requests_per_hour": 7})
    with structlog.testing.capture_logs() as logs:
        shown = (await admin_client.get("/api/admin/config")).json()["data"]
    assert shown["apiPerMinute"] == app.ctx.settings.rate_limit_api_per_minute
    assert shown["requestsPerHour"] == app.ctx.settings.rate_limit_requests_per_hour
    assert invalid_logged(logs, RUNTIME_CONFIG_KEY) == [
        "api_per_minute: Input should be greater than or equal to 1"
    ]

    # The admin's next change applies, and replaces what could not be read.
    changed = await admin_client.put("/api/admin/config", json={"youtubePerHour": 7})
    assert changed.json()["data"]["youtubePerHour"] == 7
    assert app.ctx.limits.youtube_per_hour == 7
    assert await stored(app, RUNTIME_CONFIG_KEY) == {"youtube_per_hour": 7}


async def test_stored_quotas_load_and_a_save_writes_the_models_json(
    app: MediaNestApp, admin_client: httpx.AsyncClient
) -> None:
    before = {
        "admin": {
            "youtube_items_per_day": None,
            "youtube_gb_per_week": None,
            "media_requests_per_week": None,
        },
        "user": {
            "youtube_items_per_day": 5,
            "youtube_gb_per_week": 1.5,
            "media_requests_per_week": None,
        },
    }
    await store(app, QUOTAS_KEY, before)
    shown = (await admin_client.get("/api/admin/config/youtube")).json()["data"]["quotas"]
    assert shown["user"] == {
        "youtubeItemsPerDay": 5,
        "youtubeGbPerWeek": 1.5,
        "mediaRequestsPerWeek": None,
    }

    again = await admin_client.put("/api/admin/config/youtube", json={"quotas": shown})
    assert again.status_code == 200, again.text
    assert await stored(app, QUOTAS_KEY) == before


async def test_quotas_that_no_longer_validate_mean_no_limits_and_say_why(
    app: MediaNestApp, admin_client: httpx.AsyncClient
) -> None:
    await store(app, QUOTAS_KEY, {"user": {"youtube_items_per_day": -1}})
    with structlog.testing.capture_logs() as logs:
        shown = (await admin_client.get("/api/admin/config/youtube")).json()["data"]["quotas"]
    assert shown == {"admin": NO_QUOTAS, "user": NO_QUOTAS}
    assert invalid_logged(logs, QUOTAS_KEY) == [
        "user.youtube_items_per_day: Input should be greater than or equal to 0"
    ]
