"""`medianest worker` as a real process: killed with SIGKILL mid-download, its job is
picked up by the next worker (here, one in the test process) and completes; SIGTERM
hands a running job back at once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.worker import run_standalone
from medianest.youtube.models import YoutubeDownload
from medianest_simulators.media_server import MediaServerSimulator
from tests.youtube.conftest import files_under, finished, wait_for_download


def worker_env(settings: Settings, cwd: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("MEDIANEST_")}
    assert settings.encryption_key is not None and settings.session_secret is not None
    env.update(
        {
            "MEDIANEST_ENVIRONMENT": "test",
            "MEDIANEST_DATA_DIR": str(settings.data_dir),
            "MEDIANEST_DATABASE_URL": settings.resolved_database_url,
            "MEDIANEST_ENCRYPTION_KEY": settings.encryption_key.get_secret_value(),
            "MEDIANEST_SESSION_SECRET": settings.session_secret.get_secret_value(),
            "MEDIANEST_YOUTUBE_EXTRA_HOSTS": settings.youtube_extra_hosts,
            "MEDIANEST_YOUTUBE_LIBRARY_SECTION": settings.youtube_library_section or "",
            "MEDIANEST_DOWNLOAD_ROOT": str(settings.resolved_download_root),
            "MEDIANEST_DOWNLOAD_MIN_FREE_BYTES": "0",
            "MEDIANEST_WORKER_POLL_SECONDS": "0.5",
            "MEDIANEST_WORKER_HEARTBEAT_SECONDS": "0.5",
            "MEDIANEST_WORKER_STALE_SECONDS": "5",
            "MEDIANEST_DOWNLOAD_RETRY_BASE_SECONDS": "0",
            "MEDIANEST_PLEX_SCAN_WAIT_SECONDS": "5",
            "MEDIANEST_LOG_LEVEL": os.environ.get("MN_TEST_WORKER_LOG_LEVEL", "WARNING"),
        }
    )
    if settings.redis_url:
        env["MEDIANEST_REDIS_URL"] = settings.redis_url
    return env


class Workers:
    def __init__(self, settings: Settings, cwd: Path) -> None:
        self.env = worker_env(settings, cwd)
        self.cwd = cwd
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        # The worker's log stays in the test's tmp dir for when a run needs explaining.
        with (self.cwd / f"worker-{len(self.processes)}.log").open("wb") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "medianest.cli", "worker"],
                env=self.env,
                cwd=self.cwd,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
        self.processes.append(process)
        return process

    def log_of(self, number: int) -> str:
        return (self.cwd / f"worker-{number}.log").read_text(errors="replace")[-4000:]

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.fixture
def workers(settings: Settings, tmp_path: Path) -> Iterator[Workers]:
    made = Workers(settings, tmp_path)
    yield made
    made.stop_all()


# A worker process needs a few seconds to start (much longer on a loaded machine).
STARTUP_TIMEOUT = 150.0


@pytest.mark.timeout(400)
async def test_a_killed_workers_job_is_resumed_by_another_worker(
    alice_client: httpx.AsyncClient,
    alice: User,
    media: MediaServerSimulator,
    workers: Workers,
    settings: Settings,
    download_root: Path,
) -> None:
    media.set_throttle(6_000)  # each ~27 kB clip takes about five seconds
    response = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    download_id = response.json()["data"]["id"]
    first = workers.start()

    running = await wait_for_download(
        alice_client,
        download_id,
        lambda d: d["status"] == "downloading" and d["progress"] > 0,
        timeout=STARTUP_TIMEOUT,
    )
    assert running["attempts"] == 1
    first.send_signal(signal.SIGKILL)
    await asyncio.to_thread(first.wait, 10)
    media.set_throttle(None)

    # The next worker runs in the test process (a process start costs ~2 s of CPU): what
    # this proves is that the killed process's job is taken over, not how the next starts.
    stop = asyncio.Event()
    resumer = asyncio.create_task(run_standalone(settings, stop=stop))
    try:
        data = await wait_for_download(alice_client, download_id, finished, timeout=STARTUP_TIMEOUT)
    finally:
        stop.set()
        await resumer
    assert data["status"] == "completed", data
    assert data["attempts"] == 2
    assert data["completedItems"] == 3
    names = [p.name for p in files_under(download_root / str(alice.id))]
    assert names == ["001 - Clip One.mp4", "002 - Clip Two.mp4", "003 - Clip Three.mp4"]


@pytest.mark.timeout(400)
async def test_a_stopped_worker_hands_its_running_job_back_at_once(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    media: MediaServerSimulator,
    workers: Workers,
    download_root: Path,
) -> None:
    media.set_throttle(4_000)
    response = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    download_id = response.json()["data"]["id"]
    process = workers.start()
    await wait_for_download(
        alice_client,
        download_id,
        lambda d: d["progress"] > 0 and d["status"] == "downloading",
        timeout=STARTUP_TIMEOUT,
    )
    process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(process.wait, 60) == 0

    # The stored row at once (no other worker runs, so no stale-heartbeat recovery can
    # have done it) ...
    async with session_scope(app.ctx.session_factory) as session:
        stored = await session.get(YoutubeDownload, uuid.UUID(download_id))
    assert stored is not None
    assert stored.status == "queued", workers.log_of(0)
    assert stored.claimed_by is None
    # ... and the API within the age limit of its kept answers: on SQLite without Redis
    # another process's commit can land unseen between one of this app's commits and
    # its look at the file (core/data_changes.py), and a kept answer lives 3 s at most.
    data = await wait_for_download(
        alice_client,
        download_id,
        lambda d: d["status"] == "queued",
        timeout=app.ctx.settings.response_cache_seconds + 5,
    )
    assert data["attempts"] == 0  # a restart does not use up an attempt
    assert not any(p.suffix == ".part" for p in files_under(download_root))
