"""Each event site writes its notification in its own transaction: downloads that end
(with a link to their Plex collection or playlist), the YouTube queue breaker opening and
resuming, services going down and coming back, yt-dlp growing old, a nearly used quota,
a refused Plex account and a failed backup — for the owner, or for every admin."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import unquote

import pytest
from sqlalchemy import select

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.dashboard.monitor import StatusMonitor
from medianest.dashboard.service import CheckOutcome, current_status
from medianest.db.engine import session_scope
from medianest.limits import quotas
from medianest.notifications import checks, hooks
from medianest.notifications.models import Notification
from medianest.settings import Settings
from medianest.youtube.jobs import pushback
from medianest.youtube.jobs.queue import JobQueue
from medianest.youtube.models import DownloadStatus, YoutubeDownload
from medianest_simulators import PlexSimulator
from tests.factories.users import prepare_bootstrap_admin


async def notifications_of(app: MediaNestApp, user: User) -> list[Notification]:
    async with session_scope(app.ctx.session_factory) as session:
        rows = await session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.created_at)
        )
        return list(rows)


async def wait_link(app: MediaNestApp, notification_id: uuid.UUID) -> str:
    async with asyncio.timeout(5):
        while True:
            async with session_scope(app.ctx.session_factory) as session:
                row = await session.get(Notification, notification_id)
                if row is not None and row.link:
                    return row.link
            await asyncio.sleep(0.05)


async def claimed_job(
    app: MediaNestApp, user: User, *, delivery: str = "collection"
) -> YoutubeDownload:
    async with session_scope(app.ctx.session_factory) as session:
        job = YoutubeDownload(
            user_id=user.id,
            url="https://www.youtube.com/playlist?list=PLx",
            title="Blender shorts",
            status=DownloadStatus.PROCESSING,
            claimed_by="worker-1",
            delivery=delivery,
        )
        session.add(job)
    return job


async def test_a_finished_download_notifies_its_owner_with_its_plex_collection(
    app: MediaNestApp, alice: User, plex: PlexSimulator
) -> None:
    job = await claimed_job(app, alice)
    queue = JobQueue(app.ctx.session_factory, app.ctx.settings, worker_id="worker-1")
    assert await queue.finish(job.id, status="completed", plex_collection_id="1001")
    (row,) = await notifications_of(app, alice)
    assert (row.event, row.title) == ("download.finished", "“Blender shorts” finished downloading")
    link = unquote(await wait_link(app, row.id))
    assert link.endswith(f"/server/{plex.machine_identifier}/details?key=/library/collections/1001")


async def test_a_private_playlist_download_links_to_its_playlist_and_a_failure_says_why(
    app: MediaNestApp, alice: User, plex: PlexSimulator
) -> None:
    queue = JobQueue(app.ctx.session_factory, app.ctx.settings, worker_id="worker-1")
    done = await claimed_job(app, alice, delivery="playlist")
    async with session_scope(app.ctx.session_factory) as session:
        (await session.get(YoutubeDownload, done.id)).plex_playlist_id = "3001"  # type: ignore[union-attr]
    await queue.finish(done.id, status="completed")
    failed = await claimed_job(app, alice)
    await queue.finish(failed.id, status="failed", error="Video unavailable")
    # A retry is not an ending: nothing for it.
    retried = await claimed_job(app, alice)
    await queue.finish(retried.id, status="queued", error="HTTP 500")
    finished, gone = await notifications_of(app, alice)
    assert "/playlist?key=/playlists/3001" in unquote(await wait_link(app, finished.id))
    assert (gone.event, gone.body) == ("download.failed", "Video unavailable")


async def test_the_queue_breaker_opening_and_resuming_notifies_the_admins_once_each(
    app: MediaNestApp, admin: User, alice: User
) -> None:
    settings = app.ctx.settings
    for _ in range(settings.youtube_breaker_threshold + 2):
        await pushback.record_outcome(app.ctx.session_factory, settings, "http_429")
    async with session_scope(app.ctx.session_factory) as session:
        await pushback.close(session)  # an admin ends the pause
    await pushback.record_outcome(app.ctx.session_factory, settings, None)  # downloads again
    events = [
        (n.event, n.title)
        for n in await notifications_of(app, admin)
        if n.event.startswith("youtube.")
    ]
    assert events == [
        ("youtube.breaker_opened", "YouTube is refusing downloads: the queue is paused"),
        ("youtube.breaker_closed", "YouTube downloads resumed"),
    ]
    assert await notifications_of(app, alice) == []


@pytest.mark.housekeeping
async def test_a_service_going_down_and_coming_back_notifies_the_admins(
    app_factory: Callable[[Settings], Any], settings: Settings
) -> None:
    # One check at start, then none for an hour: the statuses below are the only news.
    app: MediaNestApp = await app_factory(
        settings.model_copy(update={"health_check_interval_seconds": 3600})
    )
    admin = await prepare_bootstrap_admin(app)
    async with asyncio.timeout(10):
        while not all(e.last_check_at for e in await current_status(app.ctx)):
            await asyncio.sleep(0.05)
    assert await notifications_of(app, admin) == []  # a healthy start says nothing
    monitor = StatusMonitor(app.ctx)
    await monitor.record([CheckOutcome("overseerr", "offline", error="refused")])
    await monitor.record([CheckOutcome("overseerr", "offline", error="refused")])
    await monitor.record([CheckOutcome("overseerr", "online")])
    titles = [n.title for n in await notifications_of(app, admin)]
    assert titles == ["Overseerr is down", "Overseerr is back (online)"]


async def test_an_old_yt_dlp_is_reported_once_per_version(app: MediaNestApp, admin: User) -> None:
    today = date(2026, 12, 4)
    assert not await checks.check_ytdlp(app.ctx, version="2026.11.20", today=today)
    assert await checks.check_ytdlp(app.ctx, version="2026.10.01", today=today)
    assert await checks.check_ytdlp(app.ctx, version="2026.10.01", today=today)
    titles = [n.title for n in await notifications_of(app, admin) if n.event == "ytdlp.outdated"]
    assert titles == ["yt-dlp 2026.10.01 is 64 days old"]


async def test_a_nearly_used_request_quota_warns_once_per_window(
    app: MediaNestApp, alice: User
) -> None:
    from medianest.media.models import MediaRequest

    async with session_scope(app.ctx.session_factory) as session:
        await quotas.save_config(
            session, quotas.QuotaConfig(user=quotas.RoleQuotas(media_requests_per_week=5))
        )
        for n in range(4):
            session.add(
                MediaRequest(user_id=alice.id, title=f"t{n}", media_type="movie", tmdb_id=n)
            )
        await session.flush()
        await hooks.quota_nearly_used(session, user_id=alice.id)
        await hooks.quota_nearly_used(session, user_id=alice.id)
    (row,) = await notifications_of(app, alice)
    assert row.event == "quota.nearly_used"
    assert row.title == "You have used 80% of your media requests for this week"


async def test_a_refused_plex_account_and_a_failed_backup_reach_the_admins(
    app: MediaNestApp, admin: User
) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        await hooks.sign_in_refused(session, reason="PLEX_NO_SERVER_ACCESS")
    await asyncio.to_thread(checks.record_backup_failure, app.ctx.settings, "disk full")
    rows = await notifications_of(app, admin)
    assert [(n.event, n.body) for n in rows] == [
        (
            "signin.refused",
            "Reason: PLEX_NO_SERVER_ACCESS. See the audit log for when and from where.",
        ),
        ("backup.failed", "disk full"),
    ]
