"""The simulated Kuma's steady heartbeat stream, as a real Kuma sends it to a signed-in
socket (uptime_kuma_beats.py cites model/monitor.js): every active monitor beats every
`interval` seconds with `important` false while unchanged, with its stats after each;
a paused monitor does not beat; a flip is `important`; stopped, nothing more comes."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import socketio

from medianest_simulators import UptimeKumaSimulator

INTERVAL = 0.2


async def signed_in(
    kuma: UptimeKumaSimulator, heard: list[tuple[str, Any]]
) -> socketio.AsyncClient:
    sio = socketio.AsyncClient(reconnection=False)
    for name in ("heartbeat", "avgPing", "uptime"):
        sio.on(name, lambda *args, name=name: heard.append((name, args)))
    await sio.connect(kuma.url, transports=["websocket"], wait_timeout=5)
    answer = await sio.call(
        "login", {"username": "admin", "password": "admin123", "token": ""}, timeout=10
    )
    assert answer["ok"]
    return sio


async def test_every_active_monitor_beats_every_interval_until_stopped(
    kuma: UptimeKumaSimulator,
) -> None:
    kuma.add_monitors(20, interval=INTERVAL)
    kuma.pause_monitor("Website")
    heard: list[tuple[str, Any]] = []
    sio = await signed_in(kuma, heard)
    try:
        await asyncio.sleep(0.3)  # the histories of the sign-in
        heard.clear()
        kuma.start_beating(INTERVAL)
        await asyncio.sleep(10 * INTERVAL)
        kuma.set_monitor("Plex", up=False)
        await asyncio.sleep(2 * INTERVAL)
        kuma.stop_beating()
        await asyncio.sleep(INTERVAL)
        stopped_at = len(heard)
        await asyncio.sleep(3 * INTERVAL)
    finally:
        await sio.disconnect()

    beats = [args[0] for name, args in heard if name == "heartbeat"]
    per_monitor = Counter(b["monitorID"] for b in beats)
    website = kuma.monitors["Website"].id
    active = [m.id for m in kuma.monitors.values() if m.active]
    assert website not in per_monitor  # paused: its timer is cleared
    # Each active monitor beat about ten times (a loaded machine may beat it fewer).
    assert all(4 <= per_monitor[m] <= 14 for m in active), per_monitor
    plex = kuma.monitors["Plex"].id
    important = [b for b in beats if b["important"]]
    assert [b["monitorID"] for b in important] == [plex]  # only the flip
    assert all(b["status"] == 1 for b in beats if b["monitorID"] != plex)
    assert len({b["ping"] for b in beats if "ping" in b}) > 1  # pings vary from check to check
    # Each beat is followed by its stats: avgPing and the uptime windows (2.x: 24, 720, 1y).
    assert sum(1 for name, _ in heard if name == "avgPing") == len(beats)
    assert sum(1 for name, _ in heard if name == "uptime") == 3 * len(beats)
    assert len(heard) == stopped_at  # stopped: no timer left


async def test_the_listed_interval_is_the_one_it_beats_at(kuma: UptimeKumaSimulator) -> None:
    kuma.add_monitors(2, interval=20.0)
    listed: list[dict[str, Any]] = []
    sio = socketio.AsyncClient(reconnection=False)
    sio.on("monitorList", lambda data: listed.append(data))
    await sio.connect(kuma.url, transports=["websocket"], wait_timeout=5)
    try:
        await sio.call("login", {"username": "admin", "password": "admin123", "token": ""})
    finally:
        await sio.disconnect()
    intervals = {m["name"]: m["interval"] for m in listed[0].values()}
    assert intervals["Plex"] == 60.0 and intervals["Service 4"] == 20.0
