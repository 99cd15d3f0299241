"""MediaNest's live Uptime Kuma client against a REAL Uptime Kuma 2.x (not the simulator).

Not part of the tests (they run offline against the simulator): this needs Node.js and a
Kuma checkout with its dependencies installed (see docs/uptime-kuma-real.md). It starts
Kuma from that directory on loopback with a fresh SQLite data directory, runs Kuma's
first-run `setup`, adds an HTTP monitor (against a target served here, which it flips
between 200 and 503) and a push monitor, then checks `KumaLiveLink`:

- sign-in (`login`), the first `monitorList`/`heartbeatList`, Kuma's version and the
  monitor count as "Test connection" reports them; a wrong password and a 2FA account
  refused with their messages; the polling fallback's `/metrics` (an API key made over
  the socket) and status page; Kuma's "Disable Auth" (`autoLogin`, no login sent);
- flips: the delay from Kuma's heartbeat to the link's state change, measured from the
  push request (push monitor) or the target's first answer with the new status (HTTP
  monitor), from the heartbeat's own `time`, and from a second raw socket's arrival;
- a Kuma restart: the link comes back with `loginByToken` (Kuma's log is read to check
  no password login happened);
- with `--browser`: a served MediaNest (embedded SQLite, checks every 5 minutes) with
  the live source, the delay from the push request to a browser's `service:status`,
  and Kuma stopped (the browser gets a "polling" status) and started ("live" again).

    scripts/real-kuma-check KUMA_DIR [--flips N] [--browser]

Prints the figures as JSON; exits 1 when a check failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import socketio

from bench import backends
from bench.processes import free_port, medianest_server
from medianest.core.logging import configure_logging
from medianest.integrations import uptime_kuma_live as live
from medianest.integrations.http import ResilientClient
from medianest.integrations.uptime_kuma import KumaSource, UptimeKumaClient, basic_auth_headers
from medianest.settings import Settings

USERNAME = "medianest"
PASSWORD = "Real-Kuma-check-2x!"  # a throwaway Kuma in a temporary directory
PUSH_TOKEN = "medianestrealcheck"
STATUS_PAGE = "medianest"
HTTP_MONITOR = "MediaNest target"
PUSH_MONITOR = "MediaNest push"
HTTP_INTERVAL_SECONDS = 2  # Kuma 2.5 accepts 1 s and up
FLIP_WAIT_SECONDS = 15.0
START_WAIT_SECONDS = 120.0


class Target(ThreadingHTTPServer):
    """What the HTTP monitor checks: 200 or 503 on a switch; notes when each answer went."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _TargetHandler)
        self.healthy = True
        self.answers: list[tuple[float, int]] = []  # (time.time(), status code)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"

    def first_answer_since(self, since: float, code: int) -> float | None:
        return next((at for at, c in list(self.answers) if at >= since and c == code), None)


class _TargetHandler(BaseHTTPRequestHandler):
    server: Target

    def do_GET(self) -> None:
        code = 200 if self.server.healthy else 503
        self.server.answers.append((time.time(), code))
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: Any) -> None:
        return


class Kuma:
    """`node server/server.js` from a Kuma checkout, on loopback, with its own data dir."""

    def __init__(self, kuma_dir: Path, data_dir: Path) -> None:
        self.dir, self.data_dir = kuma_dir, data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / "kuma.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.version = json.loads((kuma_dir / "package.json").read_text())["version"]
        # Kuma 2.x asks for the database type on a setup page unless this file says it.
        (data_dir / "db-config.json").write_text('{"type": "sqlite"}')
        index = kuma_dir / "dist" / "index.html"
        if not index.exists():  # the server refuses to start without the frontend build
            index.parent.mkdir(exist_ok=True)
            index.write_text("<!doctype html><title>Uptime Kuma (no frontend build)</title>\n")

    def start(self) -> float:
        env = {
            **os.environ,
            "DATA_DIR": f"{self.data_dir}/",
            "UPTIME_KUMA_HOST": "127.0.0.1",
            "UPTIME_KUMA_PORT": str(self.port),
        }
        started = time.monotonic()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                ["node", "server/server.js"], cwd=self.dir, env=env, stdout=out, stderr=out
            )
        deadline = started + START_WAIT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Kuma exited ({self.process.returncode}); see {self.log}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + "/api/entry-page", timeout=1).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.1)
        raise TimeoutError(f"Kuma did not answer within {START_WAIT_SECONDS}s; see {self.log}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def log_count(self, text: str) -> int:
        return self.log.read_text(errors="replace").count(text)


class Observer:
    """A raw Socket.IO client as Kuma's own web UI: first-run setup, monitors, 2FA, and
    each `heartbeat` as it arrives (a second receiver to compare the link with)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[str] = []  # event names in arrival order
        self.beats: list[tuple[float, dict[str, Any]]] = []
        self.api_key = ""  # made by the polling check, for the served MediaNest
        self.sio.on("*", self._any)

    async def _any(self, event: str, *args: Any) -> None:
        self.events.append(event)
        if event == "heartbeat" and args and isinstance(args[0], dict):
            self.beats.append((time.time(), args[0]))

    async def connect(self) -> None:
        await self.sio.connect(self.url, transports=["websocket"], wait_timeout=10)
        for _ in range(100):  # Kuma's handlers are in place once it says what it wants
            if "loginRequired" in self.events or "autoLogin" in self.events:
                return
            await asyncio.sleep(0.05)

    async def call(self, event: str, *args: Any) -> Any:
        data = args if len(args) > 1 else args[0] if args else None
        return await self.sio.call(event, data, timeout=20)

    async def add_monitor(self, fields: dict[str, Any]) -> int:
        monitor = {
            "interval": 60,
            "retryInterval": 60,
            "maxretries": 0,
            "accepted_statuscodes": ["200-299"],
            "notificationIDList": {},
            "kafkaProducerBrokers": [],
            "kafkaProducerSaslOptions": {},
            "conditions": [],
            "rabbitmqNodes": [],
            "active": True,
            **fields,
        }
        answer = await self.call("add", monitor)
        if not answer.get("ok"):
            raise RuntimeError(f"Kuma refused the monitor: {answer}")
        return int(answer["monitorID"])

    def beat_since(self, since: float, monitor_id: int, status: int) -> tuple[float, str] | None:
        for arrived, beat in list(self.beats):
            same = beat.get("monitorID") == monitor_id and beat.get("status") == status
            if arrived >= since and same:
                return arrived, str(beat.get("time"))
        return None


class Watched:
    """The link under test, noting when each monitor's status changed."""

    def __init__(self, url: str, password: str = PASSWORD) -> None:
        self.link = live.KumaLiveLink(
            url, username=USERNAME, password=password, on_change=self._changed, backoff_max=2
        )
        self.seen: dict[int, str] = {}
        self.changes: list[tuple[float, int, str]] = []

    def _changed(self) -> None:
        now = time.time()
        for monitor in self.link.monitors.values():
            if self.seen.get(monitor.id) != monitor.status:
                self.seen[monitor.id] = monitor.status
                self.changes.append((now, monitor.id, monitor.status))

    async def wait_status(self, monitor_id: int, status: str, since: float) -> float:
        deadline = time.monotonic() + FLIP_WAIT_SECONDS
        while time.monotonic() < deadline:
            for at, found, seen in list(self.changes):
                if found == monitor_id and seen == status and at >= since:
                    return at
            await asyncio.sleep(0.001)
        raise TimeoutError(f"monitor {monitor_id} did not turn {status} in the link")

    async def wait_state(self, state: str, timeout: float = 60.0) -> float:
        started = time.monotonic()
        while self.link.state != state:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"the link stayed {self.link.state}: {self.link.error}")
            await asyncio.sleep(0.01)
        return time.monotonic() - started


def kuma_time(value: str) -> float:
    """A heartbeat's `time` ("2026-12-04 21:03:51.357", UTC) as a Unix time."""
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC).timestamp()


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        "min_ms": round(ordered[0] * 1000, 1),
    }


async def push(http: httpx.AsyncClient, kuma: Kuma, status: str) -> float:
    sent = time.time()
    answer = await http.get(
        f"{kuma.url}/api/push/{PUSH_TOKEN}", params={"status": status, "msg": f"flip {status}"}
    )
    answer.raise_for_status()
    return sent


async def flips(
    kuma: Kuma, target: Target, observer: Observer, watched: Watched, ids: dict[str, int], n: int
) -> dict[str, Any]:
    """Flip both monitors n times; the delays from Kuma's side to the link's change."""
    from_push, from_target, from_beat_time, from_observer = [], [], [], []
    async with httpx.AsyncClient(timeout=10) as http:
        for flip in range(n):
            status = "down" if flip % 2 == 0 else "up"
            code = 0 if status == "down" else 1
            sent = await push(http, kuma, status)
            changed = await watched.wait_status(ids["push"], status, sent)
            from_push.append(changed - sent)
            beat = observer.beat_since(sent, ids["push"], code)
            if beat is not None:
                from_beat_time.append(changed - kuma_time(beat[1]))
                from_observer.append(changed - beat[0])
            since = time.time()
            target.healthy = status == "up"
            changed = await watched.wait_status(ids["http"], status, since)
            answered = target.first_answer_since(since, 200 if status == "up" else 503)
            if answered is not None:
                from_target.append(changed - answered)
            beat = observer.beat_since(since, ids["http"], code)
            if beat is not None:
                from_beat_time.append(changed - kuma_time(beat[1]))
                from_observer.append(changed - beat[0])
            await asyncio.sleep(0.2)
    return {
        "push_request_to_link": summary(from_push),
        "target_answer_to_link": summary(from_target),
        "heartbeat_time_to_link": summary(from_beat_time),
        "raw_socket_arrival_to_link": summary(from_observer),
    }


async def list_updates(observer: Observer, watched: Watched) -> dict[str, Any]:
    """A monitor added, paused, resumed and deleted in Kuma: the link's list follows
    (`updateMonitorIntoList`, `deleteMonitorFromList`) within a second each."""
    steps: dict[str, float] = {}

    async def until(step: str, holds: Any) -> None:
        started = time.monotonic()
        while not holds():
            if time.monotonic() - started > FLIP_WAIT_SECONDS:
                raise TimeoutError(f"the link's list did not follow: {step}")
            await asyncio.sleep(0.005)
        steps[step] = round((time.monotonic() - started) * 1000, 1)

    link = watched.link  # its `monitors` dict is replaced on each list update
    extra = await observer.add_monitor(
        {"type": "push", "name": "MediaNest extra", "pushToken": PUSH_TOKEN + "extra"}
    )
    await until("added_ms", lambda: extra in link.monitors)
    await observer.call("pauseMonitor", extra)
    await until("paused_ms", lambda: extra in link.monitors and not link.monitors[extra].active)
    await observer.call("resumeMonitor", extra)
    await until("resumed_ms", lambda: extra in link.monitors and link.monitors[extra].active)
    await observer.call("deleteMonitor", extra, False)
    await until("deleted_ms", lambda: extra not in link.monitors)
    return steps


async def refusals(kuma: Kuma, observer: Observer) -> dict[str, Any]:
    """A wrong password and a 2FA account, as "Test connection" reports them."""
    wrong, _ = await live.socket_health(live.KumaSignIn(kuma.url, USERNAME, "wrong-password"))
    prepared = await observer.call("prepare2FA", PASSWORD)
    saved = await observer.call("save2FA", PASSWORD)
    try:
        twofa, _ = await live.socket_health(live.KumaSignIn(kuma.url, USERNAME, PASSWORD))
    finally:
        disabled = await observer.call("disable2FA", PASSWORD)
    return {
        "wrong_password": {"status": wrong.status, "error": wrong.error},
        "two_factor": {"status": twofa.status, "error": twofa.error},
        "two_factor_setup": [bool(prepared.get("ok")), saved.get("ok"), disabled.get("ok")],
        "ok": wrong.status == "degraded"
        and "username or password" in (wrong.error or "")
        and twofa.error == live.TWO_FACTOR_REFUSAL,
    }


async def auth_disabled(kuma: Kuma, observer: Observer) -> dict[str, Any]:
    """Kuma's "Disable Auth" on: the link is signed in by Kuma (`autoLogin`), whatever
    the password; then off again."""
    current = await observer.call("getSettings")
    settings = dict(current["data"]) | {"disableAuth": True}
    switched_on = await observer.call("setSettings", settings, PASSWORD)
    try:
        link = await live.sign_in_once(kuma.url, username=USERNAME, password="wrong-password")
    finally:
        switched_off = await observer.call("setSettings", settings | {"disableAuth": False}, "")
    return {
        "settings_saved": [switched_on.get("ok"), switched_off.get("ok")],
        "signed_in_by": link.signed_in_by,
        "monitors": len(link.monitors),
        "version": link.version,
    }


async def polling_sources(kuma: Kuma, observer: Observer, ids: dict[str, int]) -> dict[str, Any]:
    """The fallback's two read paths on the real Kuma: `/metrics` with an API key made over
    the socket, and a status page listing both monitors."""
    made = await observer.call("addAPIKey", {"name": "MediaNest", "expires": None, "active": 1})
    added = await observer.call("addStatusPage", "MediaNest", STATUS_PAGE)
    page_config = {
        "slug": STATUS_PAGE,
        "title": "MediaNest",
        "description": None,
        "autoRefreshInterval": 300,
        "theme": "auto",
        "showTags": False,
        "footerText": None,
        "customCSS": "",
        "showPoweredBy": False,
        "rssTitle": None,
        "showOnlyLastHeartbeat": False,
        "showCertificateExpiry": False,
        "analyticsId": None,
        "analyticsScriptUrl": None,
        "analyticsType": None,
        "domainNameList": [],
    }
    groups = [{"name": "Services", "monitorList": [{"id": i} for i in ids.values()]}]
    saved = await observer.call("saveStatusPage", STATUS_PAGE, page_config, "/icon.svg", groups)
    result: dict[str, Any] = {
        "api_key_made": bool(made.get("ok")),
        "status_page_made": [added.get("ok"), saved.get("ok")],
    }
    key = observer.api_key = str(made.get("key") or "")
    sources: tuple[tuple[KumaSource, dict[str, str]], ...] = (
        ("metrics", basic_auth_headers(key)),
        ("status_page", {}),
    )
    for source, headers in sources:
        http = ResilientClient(
            "uptime_kuma", kuma.url, settings=Settings(), default_headers=headers, secrets=[key]
        )
        client = UptimeKumaClient(http, source=source, status_page=STATUS_PAGE)
        try:
            health = await client.health_check()
            found = await client.monitors(fresh_ttl=0)
            result[source] = {
                "health": health.status,
                "error": health.error,
                "monitors": {m.name: m.status for m in found.monitors},
                "uptime_ratios": {m.name: m.uptime_ratio for m in found.monitors},
            }
        finally:
            await http.aclose()
    return result


async def restart(kuma: Kuma, watched: Watched) -> dict[str, Any]:
    """Stop Kuma and start it again: the link must come back by token, not by password."""
    password_logins = kuma.log_count("Login by username + password")
    token_logins = kuma.log_count("Login by token")
    sessions = watched.link.sessions
    stopped = time.monotonic()
    await asyncio.to_thread(kuma.stop)
    await watched.wait_state("disconnected", timeout=30)
    start_seconds = await asyncio.to_thread(kuma.start)
    await watched.wait_state("live", timeout=60)
    return {
        "kuma_start_seconds": round(start_seconds, 2),
        "stop_to_live_again_seconds": round(time.monotonic() - stopped, 2),
        "sessions_before_after": [sessions, watched.link.sessions],
        "password_logins_after_restart": kuma.log_count("Login by username + password")
        - password_logins,
        "token_logins_after_restart": kuma.log_count("Login by token") - token_logins,
    }


async def browser_path(kuma: Kuma, root: Path, n: int, api_key: str) -> dict[str, Any]:
    """A served MediaNest with the live source: push request to a browser's service:status;
    then Kuma stopped (the dashboard falls back to polling) and started (live again)."""
    env = {
        **backends.embedded(root / "medianest").env,
        "MEDIANEST_LOG_LEVEL": "WARNING",
        "MEDIANEST_RUN_WORKER_IN_PROCESS": "false",
        "MEDIANEST_HEALTH_CHECK_INTERVAL_SECONDS": "300",
    }
    server = medianest_server("medianest-real-kuma", env, root / "medianest.log")
    await asyncio.to_thread(server.start, "/api/health", 240)
    arrivals: list[tuple[float, str, str]] = []  # (time, source, push monitor status)
    shown: list[tuple[float, dict[str, Any]]] = []  # every uptime_kuma status, as sent
    browser = socketio.AsyncClient(reconnection=False)

    async def on_status(data: dict[str, Any]) -> None:
        if data.get("service") == "uptime_kuma":
            shown.append((time.time(), data))
            for monitor in data.get("monitors") or []:
                if monitor.get("name") == PUSH_MONITOR:
                    arrivals.append((time.time(), str(data.get("source")), monitor["status"]))

    async def first_shown(since: float, source: str, timeout: float) -> tuple[float, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for at, data in list(shown):
                if at >= since and data.get("source") == source:
                    return at - since, data
            await asyncio.sleep(0.01)
        raise TimeoutError(f"no {source} service:status within {timeout}s")

    browser.on("service:status", on_status)
    try:
        _user_id, cookie = await asyncio.to_thread(backends.sign_in, server.url)
        csrf = dict(part.split("=", 1) for part in cookie.split("; "))["csrftoken"]
        async with httpx.AsyncClient(base_url=server.url, headers={"Cookie": cookie}) as api:
            saved = await api.put(
                "/api/admin/services/uptime_kuma",
                json={
                    "url": kuma.url,
                    "enabled": True,
                    "password": PASSWORD,
                    "apiKey": api_key,  # the fallback polls /metrics
                    "config": {"source": "socket", "username": USERNAME},
                },
                headers={"X-CSRF-Token": csrf},
                timeout=30,
            )
            saved.raise_for_status()
        await browser.connect(server.url, headers={"Cookie": cookie}, transports=["websocket"])
        deadline = time.monotonic() + 30
        while not any(source == "live" for _, source, _ in arrivals):
            if time.monotonic() > deadline:
                raise TimeoutError("no live service:status reached the browser")
            await asyncio.sleep(0.05)
        delays: list[float] = []
        async with httpx.AsyncClient(timeout=10) as http:
            for flip in range(n):
                status = "down" if flip % 2 == 0 else "up"
                sent = await push(http, kuma, status)
                deadline = time.monotonic() + FLIP_WAIT_SECONDS
                while True:
                    got = [at for at, src, st in arrivals if at >= sent and st == status]
                    if got or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.001)
                if got:
                    delays.append(got[0] - sent)
                await asyncio.sleep(0.3)
        result: dict[str, Any] = {
            "push_request_to_browser": summary(delays) if delays else None,
            "flips": n,
        }
        stopped = time.time()
        await asyncio.to_thread(kuma.stop)
        after, polled = await first_shown(stopped, "polling", 60)
        result["kuma_stopped_to_polling_seconds"] = round(after, 2)
        result["while_stopped"] = _shown(polled)
        started = time.time()
        await asyncio.to_thread(kuma.start)
        after, back = await first_shown(started, "live", 90)
        result["kuma_started_to_live_seconds"] = round(after, 2)
        result["live_again"] = _shown(back)
        return result
    finally:
        await browser.disconnect()
        await asyncio.to_thread(server.stop)


def _shown(data: dict[str, Any]) -> dict[str, Any]:
    """What a browser's dashboard shows of Uptime Kuma from one service:status."""
    return {
        "status": data.get("status"),
        "source": data.get("source"),
        "source_note": data.get("source_note") or data.get("sourceNote"),
        "monitors": {m.get("name"): m.get("status") for m in data.get("monitors") or []},
    }


async def check(kuma_dir: Path, n: int, with_browser: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="medianest-real-kuma-") as tmp:
        root = Path(tmp)
        (root / "kuma").mkdir()
        kuma = Kuma(kuma_dir, root / "kuma")
        target = Target()
        result: dict[str, Any] = {"kuma_version": kuma.version, "kuma_url": kuma.url}
        try:
            result["kuma_first_start_seconds"] = round(await asyncio.to_thread(kuma.start), 2)
            observer = Observer(kuma.url)
            await observer.connect()
            result["first_events"] = observer.events[:3]
            result["setup"] = await observer.call("setup", USERNAME, PASSWORD)
            login = await observer.call("login", {"username": USERNAME, "password": PASSWORD})
            ids = {
                "http": await observer.add_monitor(
                    {
                        "type": "http",
                        "name": HTTP_MONITOR,
                        "url": target.url,
                        "method": "GET",
                        "interval": HTTP_INTERVAL_SECONDS,
                        "retryInterval": HTTP_INTERVAL_SECONDS,
                        "timeout": 2,
                    }
                ),
                "push": await observer.add_monitor(
                    {"type": "push", "name": PUSH_MONITOR, "pushToken": PUSH_TOKEN}
                ),
            }
            result["observer_login_ok"] = bool(login.get("ok"))
            async with httpx.AsyncClient(timeout=10) as http:
                await push(http, kuma, "up")  # the push monitor's first beat
            await asyncio.sleep(HTTP_INTERVAL_SECONDS + 1)  # and the HTTP monitor's

            health, first = await live.socket_health(live.KumaSignIn(kuma.url, USERNAME, PASSWORD))
            result["test_connection"] = {
                "status": health.status,
                "version": health.version,
                "monitor_count": health.monitor_count,
                "response_time_ms": health.response_time_ms,
                "statuses": {m.name: m.status for m in first.monitors.values()} if first else None,
                "version_matches_package_json": health.version == kuma.version,
            }
            result["refusals"] = await refusals(kuma, observer)
            result["polling"] = await polling_sources(kuma, observer, ids)
            result["auth_disabled"] = await auth_disabled(kuma, observer)

            watched = Watched(kuma.url)
            runner = asyncio.create_task(watched.link.run())
            try:
                result["link_sign_in_seconds"] = round(await watched.wait_state("live", 30), 3)
                result["flips"] = await flips(kuma, target, observer, watched, ids, n)
                result["list_updates"] = await list_updates(observer, watched)
                await observer.sio.disconnect()
                result["restart"] = await restart(kuma, watched)
                result["statuses_after_restart"] = {
                    m.name: m.status for m in watched.link.monitors.values()
                }
            finally:
                await watched.link.stop()
                await runner
            if with_browser:
                result["browser"] = await browser_path(kuma, root, n, observer.api_key)
        finally:
            await asyncio.to_thread(kuma.stop)
            target.shutdown()
            result["kuma_log_errors"] = [
                line
                for line in kuma.log.read_text(errors="replace").splitlines()
                if "ERROR" in line and "Cannot find" not in line
            ][-10:]
    return result


def verdict(result: dict[str, Any]) -> list[str]:
    """What did not hold, in words; empty when all did."""
    failed = []
    if not result["test_connection"]["version_matches_package_json"]:
        failed.append("the reported version is not package.json's")
    if not result["refusals"]["ok"]:
        failed.append("a refusal was not told apart")
    expected = result["test_connection"]["statuses"]
    for source in ("metrics", "status_page"):
        if result["polling"][source]["monitors"] != expected:
            failed.append(f"the {source} source saw other statuses than the socket")
    if result["auth_disabled"]["signed_in_by"] != "auto":
        failed.append("the link did not take Kuma's autoLogin")
    restart_figures = result["restart"]
    if restart_figures["password_logins_after_restart"] != 0:
        failed.append("the link signed in with the password after a restart")
    if restart_figures["token_logins_after_restart"] < 1:
        failed.append("the link did not use loginByToken after a restart")
    if result["flips"]["heartbeat_time_to_link"]["max_ms"] > 1000:
        failed.append("a heartbeat took over a second to reach the link")
    return failed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/real-kuma-check", description=__doc__)
    parser.add_argument("kuma_dir", type=Path, help="an Uptime Kuma checkout, npm-installed")
    parser.add_argument("--flips", type=int, default=10)
    parser.add_argument("--browser", action="store_true", help="also via a served MediaNest")
    args = parser.parse_args(argv)
    configure_logging(level="INFO", fmt="console")  # on stderr: stdout is the JSON
    kuma_dir = args.kuma_dir.resolve()
    if not (kuma_dir / "server" / "server.js").exists() or not (kuma_dir / "node_modules").exists():
        parser.error(f"{kuma_dir} is not an npm-installed Uptime Kuma checkout")
    result = asyncio.run(check(kuma_dir, args.flips, args.browser))
    failed = verdict(result)
    result["failed"] = failed
    print(json.dumps(result, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
