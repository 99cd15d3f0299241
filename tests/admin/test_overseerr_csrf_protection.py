"""The admin learns that Overseerr's "Enable CSRF Protection" blocks MediaNest: the
connection test reads the setting (`GET /api/v1/settings/main`) and reports Overseerr
degraded with what to turn off and where; an Overseerr that does not say must not fail
the test; the webhook test says the same instead of a bare "HTTP 403"."""

from __future__ import annotations

import time

import httpx

from medianest.app import MediaNestApp
from medianest_simulators import OverseerrSimulator

BLOCKED_WORDS = ('"Enable CSRF Protection" is on', "Overseerr → Settings → General")


async def _test_overseerr(admin: httpx.AsyncClient) -> dict[str, object]:
    response = await admin.post("/api/admin/services/test", json={"name": "overseerr"})
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()["data"]
    return result


async def test_the_connection_test_reports_overseerr_degraded_while_it_blocks_changes(
    seeded_admin: httpx.AsyncClient, browser: httpx.AsyncClient, overseerr: OverseerrSimulator
) -> None:
    overseerr.set_csrf_protection(True)

    result = await _test_overseerr(seeded_admin)

    assert result["reachable"] is True and result["status"] == "degraded"
    assert result["version"] == "1.34.0"
    assert all(words in str(result["error"]) for words in BLOCKED_WORDS), result["error"]
    # Read with the API key (the admin may read the main settings), never written.
    (read,) = overseerr.log.entries("/api/v1/settings/main", "GET")
    assert read.status == 200 and read.headers["x-api-key"]
    assert not [e for e in overseerr.requests() if e.method not in ("GET", "HEAD")]
    page = await browser.post("/admin/services/overseerr/test")
    assert 'data-test-status="degraded"' in page.text
    assert "Enable CSRF Protection" in page.text

    overseerr.set_csrf_protection(False)
    assert (await _test_overseerr(seeded_admin))["status"] == "online"


async def test_an_overseerr_that_does_not_say_is_not_failed_by_the_connection_test(
    seeded_admin: httpx.AsyncClient, overseerr: OverseerrSimulator
) -> None:
    # An Overseerr without the field (an old one), one whose settings answer is refused
    # or broken (a proxy), and one that never answers it: the test says what it knows.
    with overseerr.lock:
        del overseerr.main_settings["csrfProtection"]
    assert (await _test_overseerr(seeded_admin))["status"] == "online"
    for fault in ("error", "unauthorized", "malformed"):
        overseerr.set_fault(fault, path_prefix="/api/v1/settings/main")
        result = await _test_overseerr(seeded_admin)
        assert (result["status"], result["error"]) == ("online", None), fault
    overseerr.set_fault("hang", delay=5, path_prefix="/api/v1/settings/main")
    started = time.monotonic()
    result = await _test_overseerr(seeded_admin)
    assert (result["status"], result["error"]) == ("online", None)
    assert time.monotonic() - started < 3
    overseerr.clear_fault()


async def test_the_webhook_test_says_overseerr_blocks_it_and_what_to_do(
    seeded_app: MediaNestApp, seeded_admin: httpx.AsyncClient, overseerr: OverseerrSimulator
) -> None:
    await seeded_admin.put("/api/admin/services/overseerr/webhook/secret", json={})
    overseerr.set_csrf_protection(True)

    tested = await seeded_admin.post("/api/admin/services/overseerr/webhook/test")

    assert tested.status_code == 200, tested.text
    data = tested.json()["data"]
    assert (data["sent"], data["received"]) == (False, False)
    assert all(words in data["message"] for words in BLOCKED_WORDS), data["message"]
    assert "Overseerr's own webhook settings" in data["message"]
    (sent,) = overseerr.log.entries("/api/v1/settings/notifications/webhook/test", "POST")
    assert sent.status == 403
    assert overseerr.webhook_deliveries == []


async def test_seerr_keeps_the_setting_in_its_network_settings_and_the_test_finds_it(
    seeded_admin: httpx.AsyncClient, overseerr: OverseerrSimulator
) -> None:
    # Seerr moved `csrfProtection` from the main settings to the network settings.
    overseerr.use_seerr_settings()
    overseerr.set_csrf_protection(True)

    result = await _test_overseerr(seeded_admin)

    assert result["status"] == "degraded", result
    assert "Seerr: Settings → Network" in str(result["error"])
    (read,) = overseerr.log.entries("/api/v1/settings/network", "GET")
    assert read.status == 200
    overseerr.set_csrf_protection(False)
    assert (await _test_overseerr(seeded_admin))["status"] == "online"


async def test_a_request_list_held_by_seerrs_servarr_lookups_does_not_make_it_look_offline(
    seeded_admin: httpx.AsyncClient, overseerr: OverseerrSimulator
) -> None:
    # Seerr's request list asks every Sonarr/Radarr for its profiles, each up to 10 s when
    # one is unreachable: the key is proven by `GET /api/v1/auth/me` instead.
    overseerr.set_fault("hang", delay=10, path_prefix="/api/v1/request")
    started = time.monotonic()
    result = await _test_overseerr(seeded_admin)
    overseerr.clear_fault()

    assert (result["reachable"], result["status"], result["error"]) == (True, "online", None)
    assert time.monotonic() - started < 3
    (me,) = overseerr.log.entries("/api/v1/auth/me", "GET")
    assert me.status == 200 and me.headers["x-api-key"]
