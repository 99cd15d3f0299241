"""Plex is down when a download completes: its files are on disk, its delivery failed
("Downloaded, but the Plex collection was not updated: …") and waits. When Plex answers
again, the status monitor's round sees it up and the delivery is made at once — not a
sweep period later (the period here is an hour, so only Plex coming back can deliver it
within the test). A delivery waiting for a share is not tried again because Plex came
back: only a share change mends it. Two instances and two `medianest worker` processes
deliver it once.

Plex is down as a down Plex looks from outside: the simulator answers 503 to everything
(its fault control), so the monitor records it offline and every delivery call fails."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.dashboard.models import ServiceStatus
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.worker import run_standalone
from medianest.youtube.jobs import redelivery
from medianest.youtube.models import YoutubeDownload
from medianest_simulators import PlexSimulator, PlexTvSimulator
from medianest_simulators.media_server import MediaServerSimulator
from medianest_simulators.plex_library import YOUTUBE_SECTION
from medianest_simulators.plextv_models import ALICE_SERVER_TOKEN
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import all_finished, wait_for
from tests.youtube_extras.test_redelivery import NOT_DELIVERED, a_download_left_undelivered

# The status monitor and the sweep run (`housekeeping`): the monitor is what sees Plex.
pytestmark = pytest.mark.housekeeping

SWEEP_PERIOD = 3600.0  # far beyond the test's waits: the old retry cannot deliver in time
NOT_UPDATED = "Downloaded, but the Plex collection was not updated"


@pytest.fixture
def shares(plex_shares: PlexTvSimulator) -> PlexTvSimulator:
    return plex_shares


@pytest.fixture
def plex_back_settings(extras_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    def factory(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "plex_audience_refresh_seconds": SWEEP_PERIOD,
            "health_check_interval_seconds": 0.5,
            "breaker_reset_seconds": 1.0,  # a client's breaker lets Plex be tried soon
        }
        return extras_settings(**values | overrides)

    return factory


@pytest.fixture
def settings(plex_back_settings: Callable[..., Settings]) -> Settings:
    """The `app` fixture's (its monitor runs too, and may hold the monitor's lease)."""
    return plex_back_settings()


async def plex_seen(app: MediaNestApp, status: str, *, timeout: float = 30.0) -> None:
    """Until the status monitor has recorded Plex as `status`."""
    deadline = time.monotonic() + timeout
    seen: str | None = None
    while time.monotonic() < deadline:
        async with session_scope(app.ctx.session_factory) as session:
            seen = await session.scalar(
                select(ServiceStatus.status).where(ServiceStatus.service_name == "plex")
            )
        if seen == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the monitor never recorded Plex {status} (last: {seen})")


async def a_download_plex_could_not_take(
    app: MediaNestApp, admin: User, plex: PlexSimulator, media: MediaServerSimulator
) -> YoutubeDownload:
    """Plex goes down; the owner's download completes on disk, its delivery failed and
    due only a sweep period later."""
    plex.set_fault("unavailable")  # 503 to every request, the health check's too
    await plex_seen(app, "offline")
    async with await signed_in_client(app, admin) as client:
        answer = await client.post(
            "/api/youtube/download", json={"url": media.feed_url(), "delivery": "collection"}
        )
        assert answer.status_code == 201, answer.text
    rows = await wait_for(app, all_finished(1), user_id=admin.id)
    row = rows[0]
    assert row.status == "completed" and row.plex_pending, (row.status, row.error)
    assert (row.error or "").startswith(NOT_UPDATED), row.error
    assert row.plex_due_at is not None
    assert row.plex_due_at > utcnow() + timedelta(seconds=SWEEP_PERIOD / 2)
    return row


def delivered(download_id: uuid.UUID) -> Callable[[list[YoutubeDownload]], bool]:
    def condition(rows: list[YoutubeDownload]) -> bool:
        row = next(r for r in rows if r.id == download_id)
        return not row.plex_pending and row.error is None

    return condition


def in_its_collection(plex: PlexSimulator, row: YoutubeDownload) -> bool:
    """Every item of the download is in its collection once, as the owner's Plex lists it
    (Plex titles an item after its file)."""
    assert row.plex_collection_id is not None
    keys = plex.collection_items(int(row.plex_collection_id))
    titles = sorted(str((plex.item(key) or {}).get("title")) for key in keys)
    files = sorted(Path(item.file or "").stem for item in row.items)
    return bool(files) and titles == files


def asked_with_alices_token(plex: PlexSimulator, since: float) -> int:
    """Plex requests made with alice's token since `since`: a delivery of hers asks Plex
    for her libraries with it (uncached), so a try of it shows here."""
    return sum(
        1
        for r in plex.requests()
        if r.at >= since and r.headers.get("x-plex-token") == ALICE_SERVER_TOKEN
    )


async def test_plex_back_up_delivers_what_failed_while_it_was_down_and_not_what_waits_for_a_share(
    app_factory: Callable[..., Any],
    plex_back_settings: Callable[..., Settings],
    shares: PlexTvSimulator,
    admin: User,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    """The embedded mode: the monitor and the download workers in one app."""
    app: MediaNestApp = await app_factory(plex_back_settings(run_worker_in_process=True))
    await plex_seen(app, "online")
    # Alice's subscription download waits for the owner to share the library with her.
    async with await signed_in_client(app, alice) as client:
        waiting = (await a_download_left_undelivered(app, client, shares, media, alice=alice))[1]
    assert waiting.plex_due_at is None
    failed = await a_download_plex_could_not_take(app, admin, plex, media)

    plex.clear_fault()  # Plex is back; the monitor's next round sees it
    back_at = time.time()
    rows = await wait_for(app, delivered(failed.id), user_id=admin.id)
    assert in_its_collection(plex, rows[0])

    # Every due delivery has been looked at (one more look finds nothing), and alice's was
    # not among them: not due, never asked for, its note as it was.
    assert await redelivery.deliver_due(app.ctx, _ignore) == 0
    mine = await wait_for(app, all_finished(2), user_id=alice.id)
    assert mine[1].id == waiting.id and mine[1].plex_pending and mine[1].plex_due_at is None
    assert mine[1].error == waiting.error and (mine[1].error or "").startswith(NOT_DELIVERED)
    assert asked_with_alices_token(plex, back_at) == 0


async def test_two_instances_and_two_worker_processes_deliver_it_once(
    app_factory: Callable[..., Any],
    settings: Settings,
    app: MediaNestApp,
    admin: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    """`serve` twice (each with its monitor; one holds the lease, the other checks on a
    Refresh) and two `medianest worker` processes that run the downloads: nothing shared
    but the database (on SQLite no Redis)."""
    first = app
    second: MediaNestApp = await app_factory(settings)
    stop = asyncio.Event()
    workers = [asyncio.create_task(run_standalone(settings, stop=stop)) for _ in range(2)]
    try:
        failed = await a_download_plex_could_not_take(first, admin, plex, media)
        plex.clear_fault()
        back_at = time.time()
        # Both instances see Plex back at the same moment: the lease holder's round and
        # the other's Refresh (`check_now`) each publish the change.
        async with await signed_in_client(second, admin) as client:
            refreshed = await client.post("/api/dashboard/refresh")
            assert refreshed.status_code == 200, refreshed.text
        rows = await wait_for(first, delivered(failed.id), user_id=admin.id)
        await plex_seen(first, "online")
        # Later rounds and worker turns add nothing.
        await asyncio.sleep(2.0)
    finally:
        stop.set()
        await asyncio.gather(*workers)
    assert in_its_collection(plex, rows[0])
    # One delivery made it: each asks Plex to scan the download's folder once.
    scans = plex.requests(f"/library/sections/{YOUTUBE_SECTION}/refresh")
    assert len([r for r in scans if r.at >= back_at]) == 1
    rows = await wait_for(first, delivered(failed.id), user_id=admin.id)
    assert rows[0].plex_due_at is None and rows[0].plex_claimed_until is None


async def test_a_worker_whose_breaker_is_still_open_leaves_it_due_and_delivers_it_once_it_asks(
    settings: Settings,
    app: MediaNestApp,
    admin: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
) -> None:
    """A `medianest worker` process whose own circuit breaker for Plex opened on the failed
    delivery (one failure opens it here) hears of Plex back from `serve`'s monitor before
    that breaker lets a call through: a delivery it took then would be refused without
    reaching Plex and wait a whole sweep period. It leaves it due, and its breaker's
    probe, once the reset time is over, is the delivery."""
    reset = 12.0
    worker_settings = settings.model_copy(
        update={"breaker_min_volume": 1, "breaker_reset_seconds": reset}
    )
    stop = asyncio.Event()
    worker = asyncio.create_task(run_standalone(worker_settings, stop=stop))
    try:
        failed = await a_download_plex_could_not_take(app, admin, plex, media)
        plex.clear_fault()
        await plex_seen(app, "online")  # marked due now, with the worker's breaker open
        rows = await wait_for(app, delivered(failed.id), user_id=admin.id, timeout=reset + 30)
    finally:
        stop.set()
        await worker
    assert in_its_collection(plex, rows[0])


async def _ignore(user_id: str, event: str, data: dict[str, Any]) -> None:
    """Nobody's page is open here."""
