"""The simulator suite: everything started together, wired and described."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx

from medianest_simulators import SimulatorSuite
from medianest_simulators.plextv_models import ALICE_TOKEN


def test_the_suite_starts_everything_quickly_and_wires_plex_tv_to_plex(tmp_path) -> None:
    started = time.monotonic()
    with SimulatorSuite(youtube_dir=tmp_path) as suite:
        elapsed = time.monotonic() - started
        info = suite.info
        resources = httpx.get(
            info.plex_tv_url + "/api/v2/resources", headers={"X-Plex-Token": ALICE_TOKEN}
        ).json()
        server = next(r for r in resources if r["clientIdentifier"] == info.plex_machine_identifier)
        sections = httpx.get(
            server["connections"][0]["uri"] + "/library/sections",
            headers={"X-Plex-Token": server["accessToken"], "Accept": "application/json"},
        )
        assert sections.status_code == 200
        env = info.env()
        assert env["MEDIANEST_PLEX_TOKEN"] == info.plex_owner_token
        assert env["MEDIANEST_YOUTUBE_EXTRA_HOSTS"] == info.media_url.removeprefix("http://")
        assert info.plex_owner_token not in json.dumps(info.public())
        assert info.overseerr_api_key not in json.dumps(info.public())
        assert info.youtube_dir == str(tmp_path)
        suite.overseerr.set_fault("error")
        suite.reset()
        status = httpx.get(info.overseerr_url + "/api/v1/status")
        assert status.status_code == 200
    assert elapsed < 1.0


def test_the_suite_runs_as_a_subprocess_and_prints_no_secrets() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "medianest_simulators", "--json"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        urls = json.loads(process.stdout.readline())
        assert "plex_owner_token" not in urls
        answer = httpx.get(urls["overseerr_url"] + "/api/v1/status", timeout=5)
        assert answer.status_code == 200
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
