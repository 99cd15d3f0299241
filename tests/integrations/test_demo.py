"""`medianest demo` in a real subprocess: the portal comes up healthy, pointed at the
simulators (a Plex PIN's auth URL is the simulated plex.tv), and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.http import sync_http_client
from tests.support.servers import free_port, wait_for_health

pytestmark = pytest.mark.timeout(90)


def wait_healthy(url: str, process: subprocess.Popen[str], timeout: float = 60.0) -> None:
    if wait_for_health(url, process=process, timeout=timeout, interval=0.3):
        return
    if process.poll() is not None:
        raise AssertionError(f"demo exited early with {process.returncode}")
    raise AssertionError("demo did not become healthy")


def test_the_demo_starts_the_portal_against_the_simulators_and_stops_on_sigterm(
    tmp_path: Path,
):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "demo.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "medianest.cli",
                "demo",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "demo"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        try:
            wait_healthy(url, process)
            pin = httpx.post(f"{url}/api/auth/plex/pin", timeout=10)
            output = log_path.read_text()
        finally:
            process.send_signal(signal.SIGTERM)
            exit_code = process.wait(timeout=30)

    assert f"MediaNest demo running at {url}" in output
    assert "admin / admin" in output
    assert pin.status_code == 201
    auth_url = pin.json()["data"]["authUrl"]
    plextv = re.search(r"Simulated plex.tv: (\S+)", output)
    assert plextv is not None and auth_url.startswith(plextv.group(1) + "/auth/#!?")
    loaded = [
        json.loads(line)
        for line in output.splitlines()
        if line.startswith("{") and '"integrations_loaded"' in line
    ]
    assert loaded and loaded[0]["services"]["uptime_kuma"] is True
    # Uvicorn shuts down gracefully, then re-raises the signal it caught (exit by SIGTERM).
    assert exit_code in (0, -signal.SIGTERM)


def test_the_demo_moves_a_new_request_to_approved_then_available_by_itself() -> None:
    from medianest import demo as demo_mode
    from medianest_simulators.suite import SimulatorSuite

    with SimulatorSuite() as suite:
        demo_mode.bring_to_life(suite, approve_after=0.3, available_after=0.3)
        overseerr = sync_http_client(
            base_url=suite.info.overseerr_url,
            headers={"X-Api-Key": suite.info.overseerr_api_key, "X-API-User": "2"},
            timeout=5,
        )
        created = overseerr.post("/api/v1/request", json={"mediaType": "movie", "mediaId": 358332})
        assert created.status_code == 201, created.text
        request_id = created.json()["id"]
        seen: list[tuple[int, int]] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            body = overseerr.get(f"/api/v1/request/{request_id}").json()
            state = (body["status"], body["media"]["status"])
            if not seen or seen[-1] != state:
                seen.append(state)
            if body["media"]["status"] == 5:  # available
                break
            time.sleep(0.05)
    # pending (1) -> approved (2), then the media becomes available (5)
    assert seen[0][0] == 1
    assert any(status == 2 for status, _ in seen)
    assert seen[-1][1] == 5, seen


def test_the_demo_banner_lists_its_controls() -> None:
    from medianest import demo as demo_mode
    from medianest.settings import Settings
    from medianest_simulators.plextv_models import MACHINE_IDENTIFIER
    from medianest_simulators.suite import SimulatorSuite

    with SimulatorSuite() as suite:
        text = demo_mode.banner(Settings(_env_file=None), suite.info)  # type: ignore[call-arg]
        assert f"{suite.info.overseerr_url}/__sim/auto-progress" in text
        assert f"{suite.info.plex_url}/__sim/fault" in text
        assert "become available" in text
        # Everyone the simulated plex.tv lets reach the server is offered, the owner's Plex
        # Home member too; the others are named as refused.
        plextv = suite.plextv
        server = plextv.servers[MACHINE_IDENTIFIER]
        sign_ins = text.split("'Sign in with Plex'", 1)[1].split("Simulated plex.tv:", 1)[0]
        offered, refused = sign_ins.split("(", 1)[0], sign_ins
        for name, account in plextv.accounts.items():
            if plextv._access_token(account, server) is not None:
                assert re.search(rf"\b{name}\b", offered), (name, sign_ins)
            else:
                assert f"{name} has no access" in refused, (name, sign_ins)


def test_everyone_the_demo_offers_for_plex_sign_in_can_request_in_its_overseerr() -> None:
    """Each account the simulated plex.tv lets reach the server (those the banner offers,
    carol in the owner's Plex Home included) is a user of the demo's Overseerr, or one its
    *Import Plex Users* creates (what MediaNest asks at their first request)."""
    from medianest_simulators.overseerr_plex_import import IMPORT_PATH
    from medianest_simulators.plextv_models import MACHINE_IDENTIFIER
    from medianest_simulators.suite import SimulatorSuite

    with SimulatorSuite() as suite:
        plextv, overseerr = suite.plextv, suite.overseerr
        server = plextv.servers[MACHINE_IDENTIFIER]
        offered = [a for a in plextv.accounts.values() if plextv._access_token(a, server)]
        assert {a.username for a in offered} >= {"plexowner", "alice", "bob", "carol"}
        with sync_http_client(base_url=suite.info.overseerr_url, timeout=10) as http:
            headers = {"X-Api-Key": suite.info.overseerr_api_key, "X-API-User": "1"}
            for account in offered:
                answer = http.post(
                    IMPORT_PATH, json={"plexIds": [str(account.id)]}, headers=headers
                )
                assert answer.status_code == 201, answer.text
                users = [u for u in overseerr.users.values() if u.plex_id == account.id]
                assert len(users) == 1, account.username
