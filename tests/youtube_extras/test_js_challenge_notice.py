"""Items failing because YouTube's JavaScript challenge went unsolved tell the admins once,
in the notification centre (as an out-of-date yt-dlp does), with what is wrong and the
fix: not once per item, not once per worker when two fail at the same moment, and again
only when what solves the challenges changed since (the admin's fix or an update) and
failed again, or after `REMIND_AFTER` of failing with nothing changed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.notifications.models import Notification
from medianest.platform.models import SystemSetting
from medianest.youtube.models import YoutubeDownload
from medianest.youtube.ytdlp import challenge_notice
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import wait_for
from tests.youtube_extras.test_js_challenge_failure import unsolvable  # noqa: F401

EVENT = "ytdlp.js_challenge"


async def _notices(app: MediaNestApp, admin: User) -> list[Notification]:
    async with session_scope(app.ctx.session_factory) as session:
        rows = await session.scalars(
            select(Notification)
            .where(Notification.user_id == admin.id, Notification.event == EVENT)
            .order_by(Notification.created_at)
        )
        return list(rows)


def _failed(rows: list[YoutubeDownload]) -> bool:
    return bool(rows) and all(d.status in ("completed", "failed") for d in rows)


async def test_two_downloads_failing_on_the_challenge_at_once_tell_the_admins_once(
    unsolvable: None,  # noqa: F811
    worker_app: MediaNestApp,
    admin: User,
    alice: User,
    bob: User,
    media: MediaServerSimulator,
) -> None:
    """Two worker slots (alice's and bob's jobs run side by side), three failures."""
    media.add_item("Challenged Clip", slug="challenged")
    media.add_item("Challenged Again", slug="challenged-again")
    async with (
        await signed_in_client(worker_app, alice) as for_alice,
        await signed_in_client(worker_app, bob) as for_bob,
    ):
        await asyncio.gather(
            for_alice.post("/api/youtube/download", json={"url": media.feed_url()}),
            for_bob.post("/api/youtube/download", json={"url": media.item_url("challenged")}),
        )
        alices = await wait_for(worker_app, _failed, user_id=alice.id)
        bobs = await wait_for(worker_app, _failed, user_id=bob.id)
    assert [i.error_kind for i in alices[0].items].count("js_challenge") == 2
    # Bob's link is the one item: reading it fails the same way (the runner's link path).
    assert bobs[0].status == "failed"
    assert (bobs[0].error or "").startswith(
        "Could not read the link: YouTube's JavaScript challenge was not solved"
    )
    told = await _notices(worker_app, admin)
    assert len(told) == 1
    assert told[0].title == "YouTube downloads fail: the JavaScript challenge is not solved"
    # The runtime works here (the lock's Deno): the words say the scripts fell behind.
    assert "YouTube's challenge was not solved" in told[0].body
    assert "To fix it, YouTube has likely changed its player since this release" in told[0].body


async def test_failures_racing_in_many_workers_claim_one_notice(
    app: MediaNestApp, admin: User
) -> None:
    """Eight units of work at once, each its own database connection (both backends):
    the first notice, and the reminder a week on (the told row replaced, not added)."""

    async def at_once() -> list[bool]:
        factory, settings = app.ctx.session_factory, app.ctx.settings
        return await asyncio.gather(
            *(challenge_notice.challenge_failed(factory, settings) for _ in range(8))
        )

    assert sorted(await at_once()) == [False] * 7 + [True]
    assert len(await _notices(app, admin)) == 1
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(
            update(SystemSetting)
            .where(SystemSetting.key == challenge_notice.NOTICE_KEY)
            .values(updated_at=utcnow() - challenge_notice.REMIND_AFTER - timedelta(hours=1))
        )
    assert sorted(await at_once()) == [False] * 7 + [True]
    assert len(await _notices(app, admin)) == 2


async def test_the_admins_are_told_again_after_a_change_fails_again_or_a_week_on(
    app: MediaNestApp, admin: User, tmp_path: Path
) -> None:
    factory, settings = app.ctx.session_factory, app.ctx.settings
    assert await challenge_notice.challenge_failed(factory, settings)
    assert not await challenge_notice.challenge_failed(factory, settings)  # still failing

    # The admin names another runtime (here one too old): once it fails too, told again.
    node = tmp_path / "node"
    node.write_text("#!/bin/sh\necho v20.19.0\n")
    node.chmod(0o755)
    changed = settings.model_copy(update={"ytdlp_js_runtime": f"node:{node}"})
    assert await challenge_notice.challenge_failed(factory, changed)
    assert not await challenge_notice.challenge_failed(factory, changed)

    async with session_scope(factory) as session:  # a week and a day of failing
        await session.execute(
            update(SystemSetting)
            .where(SystemSetting.key == challenge_notice.NOTICE_KEY)
            .values(updated_at=utcnow() - challenge_notice.REMIND_AFTER - timedelta(days=1))
        )
    assert await challenge_notice.challenge_failed(factory, changed)

    told = await _notices(app, admin)
    assert len(told) == 3
    assert told[1].body.startswith(f"node 20.19.0 ({node}) is older than yt-dlp needs (22.0.0)")
    assert "MEDIANEST_YTDLP_JS_RUNTIME" in told[1].body  # the fix names the setting
