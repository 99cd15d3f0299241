"""A yt-dlp older than the sites it reads: a page whose format changed under it fails
with yt-dlp's own "confirm you are on the latest version". That item fails in plain
words, the rest of the playlist downloads, the queue is not paused (no site is pushing
back), and the admins learn that yt-dlp needs updating, once per version."""

from __future__ import annotations

import importlib.metadata
from datetime import date

from sqlalchemy import select, update

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.notifications.models import Notification
from medianest.youtube.models import YoutubeDownload, YoutubeSubscription
from medianest.youtube.subscriptions.scheduler import SubscriptionScheduler
from medianest.youtube.ytdlp import freshness
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import wait_for

FINISHED = ("completed", "failed")


async def _admin_notices(app: MediaNestApp, admin: User) -> list[str]:
    async with session_scope(app.ctx.session_factory) as session:
        rows = await session.scalars(
            select(Notification.title)
            .where(Notification.user_id == admin.id, Notification.event == "ytdlp.outdated")
            .order_by(Notification.created_at)
        )
        return list(rows)


async def _finished(app: MediaNestApp, user: User) -> list[YoutubeDownload]:
    return await wait_for(
        app, lambda r: bool(r) and all(d.status in FINISHED for d in r), user_id=user.id
    )


async def test_a_page_yt_dlp_can_no_longer_read_fails_alone_and_the_admins_are_told(
    worker_app: MediaNestApp, admin: User, alice: User, media: MediaServerSimulator
) -> None:
    media.add_changed_item("Changed Page", slug="changed")
    version = importlib.metadata.version("yt-dlp")
    async with await signed_in_client(worker_app, alice) as client:
        await client.post("/api/youtube/download", json={"url": media.feed_url()})
        rows = await _finished(worker_app, alice)
        page = (await client.get("/youtube")).text
    assert [(i.title, i.state, i.error_kind) for i in rows[0].items] == [
        ("Clip One", "completed", None),
        ("Clip Two", "completed", None),
        ("Clip Three", "completed", None),
        ("Changed Page", "failed", "outdated"),
    ]
    assert "could not read this page: the site has changed since this version" in page

    async with await signed_in_client(worker_app, admin) as admin_client:
        system = (await admin_client.get("/api/admin/system")).json()["data"]
        admin_page = (await admin_client.get("/admin/system")).text
    assert system["queueBreaker"]["state"] == "closed"
    assert system["queueBreaker"]["recentErrors"] == 0
    info = system["ytDlp"]
    assert info["version"] == version
    assert info["outdated"] is True
    assert info["brokeOn"] == "127.0.0.1"
    assert info["warning"].startswith(f"yt-dlp {version} could not read a page of 127.0.0.1")
    assert "could not read a page of 127.0.0.1" in admin_page
    assert await _admin_notices(worker_app, admin) == [
        f"yt-dlp {version} could not read a page of 127.0.0.1"
    ]

    # A second breakage under the same version tells nobody again.
    async with await signed_in_client(worker_app, alice) as client:
        await client.post("/api/youtube/download", json={"url": media.changed_item_url("changed")})
        rows = await _finished(worker_app, alice)
    assert await _admin_notices(worker_app, admin) == [
        f"yt-dlp {version} could not read a page of 127.0.0.1"
    ]


async def test_a_link_yt_dlp_can_no_longer_read_fails_at_once_instead_of_retrying(
    worker_app: MediaNestApp, admin: User, alice: User, media: MediaServerSimulator
) -> None:
    media.add_changed_item("Changed Page", slug="changed", feed=None)
    async with await signed_in_client(worker_app, alice) as client:
        await client.post("/api/youtube/download", json={"url": media.changed_item_url("changed")})
        rows = await _finished(worker_app, alice)
    assert rows[0].status == "failed"
    assert rows[0].attempts <= 1  # another try reads the same page with the same yt-dlp
    assert "Confirm you are on the latest version" in (rows[0].error or "")
    async with session_scope(worker_app.ctx.session_factory) as session:
        assert (await freshness.current(session)).broke_on == "127.0.0.1"


def test_yt_dlp_is_out_of_date_when_old_or_when_it_said_so_under_this_version() -> None:
    today = date(2026, 12, 4)
    old = freshness.assess("2026.10.01", today=today)
    assert (old.age_days, old.too_old, old.outdated) == (64, True, True)
    assert old.warning is not None and "64 days old" in old.warning
    fresh = freshness.assess("2026.11.23.1", today=today)
    assert (fresh.age_days, fresh.outdated, fresh.warning) == (11, False, None)

    broke = {"version": "2026.11.23.1", "host": "www.youtube.com", "at": "2026-12-03T10:00:00"}
    after = freshness.assess("2026.11.23.1", today=today, broke=broke)
    assert after.outdated and after.broke_on == "www.youtube.com"
    # Updated since: what the older version could not read says nothing of this one.
    updated = freshness.assess("2026.12.02", today=today, broke=broke)
    assert not updated.outdated and updated.broke_on is None


def test_only_yt_dlps_own_bug_report_line_counts_as_out_of_date() -> None:
    from medianest.youtube.ytdlp.downloader import classify_error
    from medianest.youtube.ytdlp.freshness import OUTDATED

    said = (
        "ERROR: [youtube] abc: Unable to extract yt initial data; please report this issue "
        "on  https://github.com/yt-dlp/yt-dlp/issues?q= , filling out the appropriate issue "
        "template. Confirm you are on the latest version using  yt-dlp -U"
    )
    assert classify_error(said) == OUTDATED
    assert classify_error("ERROR: [youtube] abc: Private video. Sign in if …") == "private"
    assert classify_error("ERROR: Unsupported URL: https://example.org/x") == "other"


async def test_a_subscription_whose_page_changed_tells_the_admins_once_as_a_download_does(
    app: MediaNestApp, admin: User, alice: User, media: MediaServerSimulator
) -> None:
    """The scheduler's check fails, and what a failed check wrote is undone (rolled back):
    the breakage must still be recorded and the admins told, once for this version."""
    media.add_changed_item("Changed Page", slug="changed", feed=None)
    version = importlib.metadata.version("yt-dlp")
    async with await signed_in_client(app, alice) as client:
        created = await client.post(
            "/api/youtube/subscriptions", json={"url": media.changed_item_url("changed")}
        )
        assert created.status_code == 201, created.text
    scheduler = SubscriptionScheduler(app.ctx, name="scheduler-outdated")
    for _round in range(2):
        async with session_scope(app.ctx.session_factory) as session:
            await session.execute(update(YoutubeSubscription).values(next_check_at=utcnow()))
        assert await scheduler.run_due() == 1
    async with session_scope(app.ctx.session_factory) as session:
        row = (await session.scalars(select(YoutubeSubscription))).one()
        fresh = await freshness.current(session)
    assert "Confirm you are on the latest version" in (row.last_error or "")
    assert (fresh.outdated, fresh.broke_on) == (True, "127.0.0.1")
    assert await _admin_notices(app, admin) == [
        f"yt-dlp {version} could not read a page of 127.0.0.1"
    ]
    async with await signed_in_client(app, admin) as admin_client:
        system = (await admin_client.get("/api/admin/system")).json()["data"]
    assert system["ytDlp"]["brokeOn"] == "127.0.0.1"
