"""The Uptime Kuma client against the simulator: both read paths give the same typed
monitors, statuses map to up/down/pending/maintenance, and an outage serves stale data."""

from __future__ import annotations

import math

import pytest

from medianest.integrations.uptime_kuma import (
    UptimeKumaClient,
    basic_auth_headers,
    choose_source,
)
from medianest_simulators.uptime_kuma import API_KEY, MAINTENANCE, PENDING, STATUS_PAGE_SLUG


@pytest.fixture
def via_metrics(kuma, make_resilient) -> UptimeKumaClient:
    http = make_resilient(kuma.url, default_headers=basic_auth_headers(API_KEY), secrets=[API_KEY])
    return UptimeKumaClient(http, source="metrics")


@pytest.fixture
def via_status_page(kuma, make_resilient) -> UptimeKumaClient:
    return UptimeKumaClient(
        make_resilient(kuma.url), source="status_page", status_page=STATUS_PAGE_SLUG
    )


async def test_metrics_give_every_monitor_with_status_response_time_and_uptime(kuma, via_metrics):
    kuma.set_monitor("Overseerr", up=False)

    result = await via_metrics.monitors()

    by_name = {m.name: m for m in result.monitors}
    assert result.source == "metrics" and result.stale is False
    assert by_name["Plex"].status == "up"
    assert by_name["Plex"].response_time_ms == 12
    assert by_name["Plex"].id == 1
    assert by_name["Overseerr"].status == "down"
    assert by_name["Overseerr"].response_time_ms is None
    assert 0 < by_name["Overseerr"].uptime_ratio < 1
    assert by_name["Website"].cert_days_remaining == 42


async def test_pending_and_maintenance_are_reported_as_such(kuma, via_metrics):
    kuma.set_monitor("Plex", status=PENDING)
    kuma.set_monitor("Website", status=MAINTENANCE)

    by_name = {m.name: m for m in (await via_metrics.monitors(fresh_ttl=0)).monitors}

    assert by_name["Plex"].status == "pending"
    assert by_name["Website"].status == "maintenance"


async def test_uptime_kuma_1x_metrics_without_ids_or_windows_are_understood(kuma, via_metrics):
    kuma.version = 1

    monitors = (await via_metrics.monitors()).monitors

    assert {m.name for m in monitors} == {"Plex", "Overseerr", "Website"}
    assert all(m.id is None and m.uptime_ratio is None for m in monitors)


async def test_metrics_are_reused_for_25_seconds_to_respect_kumas_rate_limit(kuma, via_metrics):
    await via_metrics.monitors()
    await via_metrics.monitors()

    assert kuma.request_count("/metrics") == 1


async def test_the_status_page_gives_the_same_monitors(kuma, via_status_page):
    kuma.set_monitor("Plex", up=False)

    result = await via_status_page.monitors()

    by_name = {m.name: m for m in result.monitors}
    assert result.source == "status_page"
    assert by_name["Plex"].status == "down"
    assert by_name["Overseerr"].status == "up"
    assert by_name["Overseerr"].response_time_ms == 34
    assert by_name["Overseerr"].uptime_ratio == 1.0


async def test_monitors_are_served_stale_while_kuma_is_down(kuma, via_metrics):
    await via_metrics.monitors()
    kuma.set_fault("error")

    result = await via_metrics.monitors(fresh_ttl=0)

    assert result.stale is True
    assert len(result.monitors) == 3


async def test_health_is_online_with_latency_degraded_on_a_wrong_key_offline_when_down(
    kuma, via_metrics, make_resilient
):
    healthy = await via_metrics.health_check()
    wrong = UptimeKumaClient(
        make_resilient(kuma.url, default_headers=basic_auth_headers("uk9_wrong")),
        source="metrics",
    )
    rejected = await wrong.health_check()
    kuma.set_fault("error")
    down = await via_metrics.health_check()

    assert healthy.status == "online" and healthy.response_time_ms is not None
    assert rejected.status == "degraded" and rejected.error == "API key rejected"
    assert down.status == "offline"


@pytest.mark.parametrize(
    ("key_set", "config", "expected"),
    [
        (True, {}, "metrics"),
        (False, {"statusPage": "home"}, "status_page"),
        (True, {"statusPage": "home"}, "metrics"),
        (True, {"statusPage": "home", "source": "status_page"}, "status_page"),
        (False, {"source": "metrics"}, "metrics"),
        (False, {}, None),
        (True, {"source": "status_page"}, None),
    ],
)
def test_the_read_path_is_metrics_with_a_key_else_the_status_page(key_set, config, expected):
    assert choose_source(api_key_set=key_set, config=config) == expected


async def test_nan_and_infinite_metric_values_read_as_unknown_and_kuma_stays_online(
    kuma, via_metrics
):
    # "NaN" and "+Inf" are valid sample values in the Prometheus text format (a gauge
    # never set, a proxy's exporter): they say nothing is known, not that Kuma failed.
    kuma.set_monitor("Plex", status=math.nan)
    kuma.monitors["Website"].cert_days = math.inf

    health = await via_metrics.health_check()
    by_name = {m.name: m for m in (await via_metrics.monitors(fresh_ttl=0)).monitors}

    assert health.status == "online", health.error
    assert by_name["Plex"].status == "pending"
    assert by_name["Website"].cert_days_remaining is None
    assert by_name["Overseerr"].status == "up"


async def test_an_answer_of_the_wrong_shape_never_replaces_the_last_good_one(kuma, via_status_page):
    good = {m.name for m in (await via_status_page.monitors(fresh_ttl=0)).monitors}
    kuma.monitors["Plex"].name = 5  # type: ignore[assignment]  (a monitor Kuma cannot name)

    # Not understood: the last good answer stands in for it, as during an outage...
    during = await via_status_page.monitors(fresh_ttl=0)
    kuma.monitors["Plex"].name = "Plex"
    kuma.set_fault("error")
    # ...and it is still the one served when Kuma is down afterwards.
    after = await via_status_page.monitors(fresh_ttl=0)

    assert during.stale and {m.name for m in during.monitors} == good
    assert after.stale and {m.name for m in after.monitors} == good
