"""YouTube fixtures: the loopback media server (real clips made with ffmpeg, an RSS
playlist yt-dlp's generic extractor reads) and the Plex simulator whose YouTube section
is this test's download root; settings that allow the media host, and helpers that wait
for a download to reach a state."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.settings import Settings
from medianest_simulators import PlexSimulator
from medianest_simulators.media_server import MediaServerSimulator
from medianest_simulators.plextv_models import OWNER_TOKEN
from tests.factories.users import signed_in_client


@pytest.fixture
def download_root(tmp_path: Path) -> Path:
    return tmp_path / "downloads"


@pytest.fixture
def plex(_plex_session: PlexSimulator, download_root: Path) -> PlexSimulator:
    _plex_session.reset()
    download_root.mkdir(parents=True, exist_ok=True)
    _plex_session.set_youtube_dir(download_root.resolve())
    return _plex_session


@pytest.fixture
def media_host(media: MediaServerSimulator) -> str:
    return urlsplit(media.url).netloc


@pytest.fixture
def youtube_settings(
    make_settings: Callable[..., Settings],
    media_host: str,
    plex: PlexSimulator,
    download_root: Path,
) -> Callable[..., Settings]:
    """Settings for download tests: the media host allowed, Plex configured, fast timers."""

    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "youtube_extra_hosts": media_host,
            "download_root": download_root,
            "download_min_free_bytes": 0,
            "plex_url": plex.url,
            "plex_token": OWNER_TOKEN,
            "youtube_library_section": "3",
            "worker_poll_seconds": 0.5,
            "worker_heartbeat_seconds": 0.5,
            "worker_stale_seconds": 5.0,
            "download_retry_base_seconds": 0.0,
            "plex_scan_wait_seconds": 5.0,
            "http_retry_attempts": 1,
            "rate_limit_api_per_minute": 100_000,  # the waits below poll the API often
        }
        values.update(overrides)
        return make_settings(**values)

    return factory


@pytest.fixture
def settings(youtube_settings: Callable[..., Settings]) -> Settings:
    """API tests: no workers, so submitted downloads stay queued."""
    return youtube_settings()


@pytest.fixture
async def worker_app(
    app_factory: Callable[[Settings], Any], youtube_settings: Callable[..., Settings]
) -> MediaNestApp:
    """An app running its download workers in-process (the embedded mode)."""
    started: MediaNestApp = await app_factory(youtube_settings(run_worker_in_process=True))
    return started


async def client_for(app: MediaNestApp, user: User) -> httpx.AsyncClient:
    return await signed_in_client(app, user)


async def wait_for_download(
    client: httpx.AsyncClient,
    download_id: str,
    until: Callable[[dict[str, Any]], bool],
    *,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Poll the API until the download satisfies `until`; returns its data."""
    deadline = time.monotonic() + timeout
    data: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"/api/youtube/downloads/{download_id}")
        assert response.status_code in (200, 404), response.text
        if response.status_code == 200:
            data = response.json()["data"]
            if until(data):
                return data
        await asyncio.sleep(0.1)
    raise AssertionError(f"download never reached the state; last seen: {data}")


def finished(data: dict[str, Any]) -> bool:
    return data["status"] in ("completed", "failed", "cancelled")


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())
