"""Loopback simulators of the services MediaNest talks to (plex.tv, Plex Media Server,
Overseerr, Uptime Kuma) and a media host for yt-dlp, for tests and `medianest demo`."""

from medianest.simulators.media_server import MediaServerSimulator, ensure_clips
from medianest.simulators.overseerr import OverseerrSimulator
from medianest.simulators.plex import PlexSimulator
from medianest.simulators.plextv import PlexTvSimulator
from medianest.simulators.server import FaultState, RequestLog, SimulatorServer
from medianest.simulators.suite import SimulatorSuite, SuiteInfo, run_suite_forever
from medianest.simulators.uptime_kuma import UptimeKumaSimulator

__all__ = [
    "FaultState",
    "MediaServerSimulator",
    "OverseerrSimulator",
    "PlexSimulator",
    "PlexTvSimulator",
    "RequestLog",
    "SimulatorServer",
    "SimulatorSuite",
    "SuiteInfo",
    "UptimeKumaSimulator",
    "ensure_clips",
    "run_suite_forever",
]
