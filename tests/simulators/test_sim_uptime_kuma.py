"""Uptime Kuma simulator: the authenticated Prometheus endpoint and the public status page."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from medianest_simulators import UptimeKumaSimulator
from medianest_simulators.uptime_kuma import API_KEY
from tests.support.http import http_client


def metrics(sim: UptimeKumaSimulator, http: httpx.Client) -> dict[str, list]:
    answer = http.get(sim.url + "/metrics", auth=("ignored", API_KEY))
    assert answer.status_code == 200
    return {f.name: f.samples for f in text_string_to_metric_families(answer.text)}


def by_monitor(samples: list, **extra: str) -> dict[str, float]:
    return {
        s.labels["monitor_name"]: s.value
        for s in samples
        if all(s.labels.get(k) == v for k, v in extra.items())
    }


def test_metrics_need_the_api_key_as_basic_password(
    kuma: UptimeKumaSimulator, http: httpx.Client
) -> None:
    assert http.get(kuma.url + "/metrics").status_code == 401
    assert http.get(kuma.url + "/metrics", auth=("admin", "uk1_wrong")).status_code == 401
    assert http.get(kuma.url + "/metrics", auth=("anything", API_KEY)).status_code == 200


def test_metrics_parse_with_a_real_exposition_parser(
    kuma: UptimeKumaSimulator, http: httpx.Client
) -> None:
    families = metrics(kuma, http)
    assert by_monitor(families["monitor_status"]) == {"Plex": 1, "Overseerr": 1, "Website": 1}
    sample = families["monitor_status"][0]
    assert {
        "monitor_name",
        "monitor_type",
        "monitor_url",
        "monitor_hostname",
        "monitor_port",
        "monitor_id",
    } <= set(sample.labels)
    assert by_monitor(families["monitor_response_time"])["Plex"] == 12
    assert by_monitor(families["monitor_cert_days_remaining"]) == {"Website": 42}
    assert by_monitor(families["monitor_cert_is_valid"]) == {"Website": 1}
    assert set(by_monitor(families["monitor_uptime_ratio"], window="30d")) == {
        "Plex",
        "Overseerr",
        "Website",
    }


def test_a_monitor_going_down_shows_in_metrics_and_heartbeats(
    kuma: UptimeKumaSimulator, http: httpx.Client
) -> None:
    kuma.set_monitor("Plex", up=False)
    families = metrics(kuma, http)
    assert by_monitor(families["monitor_status"])["Plex"] == 0
    assert by_monitor(families["monitor_response_time"])["Plex"] == -1
    beats = http.get(kuma.url + "/api/status-page/heartbeat/medianest").json()
    plex_beats = beats["heartbeatList"]["1"]
    assert plex_beats[-1]["status"] == 0
    assert {"status", "time", "msg", "ping"} <= set(plex_beats[0])
    assert 0 <= beats["uptimeList"]["1_24"] < 1


def test_monitors_are_switched_over_http(kuma: UptimeKumaSimulator, http: httpx.Client) -> None:
    http.post(kuma.url + "/__sim/monitors/Overseerr", json={"status": "down"})
    http.post(kuma.url + "/__sim/monitors/Overseerr", json={"status": "up", "ping": 99})
    families = metrics(kuma, http)
    assert by_monitor(families["monitor_status"])["Overseerr"] == 1
    assert by_monitor(families["monitor_response_time"])["Overseerr"] == 99


def test_version_one_has_no_monitor_id_or_windows(
    kuma: UptimeKumaSimulator, http: httpx.Client
) -> None:
    http.post(kuma.url + "/__sim/config", json={"version": 1})
    families = metrics(kuma, http)
    assert "monitor_uptime_ratio" not in families
    assert "monitor_id" not in families["monitor_status"][0].labels


def test_the_status_page_is_public(kuma: UptimeKumaSimulator, http: httpx.Client) -> None:
    page = http.get(kuma.url + "/api/status-page/medianest").json()
    assert page["config"]["slug"] == "medianest"
    monitors = page["publicGroupList"][0]["monitorList"]
    assert [m["name"] for m in monitors] == ["Plex", "Overseerr", "Website"]
    assert "maintenanceList" in page


def test_an_unknown_status_page_is_404_fail(kuma: UptimeKumaSimulator, http: httpx.Client) -> None:
    for path in ("/api/status-page/nope", "/api/status-page/heartbeat/nope"):
        answer = http.get(kuma.url + path)
        assert answer.status_code == 404
        assert answer.json()["status"] == "fail" and answer.json()["msg"]


async def test_socket_pushes_kumas_heartbeat_payload_when_a_monitor_is_flipped_over_http(
    kuma: UptimeKumaSimulator,
) -> None:
    import asyncio

    import socketio

    beats: asyncio.Queue = asyncio.Queue()
    first_info = asyncio.Event()
    client = socketio.AsyncClient(reconnection=False)
    client.on("info", lambda *_: first_info.set())
    client.on("heartbeat", beats.put_nowait)
    await client.connect(kuma.url, transports=["websocket"])
    try:
        await asyncio.wait_for(first_info.wait(), 5)
        assert await client.call(
            "login", {"username": "admin", "password": "nope", "token": ""}
        ) == {
            "ok": False,
            "msg": "authIncorrectCreds",
            "msgi18n": True,
        }
        answer = await client.call(
            "login", {"username": "admin", "password": "admin123", "token": ""}
        )
        assert answer["ok"] is True and answer["token"]
        async with http_client() as http:
            flipped = await http.post(kuma.url + "/__sim/monitors/Plex", json={"status": "down"})
            assert flipped.status_code == 200
            beat = await asyncio.wait_for(beats.get(), 5)
            assert beat["monitorID"] == 1 and beat["status"] == 0 and beat["important"] is True
            # Real Kuma 2.5.3's down beat: no ping (undefined, dropped), no duration.
            assert set(beat) == {"monitorID", "status", "time", "msg", "important", "retries"}
            await http.post(kuma.url + "/__sim/monitors/Plex", json={"status": "up"})
            beat = await asyncio.wait_for(beats.get(), 5)
            assert beat["status"] == 1 and beat["ping"] == 12
            switches = await http.post(kuma.url + "/__sim/socket", json={"twofa": True})
            assert switches.json()["twofa"] is True and switches.json()["logins"] == 2
        refused = await client.call(
            "login", {"username": "admin", "password": "admin123", "token": ""}
        )
        assert refused == {"tokenRequired": True}
    finally:
        await client.disconnect()


async def test_a_new_socket_hears_info_without_version_then_login_required(
    kuma: UptimeKumaSimulator,
) -> None:
    import asyncio

    import socketio

    heard: list[tuple[str, tuple[object, ...]]] = []
    login_required = asyncio.Event()
    client = socketio.AsyncClient(reconnection=False)

    async def note(event: str, *args: object) -> None:
        heard.append((event, args))
        if event == "loginRequired":
            login_required.set()

    client.on("*", note)
    await client.connect(kuma.url, transports=["websocket"])
    try:
        await asyncio.wait_for(login_required.wait(), 5)
        assert [event for event, _ in heard] == ["info", "loginRequired"]
        first_info = heard[0][1][0]
        assert isinstance(first_info, dict) and "version" not in first_info
        answer = await client.call("login", {"username": "admin", "password": "admin123"})
        assert answer["ok"] is True
        after = [event for event, _ in heard[2:]]
        # As Kuma 2.5.3's afterLogin: the list first, the versioned info, stats and beats.
        assert after[0] == "monitorList" and "info" in after and "remoteBrowserList" in after
        infos = [args[0] for event, args in heard[2:] if event == "info"]
        assert isinstance(infos[0], dict) and infos[0]["version"] == "2.5.3"
        assert after.count("heartbeatList") == len(kuma.monitors)
    finally:
        await client.disconnect()


def test_kumas_login_limit_lets_a_refused_client_in_when_its_minute_is_over(
    monkeypatch,
) -> None:
    """server/rate-limiter.js: the `limiter` package's RateLimiter, 20 a minute with
    fireImmediately; a refused login takes no token, so retries do not prolong the wait."""
    from medianest_simulators import uptime_kuma_socket

    now = [1000.0]
    monkeypatch.setattr(uptime_kuma_socket.time, "monotonic", lambda: now[0])
    limiter = uptime_kuma_socket.LoginLimiter()
    assert all(limiter.allow() for _ in range(20))
    for _ in range(10):  # a client retrying every 5 s while refused
        now[0] += 5
        assert not limiter.allow()
    now[0] = 1060.0  # the minute that began with the first login is over
    assert limiter.allow()


async def test_a_kuma_restart_starts_its_login_limit_afresh() -> None:
    import asyncio

    import pytest

    from medianest.integrations.uptime_kuma_live import KumaSignInRefused, sign_in_once

    sim = UptimeKumaSimulator()
    await asyncio.to_thread(sim.start)
    try:
        for _ in range(20):
            await sign_in_once(sim.url, username="admin", password="admin123")
        with pytest.raises(KumaSignInRefused) as refused:
            await sign_in_once(sim.url, username="admin", password="admin123")
        assert refused.value.retry_soon
        await asyncio.to_thread(sim.restart)  # Kuma keeps the limiter in memory
        link = await sign_in_once(sim.url, username="admin", password="admin123")
        assert link.signed_in_by == "password"
    finally:
        await asyncio.to_thread(sim.stop)
