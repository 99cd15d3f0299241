"""Loopback simulators of the services MediaNest talks to (plex.tv, Plex Media Server,
Overseerr, Uptime Kuma) and a media host for yt-dlp, for tests and `medianest demo`."""

from medianest_simulators.media_server import MediaServerSimulator, ensure_clips
from medianest_simulators.overseerr import OverseerrSimulator
from medianest_simulators.plex import PlexSimulator
from medianest_simulators.plextv import PlexTvSimulator
from medianest_simulators.server import FaultState, RequestLog, SimulatorServer
from medianest_simulators.suite import SimulatorSuite, SuiteInfo, run_suite_forever
from medianest_simulators.uptime_kuma import UptimeKumaSimulator

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
