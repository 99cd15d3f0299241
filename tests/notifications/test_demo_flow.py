"""The done-when of notifications, with the demo's own wiring (`medianest demo`: the
simulators, Overseerr's webhook pointed at the portal): alice signs in with Plex, adds a
JSON webhook (Apprise) and this browser's push subscription, requests a film; when
Overseerr makes it available, her centre, the push endpoint and the webhook each get it
once, within 5 seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from medianest import demo
from medianest.app import create_app
from medianest.db import migrate
from medianest.settings import Settings
from medianest_simulators.suite import SimulatorSuite
from tests.notifications.receivers import BrowserKeys, HttpReceiver
from tests.notifications.test_webpush import decrypt
from tests.support.http import http_client
from tests.support.servers import ServedApp, free_port

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def demo_app(tmp_path: Path) -> AsyncIterator[tuple[SimulatorSuite, ServedApp]]:
    suite = SimulatorSuite(youtube_dir=tmp_path / "youtube")
    await asyncio.to_thread(suite.start)
    overrides = demo.demo_overrides(
        suite.info, data_dir=tmp_path / "demo", host="127.0.0.1", port=free_port()
    )
    settings = Settings(_env_file=None, **overrides)  # type: ignore[call-arg]
    settings.data_dir.mkdir(parents=True)
    await migrate.upgrade_async(settings.resolved_database_url)
    await demo.point_services_at_simulators(settings, suite.info)
    demo.connect_webhook(suite, settings)
    served = ServedApp(create_app(settings, run_migrations=False), port=settings.port)
    await asyncio.to_thread(served.start)
    yield suite, served
    await asyncio.to_thread(served.stop)
    await asyncio.to_thread(suite.stop)


async def sign_in_with_plex(client: httpx.AsyncClient, plextv_url: str, username: str) -> None:
    pin = (await client.post("/api/auth/plex/pin", json={})).json()["data"]
    approved = await client.post(
        f"{plextv_url}/__sim/pins/{pin['code']}/approve", json={"username": username}
    )
    assert approved.status_code < 300, approved.text
    for _ in range(50):
        polled = (await client.get(f"/api/auth/plex/pin/{pin['id']}")).json()
        if polled["data"]["status"] == "authorized":
            return
        await asyncio.sleep(0.2)
    raise AssertionError("the PIN was never authorized")


async def test_a_request_made_available_in_the_demo_reaches_centre_push_and_webhook_once(
    demo_app: tuple[SimulatorSuite, ServedApp],
    webhook: HttpReceiver,
    push_service: HttpReceiver,
) -> None:
    suite, served = demo_app
    keys = BrowserKeys()
    async with http_client(base_url=served.url, timeout=10) as alice:
        await sign_in_with_plex(alice, suite.info.plex_tv_url, "alice")
        alice.cookies.set("csrftoken", "demo-csrf")
        alice.headers["X-CSRF-Token"] = "demo-csrf"
        for body in (
            {
                "url": f"json://127.0.0.1:{webhook.port}/discord-like",
                "events": ["request.available"],
            },
            {
                "subscription": keys.subscription(push_service.url + "/push"),
                "events": ["request.available"],
            },
        ):
            added = await alice.post("/api/notifications/channels", json=body)
            assert added.status_code == 201, added.text
        made = await alice.post("/api/media/request", json={"mediaType": "movie", "tmdbId": 400004})
        assert made.status_code == 201, made.text
        overseerr_id = made.json()["data"]["overseerrId"]

        started = time.monotonic()
        await asyncio.to_thread(suite.overseerr.complete_request, overseerr_id)
        hooked, pushed = await asyncio.gather(
            webhook.wait_for(1, timeout=5), push_service.wait_for(1, timeout=5)
        )
        centre: list[dict] = []
        while not any(i["event"] == "request.available" for i in centre):
            assert time.monotonic() - started < 5, centre
            centre = (await alice.get("/api/notifications")).json()["data"]["items"]
            await asyncio.sleep(0.05)
        assert max(hooked[0].at, pushed[0].at) - started < 5
        print(  # the figure quoted in the report (run with -s)
            f"available -> webhook {hooked[0].at - started:.2f}s, "
            f"push {pushed[0].at - started:.2f}s, centre {time.monotonic() - started:.2f}s"
        )

        title = "“Caminandes: Llamigos” is now available in Plex"
        assert hooked[0].json()["title"] == title
        pushed_message = decrypt(pushed[0].body, keys)
        assert pushed_message["title"] == title
        link = next(i for i in centre if i["event"] == "request.available")["link"]
        assert link.startswith(suite.info.plex_app_url + "/desktop/#!/server/")
        assert suite.info.plex_machine_identifier in link
        assert pushed_message["url"] == link

        await asyncio.sleep(2.0)  # nothing arrives twice
        assert len(webhook.received) == 1 and len(push_service.received) == 1
        available = [
            i
            for i in (await alice.get("/api/notifications")).json()["data"]["items"]
            if i["event"] == "request.available"
        ]
        assert len(available) == 1


async def test_the_demo_shows_uptime_kuma_live_and_a_flipped_monitor_at_once(
    demo_app: tuple[SimulatorSuite, ServedApp],
) -> None:
    suite, served = demo_app

    async def kuma_entry(client: httpx.AsyncClient) -> dict:
        entries = (await client.get("/api/dashboard/status")).json()["data"]
        return next(e for e in entries if e["service"] == "uptime_kuma")

    async with http_client(base_url=served.url, timeout=10) as alice:
        await sign_in_with_plex(alice, suite.info.plex_tv_url, "alice")
        deadline = time.monotonic() + 15
        while (entry := await kuma_entry(alice))["source"] != "live":
            assert time.monotonic() < deadline, entry
            await asyncio.sleep(0.1)
        # docs/demo.md's way to flip a monitor in the demo.
        async with http_client() as control:
            flipped = await control.post(
                f"{suite.info.uptime_kuma_url}/__sim/monitors/Plex", json={"status": "down"}
            )
        assert flipped.status_code < 300, flipped.text
        started = time.monotonic()
        # Pushed, not polled: the next poll (health round or fallback) is 30 s away. The
        # push usually shows in ~0.06 s; on a loaded CI machine the live record can queue
        # behind the app's other SQLite writers at start (a 2 s limit failed once there).
        while {m["name"]: m["status"] for m in entry["monitors"]}["Plex"] != "down":
            assert time.monotonic() - started < 10, entry
            await asyncio.sleep(0.05)
            entry = await kuma_entry(alice)
    assert entry["source"] == "live" and suite.uptime_kuma.socket_logins == 1
