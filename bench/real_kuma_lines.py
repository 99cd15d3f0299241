"""MediaNest's live Kuma link against a REAL Kuma of either line, 1.23.x or 2.x (not the
simulator): what docs/uptime-kuma-real.md ("Kuma 1.23 and 2.x, read against their
source") records. Needs Node.js and a Kuma checkout with its dependencies (see that
page); reuses `bench/real_kuma.py`'s helpers. Checks:

- "Test connection": online, Kuma's version, the monitor count and their statuses (not
  "pending": 1.23 sends the histories after answering the sign-in);
- the same through a reverse proxy that refuses WebSocket upgrades (long-polling), and a
  pause seen through it;
- a monitor deleted while its check hangs: the heartbeat 1.23 still sends afterwards
  must not bring it back to the dashboard (2.x sends none);
- pause and resume followed; a Kuma restart taken back with the token.

    python -m bench.real_kuma_lines KUMA_DIR

Prints the figures as JSON; exits 1 when a check failed.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.support.http_only_proxy import http_only_proxy
from tests.support.servers import ServedApp

from bench.real_kuma import PASSWORD, USERNAME, Kuma, Observer, Target, Watched
from medianest.dashboard.kuma_live import live_monitor_statuses
from medianest.integrations import uptime_kuma_live as live

HANG_CHECK_TIMEOUT_SECONDS = 8  # the deleted monitor's check waits this long


def hanging_target() -> str:
    """A target that accepts connections and never answers (a removed service's host)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            held.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{server.getsockname()[1]}/"


def monitor_fields(fields: dict[str, Any], *, old: bool) -> dict[str, Any]:
    monitor = {
        "interval": 20,  # 1.23's shortest
        "retryInterval": 20,
        "maxretries": 0,
        "accepted_statuscodes": ["200-299"],
        "notificationIDList": {},
        "kafkaProducerBrokers": [],
        "kafkaProducerSaslOptions": {},
        "active": True,
        "method": "GET",
        **fields,
    }
    return monitor if old else monitor | {"conditions": [], "rabbitmqNodes": []}


def statuses(link: live.KumaLiveLink) -> dict[str, str]:
    return {m.name: m.status for m in live_monitor_statuses(link)}


async def test_connection(url: str) -> dict[str, Any]:
    started = time.monotonic()
    health, link = await live.socket_health(live.KumaSignIn(url, USERNAME, PASSWORD))
    return {
        "status": health.status,
        "error": health.error,
        "version": health.version,
        "monitor_count": health.monitor_count,
        "seconds": round(time.monotonic() - started, 2),
        "statuses": statuses(link) if link else None,
        "long_polling": getattr(link, "polling", None),
    }


async def through_proxy(kuma: Kuma, observer: Observer, paused: int) -> dict[str, Any]:
    async with ServedApp(http_only_proxy(kuma.url)) as proxy:
        result = await test_connection(proxy.url)
        watched = Watched(proxy.url)
        task = asyncio.create_task(watched.link.run())
        try:
            await watched.wait_state("live", 30)
            await observer.call("pauseMonitor", paused)
            await asyncio.sleep(1)
            result["pause_seen"] = not watched.link.monitors[paused].active
            await observer.call("resumeMonitor", paused)
            await asyncio.sleep(1)
        finally:
            await watched.link.stop()
            await task
    return result


async def deleted_while_checking(
    observer: Observer, link: live.KumaLiveLink, add: Any, old: bool
) -> dict[str, Any]:
    gone = await add({"type": "http", "name": "Gone", "url": hanging_target(), "timeout": 8})
    await asyncio.sleep(1.5)  # its first check is under way
    deleted_at = time.time()
    if old:
        await observer.call("deleteMonitor", gone)
    else:
        await observer.call("deleteMonitor", gone, False)
    late = None
    deadline = time.monotonic() + HANG_CHECK_TIMEOUT_SECONDS + 12
    while late is None and time.monotonic() < deadline:
        late = next(
            (b for at, b in observer.beats if b.get("monitorID") == gone and at > deleted_at),
            None,
        )
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    return {"late_beat": late, "shown": statuses(link), "still_shown": gone in link.monitors}


async def check(kuma_dir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="medianest-real-kuma-lines-") as tmp:
        (Path(tmp) / "kuma").mkdir()
        kuma = Kuma(kuma_dir, Path(tmp) / "kuma")
        old = kuma.version.startswith("1.")
        target = Target()
        out["version"] = kuma.version
        try:
            out["start_seconds"] = round(await asyncio.to_thread(kuma.start), 2)
            observer = Observer(kuma.url)
            await observer.connect()
            await observer.call("setup", USERNAME, PASSWORD)
            await observer.call("login", {"username": USERNAME, "password": PASSWORD, "token": ""})

            async def add(fields: dict[str, Any]) -> int:
                answer = await observer.call("add", monitor_fields(fields, old=old))
                if not answer.get("ok"):
                    raise RuntimeError(f"Kuma refused the monitor: {answer}")
                return int(answer["monitorID"])

            await add({"type": "http", "name": "Web", "url": target.url, "timeout": 5})
            site = await add({"type": "http", "name": "Site", "url": target.url, "timeout": 5})
            await asyncio.sleep(3)  # their first checks
            out["test_connection"] = await test_connection(kuma.url)
            out["through_proxy_without_websocket"] = await through_proxy(kuma, observer, site)
            watched = Watched(kuma.url)
            task = asyncio.create_task(watched.link.run())
            try:
                out["link_live_seconds"] = round(await watched.wait_state("live", 30), 2)
                link = watched.link
                out["deleted"] = await deleted_while_checking(observer, link, add, old)
                await observer.call("pauseMonitor", site)
                await asyncio.sleep(0.5)
                out["shown_after_pause"] = sorted(statuses(link))
                await observer.call("resumeMonitor", site)
                await asyncio.sleep(0.5)
                out["shown_after_resume"] = sorted(statuses(link))
                await observer.sio.disconnect()
                stopped = time.monotonic()
                await asyncio.to_thread(kuma.stop)
                await watched.wait_state("disconnected", 30)
                await asyncio.to_thread(kuma.start)
                await watched.wait_state("live", 60)
                out["restart"] = {
                    "back_seconds": round(time.monotonic() - stopped, 1),
                    "signed_in_by": link.signed_in_by,
                }
            finally:
                await watched.link.stop()
                await task
        finally:
            await asyncio.to_thread(kuma.stop)
            target.shutdown()
    return out


def verdict(out: dict[str, Any]) -> list[str]:
    failed = []
    for name in ("test_connection", "through_proxy_without_websocket"):
        seen = out.get(name) or {}
        if seen.get("status") != "online" or seen.get("version") != out["version"]:
            failed.append(f"{name}: {seen}")
        if "pending" in (seen.get("statuses") or {}).values():
            failed.append(f"{name}: a monitor pending")
    if out.get("deleted", {}).get("still_shown") or "Gone" in out.get("deleted", {}).get(
        "shown", {}
    ):
        failed.append("the deleted monitor came back")
    if out.get("shown_after_pause") != ["Web"] or out.get("shown_after_resume") != ["Site", "Web"]:
        failed.append("pause/resume not followed")
    if (out.get("restart") or {}).get("signed_in_by") != "token":
        failed.append("the restart did not use the token")
    return failed


def main(argv: list[str]) -> int:
    out = asyncio.run(check(Path(argv[0])))
    out["failed"] = verdict(out)
    print(json.dumps(out, indent=1, default=str))
    return 1 if out["failed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
