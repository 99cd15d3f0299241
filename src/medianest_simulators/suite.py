"""Start every simulator together (plex.tv, Plex, Overseerr, Uptime Kuma, media host) and
hand out their URLs and credentials; used by tests, e2e runs and `medianest demo`."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from medianest_simulators.media_server import MediaServerSimulator
from medianest_simulators.overseerr import OverseerrSimulator
from medianest_simulators.overseerr_data import API_KEY as OVERSEERR_API_KEY
from medianest_simulators.overseerr_plex_import import PlexConnection
from medianest_simulators.plex import PlexSimulator
from medianest_simulators.plextv import PlexTvSimulator
from medianest_simulators.plextv_models import MACHINE_IDENTIFIER, OWNER_TOKEN
from medianest_simulators.server import Running
from medianest_simulators.uptime_kuma import API_KEY as UPTIME_KUMA_API_KEY
from medianest_simulators.uptime_kuma import STATUS_PAGE_SLUG, UptimeKumaSimulator
from medianest_simulators.uptime_kuma_socket import SocketAccount

SECRET_FIELDS = (
    "plex_owner_token",
    "overseerr_api_key",
    "uptime_kuma_api_key",
    "uptime_kuma_password",
)


@dataclass(frozen=True)
class SuiteInfo:
    """Where the simulators listen and the credentials that open them."""

    plex_tv_url: str
    plex_app_url: str
    plex_url: str
    overseerr_url: str
    uptime_kuma_url: str
    media_url: str
    feed_url: str
    youtube_dir: str
    plex_owner_token: str
    plex_machine_identifier: str
    overseerr_api_key: str
    uptime_kuma_api_key: str
    uptime_kuma_status_page: str = STATUS_PAGE_SLUG
    # The simulated Kuma's account, for its live (Socket.IO) source.
    uptime_kuma_username: str = SocketAccount.username
    uptime_kuma_password: str = SocketAccount.password

    def settings_values(self) -> dict[str, str]:
        """`Settings` fields that point an app at the simulators."""
        return {
            "plex_tv_url": self.plex_tv_url,
            "plex_app_url": self.plex_app_url,
            "plex_url": self.plex_url,
            "plex_token": self.plex_owner_token,
            "overseerr_url": self.overseerr_url,
            "overseerr_api_key": self.overseerr_api_key,
            "uptime_kuma_url": self.uptime_kuma_url,
            "uptime_kuma_api_key": self.uptime_kuma_api_key,
            "youtube_extra_hosts": urlsplit(self.media_url).netloc,
        }

    def env(self) -> dict[str, str]:
        """MEDIANEST_* variables that point an app at the simulators."""
        return {
            f"MEDIANEST_{name.upper()}": value for name, value in self.settings_values().items()
        }

    def public(self) -> dict[str, str]:
        """Everything but the secrets (safe to print or log)."""
        return {k: v for k, v in asdict(self).items() if k not in SECRET_FIELDS}


class SimulatorSuite(Running):
    """All simulators; `start()` returns once every port accepts connections."""

    def __init__(
        self, *, youtube_dir: str | Path | None = None, ports: dict[str, int] | None = None
    ) -> None:
        ports = ports or {}
        self.plextv = PlexTvSimulator(port=ports.get("plextv", 0))
        self.plex = PlexSimulator(port=ports.get("plex", 0), youtube_dir=youtube_dir)
        self.overseerr = OverseerrSimulator(port=ports.get("overseerr", 0))
        self.uptime_kuma = UptimeKumaSimulator(port=ports.get("uptime_kuma", 0))
        self.media = MediaServerSimulator(port=ports.get("media", 0))
        self.all = (self.plextv, self.plex, self.overseerr, self.uptime_kuma, self.media)
        self._info: SuiteInfo | None = None

    @property
    def info(self) -> SuiteInfo:
        if self._info is None:
            raise RuntimeError("the simulator suite is not started")
        return self._info

    def start(self) -> Self:
        for sim in self.all:
            sim.start()
        self.plextv.set_server_url(self.plex.url)
        # Plex learns its shared users (their tokens and libraries) from plex.tv.
        self.plex.follow_plextv(self.plextv.server_share)
        # Overseerr set up with the owner's plex.tv account and server, as its setup does.
        self.overseerr.connect_plex(
            PlexConnection(self.plextv.url, OWNER_TOKEN, MACHINE_IDENTIFIER)
        )
        self._info = SuiteInfo(
            plex_tv_url=self.plextv.url,
            plex_app_url=self.plextv.url,
            plex_url=self.plex.url,
            overseerr_url=self.overseerr.url,
            uptime_kuma_url=self.uptime_kuma.url,
            media_url=self.media.url,
            feed_url=self.media.feed_url(),
            youtube_dir=self.plex.youtube_dir,
            plex_owner_token=OWNER_TOKEN,
            plex_machine_identifier=MACHINE_IDENTIFIER,
            overseerr_api_key=OVERSEERR_API_KEY,
            uptime_kuma_api_key=UPTIME_KUMA_API_KEY,
        )
        return self

    def stop(self) -> None:
        stoppers = [threading.Thread(target=sim.stop) for sim in self.all]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()

    def reset(self) -> None:
        """Restore every simulator's seeded state, clear faults and request logs."""
        for sim in self.all:
            sim.reset()


def run_suite_forever(
    *,
    youtube_dir: str | Path | None = None,
    ports: dict[str, int] | None = None,
    on_ready: Callable[[SuiteInfo], None] | None = None,
    print_json: bool = False,
    stop_event: threading.Event | None = None,
) -> None:
    """Serve the suite until Ctrl+C / SIGTERM (or `stop_event`); prints URLs, never secrets."""
    stop = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with SimulatorSuite(youtube_dir=youtube_dir, ports=ports) as suite:
        if print_json:
            print(json.dumps(suite.info.public()), flush=True)
        else:
            for name, value in suite.info.public().items():
                print(f"{name:>24}: {value}", file=sys.stderr, flush=True)
        if on_ready is not None:
            on_ready(suite.info)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
