"""A separately run download worker (`medianest worker`) shows in `/api/health` by its
heartbeat: ok while it beats, degraded (503) once the heartbeat is stale; the web
process's own health (`/api/health/app`, the container check) does not depend on it;
`medianest worker-health` (the compose worker's healthcheck) reads the heartbeat file."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from medianest.app import MediaNestApp
from medianest.cli import app as cli_app
from medianest.settings import Settings
from medianest.worker import run_standalone
from medianest.youtube.jobs.heartbeat import heartbeat_file
from tests.factories.users import make_client


async def _worker_check(app: MediaNestApp) -> tuple[int, dict[str, Any]]:
    async with make_client(app) as client:
        response = await client.get("/api/health")
    return response.status_code, response.json()["data"]["checks"]["worker"]


@pytest.mark.housekeeping
async def test_a_separate_workers_heartbeat_is_part_of_health_and_goes_stale(
    app_factory: Callable[[Settings], Any], make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(worker_heartbeat_seconds=0.2, worker_stale_seconds=1.5)
    app = await app_factory(settings)
    status, worker = await _worker_check(app)
    assert (status, worker["status"]) == (200, "disabled")
    assert "no download worker" in worker["error"]

    stop = asyncio.Event()
    running = asyncio.create_task(run_standalone(settings, stop=stop))
    try:
        deadline = time.monotonic() + 15
        while (await _worker_check(app))[1]["status"] != "ok" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert await _worker_check(app) == (200, {"status": "ok", "latencyMs": None, "error": None})
    finally:
        stop.set()
        await running

    await asyncio.sleep(2.0)  # longer than worker_stale_seconds
    status, worker = await _worker_check(app)
    assert status == 503 and worker["status"] == "error"
    assert "no download worker heartbeat for" in worker["error"]
    async with make_client(app) as client:
        own = await client.get("/api/health/app")
    assert own.status_code == 200 and "worker" not in own.json()["data"]["checks"]


def test_the_worker_health_command_reads_the_heartbeat_file(
    monkeypatch: Any, tmp_path: Any
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("MEDIANEST_WORKER_STALE_SECONDS", "5")
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    runner = CliRunner()
    assert runner.invoke(cli_app, ["worker-health"]).exit_code == 1  # never beat
    heartbeat_file().touch()
    assert runner.invoke(cli_app, ["worker-health"]).exit_code == 0
    old = time.time() - 60
    os.utime(heartbeat_file(), (old, old))
    result = runner.invoke(cli_app, ["worker-health"])
    assert result.exit_code == 1
    with contextlib.suppress(FileNotFoundError):
        heartbeat_file().unlink()
