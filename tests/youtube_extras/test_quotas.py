"""Per-role quotas set by the admin: 429 QUOTA_EXCEEDED with when it resets, lifted when
the window passes (the counted rows are aged in the database), what is left for the
dashboard, and a running playlist that pauses when its owner's quota runs out."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import update

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.core.errors import QuotaExceeded
from medianest.db.base import utcnow
from medianest.db.engine import session_scope
from medianest.media import quotas as media_quotas
from medianest.media.models import MediaRequest
from medianest.youtube.downloads import archive
from medianest.youtube.models import YoutubeArchiveEntry, YoutubeDownload
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import wait_for


async def set_user_quotas(admin_client: httpx.AsyncClient, **limits: object) -> None:
    response = await admin_client.put(
        "/api/admin/config/youtube", json={"quotas": {"user": limits}}
    )
    assert response.status_code == 200, response.text


async def archive_video(app: MediaNestApp, user: User, key: str, size: int = 1000) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        await archive.record(session, user_id=user.id, video_key=key, download_id=None, size=size)


async def age_archive(app: MediaNestApp, user_id: uuid.UUID, by: timedelta) -> None:
    async with session_scope(app.ctx.session_factory) as session:
        await session.execute(
            update(YoutubeArchiveEntry)
            .where(YoutubeArchiveEntry.user_id == user_id)
            .values(created_at=utcnow() - by)
        )


async def test_only_admins_change_quotas(
    client: httpx.AsyncClient, alice_client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    body = {"quotas": {"user": {"youtubeItemsPerDay": 1}}}
    assert (await client.put("/api/admin/config/youtube", json=body)).status_code == 401
    assert (await alice_client.put("/api/admin/config/youtube", json=body)).status_code == 403
    bad = await admin_client.put(
        "/api/admin/config/youtube", json={"quotas": {"user": {"youtubeItemsPerDay": -1}}}
    )
    assert bad.status_code == 422
    await set_user_quotas(admin_client, youtubeItemsPerDay=3)
    again = await admin_client.put(
        "/api/admin/config/youtube", json={"quotas": {"admin": {"youtubeItemsPerDay": 9}}}
    )
    stored = again.json()["data"]["quotas"]
    assert stored["user"]["youtubeItemsPerDay"] == 3  # a role left out keeps its limits
    assert stored["admin"]["youtubeItemsPerDay"] == 9


async def test_an_exceeded_daily_item_quota_gives_429_until_the_day_has_passed(
    app: MediaNestApp,
    admin_client: httpx.AsyncClient,
    alice_client: httpx.AsyncClient,
    alice: User,
    media: MediaServerSimulator,
) -> None:
    await set_user_quotas(admin_client, youtubeItemsPerDay=1)
    await archive_video(app, alice, "already-downloaded")

    refused = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    assert refused.status_code == 429, refused.text
    error = refused.json()["error"]
    assert error["code"] == "QUOTA_EXCEEDED"
    resets = datetime.fromisoformat(error["details"]["resetsAt"])
    assert timedelta(hours=23, minutes=59) < resets - utcnow() <= timedelta(hours=24)
    assert int(refused.headers["Retry-After"]) > 23 * 3600
    left = {q["name"]: q for q in (await alice_client.get("/api/youtube/quota")).json()["data"]}
    assert left["youtubeItemsPerDay"]["limit"] == 1
    assert left["youtubeItemsPerDay"]["remaining"] == 0
    assert left["youtubeItemsPerDay"]["resetsAt"] is not None

    await age_archive(app, alice.id, timedelta(hours=24, minutes=1))
    allowed = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    assert allowed.status_code == 201, allowed.text
    left = {q["name"]: q for q in (await alice_client.get("/api/youtube/quota")).json()["data"]}
    assert left["youtubeItemsPerDay"]["remaining"] == 1


async def test_the_weekly_gigabyte_quota_counts_downloaded_bytes(
    app: MediaNestApp,
    admin_client: httpx.AsyncClient,
    alice_client: httpx.AsyncClient,
    bob_client: httpx.AsyncClient,
    alice: User,
    media: MediaServerSimulator,
) -> None:
    await set_user_quotas(admin_client, youtubeGbPerWeek=0.000001)  # about 1 kB
    await archive_video(app, alice, "big-video", size=5_000)

    refused = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["quota"] == "youtubeGbPerWeek"
    # Bob has used nothing: his quota is his own.
    assert (
        await bob_client.post("/api/youtube/download", json={"url": media.feed_url()})
    ).status_code == 201

    await age_archive(app, alice.id, timedelta(days=7, minutes=1))
    allowed = await alice_client.post("/api/youtube/download", json={"url": media.feed_url()})
    assert allowed.status_code == 201


async def test_quotas_are_per_role(
    app: MediaNestApp,
    admin_client: httpx.AsyncClient,
    admin: User,
    media: MediaServerSimulator,
) -> None:
    await set_user_quotas(admin_client, youtubeItemsPerDay=0)
    response = await admin_client.post("/api/youtube/download", json={"url": media.feed_url()})
    assert response.status_code == 201  # the admin role has no limit set


async def test_the_weekly_media_request_quota(
    app: MediaNestApp, admin_client: httpx.AsyncClient, alice: User
) -> None:
    await set_user_quotas(admin_client, mediaRequestsPerWeek=1)
    async with session_scope(app.ctx.session_factory) as session:
        session.add(MediaRequest(user_id=alice.id, title="Heat", media_type="movie", tmdb_id=949))
    async with session_scope(app.ctx.session_factory) as session:
        with pytest.raises(QuotaExceeded) as raised:
            await media_quotas.enforce_media_requests(session, alice)
        assert raised.value.details["quota"] == "mediaRequestsPerWeek"
        await session.execute(update(MediaRequest).values(created_at=utcnow() - timedelta(days=8)))
        await media_quotas.enforce_media_requests(session, alice)


async def test_a_running_playlist_pauses_when_the_quota_runs_out_and_resumes_when_raised(
    worker_app: MediaNestApp,
    admin: User,
    alice: User,
    media: MediaServerSimulator,
) -> None:
    async with await signed_in_client(worker_app, admin) as admin_client:
        await set_user_quotas(admin_client, youtubeItemsPerDay=2)
        async with await signed_in_client(worker_app, alice) as client:
            await client.post("/api/youtube/download", json={"url": media.feed_url()})
            rows = await wait_for(
                worker_app, lambda r: bool(r) and r[0].pause_reason == "QUOTA", user_id=alice.id
            )
        assert rows[0].status == "queued"
        assert [i.state for i in rows[0].items] == ["completed", "completed", "pending"]
        assert "used up" in (rows[0].error or "")

        await set_user_quotas(admin_client, youtubeItemsPerDay=5)
    async with session_scope(worker_app.ctx.session_factory) as session:
        # The job waits until the quota resets; here the admin raised it, so skip the wait.
        await session.execute(update(YoutubeDownload).values(next_attempt_at=utcnow()))
    rows = await wait_for(worker_app, lambda r: r[0].status == "completed", user_id=alice.id)
    assert [i.state for i in rows[0].items] == ["completed"] * 3
