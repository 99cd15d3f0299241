"""An open dashboard shows how long ago each service was checked ("Checked 12 s ago")
and, for Uptime Kuma, how old its data is. While nothing changes those ages must still
follow the checks: the monitor pushes each service again once its check is a step
(`DATA_AGE_PUSH_SECONDS`, 10 s) newer than what the browsers were last sent, never more
often, whatever the round's length. Before, an unchanged service was never pushed, so
a dashboard left open said "Checked 5 min ago" of a service checked every 30 s.
Real Socket.IO on loopback against the simulators; rounds of 0.25 s, a step of 1 s."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest
from tests.dashboard.test_status_monitor import Serve, all_online, wait_for_status
from tests.support.served_apps import Storage, session_cookie
from tests.support.socket_listener import Listener

from medianest.auth.models import User
from medianest.dashboard import schemas
from medianest.settings import Settings

STEP_SECONDS = 1.0
WATCH_SECONDS = 4.5


def _checked_at(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["lastCheckAt"])


async def test_an_unchanged_service_is_pushed_again_once_a_step_so_its_age_stays_true(
    serve: Serve,
    sim_settings: Settings,
    storage: Storage,
    alice: User,
    listeners: Callable[[], Listener],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(schemas, "DATA_AGE_PUSH_SECONDS", STEP_SECONDS)
    server = await serve(sim_settings)
    cookie = await session_cookie(storage, alice)
    await wait_for_status(server, cookie, all_online)
    tab = await listeners().connect(server.url, cookie)
    await tab.next("service:status", lambda d: d["service"] == "plex")
    tab.drain()
    seen = len(tab.received("service:status"))

    await tab.nothing("service:status", within=WATCH_SECONDS)
    pushed = [e for e in tab.received("service:status")[seen:] if e["service"] == "plex"]

    assert all(e["status"] == "online" for e in pushed), pushed  # nothing changed
    # Followed: pushed again within every two steps of watching...
    assert len(pushed) >= WATCH_SECONDS / STEP_SECONDS - 2, pushed
    # ...but never more often than a step, though the rounds are four times as frequent.
    times = [_checked_at(e) for e in pushed]
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(times)]
    assert all(gap >= STEP_SECONDS for gap in gaps), gaps
    assert len(pushed) <= WATCH_SECONDS / STEP_SECONDS + 1, pushed
