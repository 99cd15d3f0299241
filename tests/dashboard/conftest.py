"""Dashboard fixtures: simulators (started once, reset per test), apps served by uvicorn
with the simulators configured, signed-in session cookies and Socket.IO clients (the
shared ones: tests/support/served_apps.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from tests.support.served_apps import Storage, alice, bob, listeners, serve, storage_of

from medianest.settings import Settings
from medianest_simulators import OverseerrSimulator, PlexSimulator, UptimeKumaSimulator
from medianest_simulators.overseerr_data import API_KEY as OVERSEERR_API_KEY
from medianest_simulators.plextv_models import OWNER_TOKEN
from medianest_simulators.uptime_kuma import API_KEY as KUMA_API_KEY

__all__ = ["alice", "bob", "listeners", "serve"]  # the shared fixtures, for this directory

# Generous: a loaded CI machine must not turn a healthy simulator offline.
CHECK_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def sim_settings(
    make_settings: Callable[..., Settings],
    plex: PlexSimulator,
    overseerr: OverseerrSimulator,
    kuma: UptimeKumaSimulator,
) -> Settings:
    """Settings pointing at the simulators, with a fast monitor."""
    return make_settings(
        plex_url=plex.url,
        plex_token=OWNER_TOKEN,
        overseerr_url=overseerr.url,
        overseerr_api_key=OVERSEERR_API_KEY,
        uptime_kuma_url=kuma.url,
        uptime_kuma_api_key=KUMA_API_KEY,
        health_check_interval_seconds=0.25,
        health_check_timeout_seconds=CHECK_TIMEOUT_SECONDS,
        http_retry_attempts=1,
        breaker_min_volume=1000,  # every check reaches the simulator (no open breaker)
    )


@pytest.fixture
async def storage(sim_settings: Settings) -> AsyncIterator[Storage]:
    async with storage_of(sim_settings) as storage:
        yield storage
