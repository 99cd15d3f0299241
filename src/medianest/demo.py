"""`medianest demo`: the portal plus every simulator, configured to use them.

A newcomer sees every feature without owning a Plex server: sign-in through a simulated
plex.tv, a Plex library, Overseerr requests, Uptime Kuma monitors and YouTube downloads
from a loopback media host. Everything lives in its own data directory (SQLite, no
Redis), so a demo never touches a real installation.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete

from medianest.core.crypto import SecretBox
from medianest.core.secrets_store import load_app_secrets
from medianest.db.engine import create_engine, create_session_factory, session_scope
from medianest.integrations.models import ServiceConfig
from medianest.integrations.service_store import password_context, seed_rows
from medianest.settings import Settings
from medianest_simulators.suite import SimulatorSuite, SuiteInfo

DEFAULT_DATA_DIR = Path("./data-demo")
# A request in the demo is approved this many seconds after it is made, and the title
# becomes available this many seconds later: long enough to watch, short enough to wait.
DEMO_APPROVE_AFTER_SECONDS = 15.0
DEMO_AVAILABLE_AFTER_SECONDS = 30.0
# The simulated Kuma's monitors check (and beat) this often, as a real Kuma's do: 20 s is
# Kuma 1.23's minimum interval (src/util.ts MIN_INTERVAL_SECOND), so the dashboard's data
# age stays fresh as at a real home (docs/uptime-kuma-real.md, "The heartbeat stream").
DEMO_KUMA_BEAT_SECONDS = 20.0


def bring_to_life(
    suite: SimulatorSuite,
    *,
    approve_after: float = DEMO_APPROVE_AFTER_SECONDS,
    available_after: float = DEMO_AVAILABLE_AFTER_SECONDS,
    kuma_beat: float | None = DEMO_KUMA_BEAT_SECONDS,
) -> None:
    """Let the simulated Overseerr move new requests along by itself, as a real one whose
    admin approves and whose downloader finishes would; the simulated Kuma's monitors beat
    every `kuma_beat` seconds (None: only when flipped)."""
    suite.overseerr.set_auto_progress(approve_after, available_after)
    if kuma_beat is not None:
        suite.uptime_kuma.start_beating(kuma_beat)


def demo_overrides(info: SuiteInfo, *, data_dir: Path, host: str, port: int) -> dict[str, Any]:
    """Settings that point the portal at the simulators (and away from any real storage)."""
    return {
        "environment": "development",
        "data_dir": data_dir,
        "database_url": "",  # empty = the demo's own SQLite file
        "redis_url": "",
        "host": host,
        "port": port,
        "public_url": f"http://{host}:{port}",
        "plex_tv_url": info.plex_tv_url,
        "plex_app_url": info.plex_app_url,
        "plex_url": info.plex_url,
        "plex_token": info.plex_owner_token,
        "overseerr_url": info.overseerr_url,
        "overseerr_api_key": info.overseerr_api_key,
        "uptime_kuma_url": info.uptime_kuma_url,
        "uptime_kuma_api_key": info.uptime_kuma_api_key,
        "uptime_kuma_status_page": info.uptime_kuma_status_page,
        "youtube_extra_hosts": urlsplit(info.media_url).netloc,
        "download_root": Path(info.youtube_dir),
        # Overseerr tells the portal about request changes at once (see connect_webhook).
        "overseerr_webhook_secret": secrets.token_urlsafe(24),
        # Everything in the demo lives on loopback, notification receivers too.
        "notifications_allow_private_hosts": True,
    }


def connect_webhook(suite: SimulatorSuite, settings: Settings) -> None:
    """Point the simulated Overseerr's webhook at the portal, as an admin would in
    Overseerr's settings: a request made available shows up (and notifies) at once."""
    secret = settings.overseerr_webhook_secret
    suite.overseerr.set_webhook(
        f"http://{settings.host}:{settings.port}/api/webhooks/overseerr",
        secret.get_secret_value() if secret else None,
    )


async def point_services_at_simulators(settings: Settings, info: SuiteInfo) -> None:
    """Replace the saved service configuration: the simulators get new ports every run.
    Uptime Kuma uses its live source (the simulated account), the API key as fallback."""
    secrets = load_app_secrets(settings)
    box = SecretBox(secrets.encryption_key, secrets.previous_encryption_keys)
    engine = create_engine(settings.resolved_database_url)
    try:
        async with session_scope(create_session_factory(engine)) as session:
            await session.execute(delete(ServiceConfig))
            rows = seed_rows(settings, box)
            for row in rows:
                if row.service_name == "uptime_kuma":
                    _use_live_kuma(row, info, box)
            session.add_all(rows)
    finally:
        await engine.dispose()


def _use_live_kuma(row: ServiceConfig, info: SuiteInfo, box: SecretBox) -> None:
    row.config_data = {
        **row.config_data,
        "source": "socket",
        "username": info.uptime_kuma_username,
    }
    row.password = box.encrypt(info.uptime_kuma_password, context=password_context("uptime_kuma"))


def prepare_demo(settings: Settings, info: SuiteInfo) -> None:
    asyncio.run(point_services_at_simulators(settings, info))


def banner(settings: Settings, info: SuiteInfo) -> str:
    url = f"http://{settings.host}:{settings.port}"
    return "\n".join(
        [
            "",
            f"MediaNest demo running at {url}",
            "",
            "Sign in either way:",
            "  - admin / admin (you will be asked to choose a new password), or",
            "  - 'Sign in with Plex': the simulated plex.tv page opens; pick plexowner,",
            "    alice, bob or carol (in the owner's Plex Home, the libraries shared with",
            "    her) and press Sign In",
            "    (eve has no access to the server).",
            "",
            f"Simulated plex.tv: {info.plex_tv_url}   Plex: {info.plex_url}",
            f"Overseerr: {info.overseerr_url}",
            f"Uptime Kuma: {info.uptime_kuma_url}   media host for YouTube URLs: {info.feed_url}",
            f"Data (SQLite, downloads): {settings.data_dir.resolve()}",
            "",
            f"New requests are approved after {DEMO_APPROVE_AFTER_SECONDS:g} s and become "
            f"available {DEMO_AVAILABLE_AFTER_SECONDS:g} s later. To change the pace or make a",
            "service fail, use the simulators' controls (README, 'Trying it: the demo'):",
            f"  curl -X POST {info.overseerr_url}/__sim/auto-progress "
            """-d '{"approveAfter": 2, "availableAfter": 5}'""",
            f'  curl -X POST {info.plex_url}/__sim/fault -d \'{{"mode": "unavailable"}}\'',
            f"  curl -X DELETE {info.plex_url}/__sim/fault",
            "Uptime Kuma is live: flip a monitor and the dashboard shows it within a second:",
            f"""  curl -X POST {info.uptime_kuma_url}/__sim/monitors/Plex -d '{{"status": "down"}}'""",
            "Press Ctrl+C to stop.",
            "",
        ]
    )
