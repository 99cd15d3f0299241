"""What the resilient client logs: service, route, status, duration and breaker state for
every try, and never an API key or token, not even one that is part of a path."""

from __future__ import annotations

import pytest
import structlog

from medianest.core.errors import ServiceUnavailable
from medianest.integrations.uptime_kuma import UptimeKumaClient, basic_auth_headers
from medianest_simulators.uptime_kuma import API_KEY

SECRET = "sekrit-token-4f9a"


async def test_every_try_is_logged_with_service_route_status_duration_and_breaker(
    kuma, make_resilient
):
    client = make_resilient(kuma.url)
    kuma.set_fault("unavailable", times=1)

    with structlog.testing.capture_logs() as logs:
        await client.get_json("/api/status-page/medianest", params={"q": "x"})

    calls = [e for e in logs if e["event"] == "upstream_call"]
    assert [c["status"] for c in calls] == ["503", "200"]
    for call in calls:
        assert call["service"] == client.service
        assert call["route"] == "/api/status-page/medianest"
        assert call["breaker"] == "closed"
        assert isinstance(call["duration_ms"], float)


async def test_secrets_never_reach_the_logs_even_in_a_path(kuma, make_resilient):
    client = make_resilient(kuma.url, default_headers={"X-Plex-Token": SECRET}, secrets=[SECRET])
    kuma.set_fault("unavailable")

    with structlog.testing.capture_logs() as logs, pytest.raises(ServiceUnavailable) as failure:
        await client.get_json(f"/library/{SECRET}/items?X-Plex-Token={SECRET}")

    assert SECRET not in repr(logs)
    assert SECRET not in repr(failure.value.details) + failure.value.message
    assert any(e.get("route") == "/library/[REDACTED]/items" for e in logs)
    # The header did reach the service: scrubbing is for logs, not for the request.
    assert kuma.requests()[0].headers["x-plex-token"] == SECRET


async def test_the_uptime_kuma_key_is_not_logged(kuma, make_resilient):
    http = make_resilient(kuma.url, default_headers=basic_auth_headers(API_KEY), secrets=[API_KEY])
    kuma_client = UptimeKumaClient(http, source="metrics")

    with structlog.testing.capture_logs() as logs:
        await kuma_client.monitors()
        kuma.set_fault("unauthorized")
        await kuma_client.health_check()

    encoded = basic_auth_headers(API_KEY)["Authorization"].split()[1]
    assert API_KEY not in repr(logs)
    assert encoded not in repr(logs)
