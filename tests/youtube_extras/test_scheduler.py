"""The subscription scheduler: exactly one scheduler claims a due check (two app instances
on the same database: PostgreSQL with --backend=postgres, SQLite otherwise), and a
subscription downloads only what its owner does not have yet."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.base import utcnow
from medianest.db.engine import run_after_commit, session_scope
from medianest.settings import Settings
from medianest.youtube.models import YoutubeArchiveEntry, YoutubeDownload, YoutubeSubscription
from medianest.youtube.subscriptions import scheduler as scheduler_module
from medianest.youtube.subscriptions.scheduler import SubscriptionScheduler
from medianest_simulators import PlexSimulator
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import all_finished, wait_for


async def count(app: MediaNestApp, model: Any) -> int:
    async with session_scope(app.ctx.session_factory) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_two_schedulers_on_two_instances_never_check_the_same_subscription_twice(
    app: MediaNestApp,
    app_factory: Callable[[Settings], Any],
    settings: Settings,
    alice: User,
    media: MediaServerSimulator,
) -> None:
    other_instance: MediaNestApp = await app_factory(settings)
    async with await signed_in_client(app, alice) as client:
        for n in range(4):
            media.add_feed(f"feed{n}", f"Feed {n}", [f"clip-{n}"])
            media.add_item(f"Clip {n}", slug=f"clip-{n}", feed=f"feed{n}")
            response = await client.post(
                "/api/youtube/subscriptions", json={"url": media.feed_url(f"feed{n}")}
            )
            assert response.status_code == 201, response.text
    first = SubscriptionScheduler(app.ctx, name="scheduler-a")
    second = SubscriptionScheduler(other_instance.ctx, name="scheduler-b")

    checked = await asyncio.gather(first.run_due(), second.run_due())
    assert sum(checked) == 4  # each subscription checked once, by one of them
    assert await count(app, YoutubeDownload) == 4
    async with session_scope(app.ctx.session_factory) as session:
        # As if the downloads had finished: their items are in alice's archive.
        for row in await session.scalars(select(YoutubeDownload)):
            row.status = "completed"
            for item in row.items:
                session.add(YoutubeArchiveEntry(user_id=alice.id, video_key=item.key))

    for _round in range(3):
        async with session_scope(app.ctx.session_factory) as session:
            # Everything due again at once: the schedulers race on every row.
            await session.execute(update(YoutubeSubscription).values(next_check_at=utcnow()))
        checked = await asyncio.gather(first.run_due(), second.run_due())
        assert sum(checked) == 4

    assert await count(app, YoutubeDownload) == 4  # nothing new in the feeds, nothing queued
    async with session_scope(app.ctx.session_factory) as session:
        subscriptions = list(await session.scalars(select(YoutubeSubscription)))
    assert all(s.claimed_by is None and s.last_error is None for s in subscriptions)
    assert sorted(s.items_found for s in subscriptions) == [1, 1, 1, 1]


async def test_concurrent_claims_split_the_due_subscriptions_without_overlap(
    app: MediaNestApp,
    app_factory: Callable[[Settings], Any],
    settings: Settings,
    alice: User,
) -> None:
    others: list[MediaNestApp] = [await app_factory(settings) for _ in range(2)]
    async with session_scope(app.ctx.session_factory) as session:
        for n in range(30):
            session.add(
                YoutubeSubscription(
                    user_id=alice.id,
                    url=f"http://example.test/{n}",
                    next_check_at=utcnow(),
                    interval_hours=6,
                )
            )
    schedulers = [
        SubscriptionScheduler(instance.ctx, name=f"s{n}")
        for n, instance in enumerate([app, app, *others])
    ]
    claims = await asyncio.gather(*(s.claim_due(limit=30) for s in schedulers))
    claimed = [sid for batch in claims for sid in batch]
    assert len(claimed) == 30
    assert len(set(claimed)) == 30


async def test_a_subscription_picks_up_only_the_item_added_to_the_feed(
    worker_app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    plex: PlexSimulator,
    download_root: Path,
) -> None:
    async with await signed_in_client(worker_app, alice) as client:
        created = await client.post(
            "/api/youtube/subscriptions", json={"url": media.feed_url(), "intervalHours": 24}
        )
        assert created.status_code == 201, created.text
        path = f"/api/youtube/subscriptions/{created.json()['data']['id']}"
        # The scheduler runs the first check at once: the whole feed.
        first = await wait_for(worker_app, all_finished(1), user_id=alice.id)
        assert first[0].status == "completed", first[0].error
        assert [i.title for i in first[0].items] == ["Clip One", "Clip Two", "Clip Three"]

        media.add_item("Clip Four")
        assert (await client.post(f"{path}/check")).status_code == 202
        rows = await wait_for(worker_app, all_finished(2), user_id=alice.id)
        subscription = (await client.get(path)).json()["data"]

    assert rows[1].status == "completed", rows[1].error
    assert [i.title for i in rows[1].items] == ["Clip Four"]
    assert rows[1].subscription_id == rows[0].subscription_id
    assert subscription["itemsFound"] == 4
    assert subscription["lastError"] is None
    assert subscription["lastCheckAt"] is not None
    assert subscription["nextCheckAt"] > subscription["lastCheckAt"]
    folder = download_root / str(alice.id) / "Loopback Test Channel"
    # The new item numbers on after the folder's highest number (no second "001 - ").
    assert sorted(p.name for p in folder.iterdir()) == [
        "001 - Clip One.mp4",
        "002 - Clip Two.mp4",
        "003 - Clip Three.mp4",
        "004 - Clip Four.mp4",
    ]
    assert [i.file for i in rows[1].items] == ["Loopback Test Channel/004 - Clip Four.mp4"]
    assert await count(worker_app, YoutubeArchiveEntry) == 4

    async with await signed_in_client(worker_app, alice) as client:
        playlist = rows[0].plex_playlist_id
        assert playlist is not None and rows[1].plex_playlist_id == playlist
        assert (await client.delete(f"{path}?deleteFiles=true")).status_code == 204
    assert not folder.exists() or not any(folder.iterdir())
    assert await count(worker_app, YoutubeDownload) == 0
    assert [p for p in plex.library.playlists.values() if p.owner == "alice"] == []


async def test_unsubscribing_without_delete_files_keeps_the_downloads(
    app: MediaNestApp, alice: User, media: MediaServerSimulator
) -> None:
    async with await signed_in_client(app, alice) as client:
        created = await client.post("/api/youtube/subscriptions", json={"url": media.feed_url()})
        await SubscriptionScheduler(app.ctx).run_due()
        path = f"/api/youtube/subscriptions/{created.json()['data']['id']}"
        assert (await client.delete(path)).status_code == 204
    async with session_scope(app.ctx.session_factory) as session:
        kept = list(await session.scalars(select(YoutubeDownload)))
    assert len(kept) == 1
    assert kept[0].subscription_id is None
    assert len(kept[0].items) == 3


async def test_a_list_read_just_after_a_check_commits_sees_what_it_found_and_when(
    app: MediaNestApp,
    alice: User,
    media: MediaServerSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A browser's list refresh that lands right after the check's commit (three tabs
    polling, a reload) never shows new items beside "not yet" checked."""
    async with await signed_in_client(app, alice) as client:
        created = await client.post("/api/youtube/subscriptions", json={"url": media.feed_url()})
        assert created.status_code == 201, created.text
    seen: list[tuple[int, bool, bool]] = []

    async def read_then_run(session: AsyncSession) -> None:
        async with session_scope(app.ctx.session_factory) as reader:
            row = (await reader.scalars(select(YoutubeSubscription))).one()
            seen.append((row.items_found, row.last_check_at is not None, row.claimed_by is None))
        await run_after_commit(session)

    # Read where the check's commit has just landed (its after-commit actions run next).
    monkeypatch.setattr(scheduler_module, "run_after_commit", read_then_run)
    assert await SubscriptionScheduler(app.ctx, name="scheduler-a").run_due() == 1

    assert seen == [(3, True, True)]
