"""Downloads with the admin's YouTube cookies, through the real worker and yt-dlp: a host
that refuses a session it does not know (403) fails the download without cookies and
serves it with them; yt-dlp reads them from a private 0600 file that is gone afterwards
(cancelled or not); the cookie YouTube rotates (Set-Cookie) is kept for the next one;
the value is never logged."""

from __future__ import annotations

import asyncio
import stat
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest
import structlog

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.youtube.cookies import store as youtube_cookies
from medianest.youtube.models import YoutubeSubscription
from medianest.youtube.subscriptions import service as subscriptions
from medianest.youtube.ytdlp.cookie_file import DIR_PREFIX, FILE_NAME, CookieLease
from medianest_simulators.media_server import MediaServerSimulator
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import wait_for

SESSION = "SID-s3cr3t-member-session"


def cookies_txt(value: str = SESSION, *, host: str = "127.0.0.1") -> str:
    return (
        "# Netscape HTTP Cookie File\n"
        f"#HttpOnly_{host}\tFALSE\t/\tFALSE\t1830000000\tSID\t{value}\n"
        ".youtube.com\tTRUE\t/\tTRUE\t1830000000\tPREF\tf6=40000000\n"
    )


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where `tempfile` makes directories during the test, to see the cookie file."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def cookie_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(f"{DIR_PREFIX}*/{FILE_NAME}"))


async def appears(
    folder: Path, media: MediaServerSimulator, held: str, timeout: float = 30.0
) -> Path:
    """The cookie file of the run downloading the `held` item: once its media request has
    reached the hold. (The link's expansion had a file of its own, removed when it ended;
    taking the first file seen could take that one, or one not yet written.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = cookie_files(folder)
        if found and media.held_requests(held) > 0:
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError("yt-dlp never got a cookie file")


async def download(client: httpx.AsyncClient, url: str) -> str:
    answer = await client.post("/api/youtube/download", json={"url": url})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["data"]["id"])


async def stored_jar(app: MediaNestApp) -> str:
    lease = await youtube_cookies.checkout(app.ctx.session_factory, app.ctx.secret_box)
    assert lease is not None
    return lease.text


async def test_a_host_that_wants_a_session_serves_the_download_with_the_admins_cookies(
    worker_app: MediaNestApp,
    admin: User,
    alice: User,
    media: MediaServerSimulator,
    private_tmp: Path,
) -> None:
    media.require_cookie("SID", SESSION, rotate=True)
    media.add_feed("members", "Members only", ["clip-one"])
    media.add_feed("later", "Members later", [media.add_item("Clip Four", feed=None)])
    with structlog.testing.capture_logs() as logs:
        async with await signed_in_client(worker_app, alice) as client:
            await download(client, media.feed_url("members"))
            rows = await wait_for(worker_app, lambda r: r[0].status == "failed", user_id=alice.id)
            assert rows[0].items[0].error_kind == "http_403"

            async with await signed_in_client(worker_app, admin) as admin_client:
                saved = await admin_client.put(
                    "/api/admin/youtube/cookies", json={"cookies": cookies_txt()}
                )
                assert saved.status_code == 200, saved.text
            media.hold_item("clip-one")
            await download(client, media.feed_url("members"))
            lent = await appears(private_tmp, media, "clip-one")
            assert stat.S_IMODE(lent.stat().st_mode) == 0o600
            assert stat.S_IMODE(lent.parent.stat().st_mode) == 0o700
            assert f"SID\t{SESSION}" in lent.read_text()
            media.release_item("clip-one")
            rows = await wait_for(
                worker_app, lambda r: len(r) == 2 and r[1].status == "completed", user_id=alice.id
            )
            assert not lent.parent.exists()
            # YouTube rotated the session while serving it: the next download sends the new
            # value (this host refuses the old one from then on).
            rotated = media.session_cookie
            assert rotated is not None and rotated.rotations >= 1
            assert f"SID\t{rotated.value}" in await stored_jar(worker_app)
            await download(client, media.feed_url("later"))
            rows = await wait_for(
                worker_app, lambda r: len(r) == 3 and r[2].status != "queued", user_id=alice.id
            )
            rows = await wait_for(
                worker_app,
                lambda r: r[2].status in ("completed", "failed"),
                user_id=alice.id,
            )
            assert rows[2].status == "completed", rows[2].items
    assert cookie_files(private_tmp) == []
    assert SESSION not in repr(logs) and rotated.value not in repr(logs)
    assert [h for h in media.session_cookie.seen if "SID=" in h]  # sent, by yt-dlp
    stored = await stored_jar(worker_app)
    assert "#HttpOnly_127.0.0.1" in stored  # the mark yt-dlp drops is kept
    assert "PREF\tf6=40000000" in stored  # what YouTube did not touch stays


async def test_a_cancelled_download_leaves_no_cookie_file(
    worker_app: MediaNestApp,
    admin: User,
    alice: User,
    media: MediaServerSimulator,
    private_tmp: Path,
) -> None:
    media.require_cookie("SID", SESSION)
    async with await signed_in_client(worker_app, admin) as admin_client:
        await admin_client.put("/api/admin/youtube/cookies", json={"cookies": cookies_txt()})
    media.hold_item("clip-one")
    async with await signed_in_client(worker_app, alice) as client:
        download_id = await download(client, media.item_url("clip-one"))
        lent = await appears(private_tmp, media, "clip-one")
        cancelled = await client.post(f"/api/youtube/downloads/{download_id}/cancel")
        assert cancelled.status_code == 200
        media.release_item("clip-one")
        await wait_for(worker_app, lambda r: r[0].status == "cancelled", user_id=alice.id)
    deadline = time.monotonic() + 10
    while lent.parent.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not lent.parent.exists()
    assert cookie_files(private_tmp) == []


async def test_a_subscription_to_a_feed_behind_a_session_is_read_with_the_cookies(
    app: MediaNestApp, admin: User, alice: User, media: MediaServerSimulator
) -> None:
    media.require_cookie("SID", SESSION, feeds=True, rotate=True)
    async with await signed_in_client(app, alice) as client:
        created = await client.post("/api/youtube/subscriptions", json={"url": media.feed_url()})
        assert created.status_code == 201, created.text
    subscription_id = uuid.UUID(created.json()["data"]["id"])

    async def check() -> subscriptions.CheckResult:
        async with session_scope(app.ctx.session_factory) as session:
            row = await session.get(YoutubeSubscription, subscription_id)
            assert row is not None
            return await subscriptions.check(session, ctx=app.ctx, subscription=row)

    refused = await check()
    assert refused.download_id is None and "403" in (refused.error or "")
    async with await signed_in_client(app, admin) as admin_client:
        await admin_client.put("/api/admin/youtube/cookies", json={"cookies": cookies_txt()})
    found = await check()
    assert found.error is None and found.download_id is not None and found.new_items == 3
    assert media.session_cookie is not None
    assert media.session_cookie.seen[-1] == f"SID={SESSION}"  # only the host's own cookie
    assert f"SID\t{media.session_cookie.value}" in await stored_jar(app)  # the renewed one


async def test_downloads_rotating_different_cookies_at_once_keep_every_change(
    app: MediaNestApp, admin: User, settings: Settings
) -> None:
    names = [f"TS{n}" for n in range(6)]
    async with await signed_in_client(app, admin) as admin_client:
        jar = cookies_txt() + "".join(
            f".youtube.com\tTRUE\t/\tTRUE\t1830000000\t{name}\told\n" for name in names
        )
        await admin_client.put("/api/admin/youtube/cookies", json={"cookies": jar})
    factory, box = app.ctx.session_factory, app.ctx.secret_box
    leases = [await youtube_cookies.checkout(factory, box) for _ in names]
    # What yt-dlp writes back: its own header, no HttpOnly mark, one cookie changed each.
    header = "# Netscape HTTP Cookie File\n# This file is generated by yt-dlp.  Do not edit.\n\n"
    for name, lease in zip(names, leases, strict=True):
        assert lease is not None
        body = lease.text.split("\n", 1)[1].replace("#HttpOnly_", "")
        lease.rotated = header + body.replace(f"{name}\told", f"{name}\tnew")
    hosts = settings.youtube_extra_host_list
    kept = await asyncio.gather(
        *(youtube_cookies.check_in(factory, box, lease, extra_hosts=hosts) for lease in leases)
    )
    assert kept == [True] * len(names)
    stored = await stored_jar(app)
    assert [name for name in names if f"{name}\tnew" not in stored] == []
    first = leases[0]
    assert first is not None

    # A save cut short (half a line) is not kept; a jar the admin replaced meanwhile is
    # not overwritten by a download that borrowed the old one.
    late = CookieLease(text=first.text, generation=first.generation, rotated=header + "127.0.")
    assert not await youtube_cookies.check_in(factory, box, late, extra_hosts=hosts)
    async with await signed_in_client(app, admin) as admin_client:
        await admin_client.put("/api/admin/youtube/cookies", json={"cookies": cookies_txt("v2")})
    stale = CookieLease(text=first.text, generation=first.generation, rotated=first.rotated)
    assert not await youtube_cookies.check_in(factory, box, stale, extra_hosts=hosts)
    assert "SID\tv2" in await stored_jar(app)
