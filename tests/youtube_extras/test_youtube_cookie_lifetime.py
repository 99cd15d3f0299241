"""The lifetime of the admin's YouTube cookies across downloads, through the real worker
and yt-dlp against the loopback media host: a cookie the site deletes (a `Set-Cookie`
expired in the past, or `Max-Age=0`) is gone from the stored jar and never sent again,
an expired one is dropped, a renewal by another worker meanwhile survives a deletion,
and the admin's replacing the jar during a run wins over that run's write-back."""

from __future__ import annotations

import asyncio
import errno
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.youtube.cookies import store as youtube_cookies
from medianest.youtube.downloads.urls import validate_download_url
from medianest.youtube.models import YoutubeDownload
from medianest.youtube.ytdlp.downloader import expand
from medianest_simulators.media_server import MediaServerSimulator
from medianest_simulators.media_session import CookieChange
from tests.factories.users import signed_in_client
from tests.youtube_extras.conftest import wait_for
from tests.youtube_extras.test_youtube_cookies_downloads import (  # noqa: F401  (fixture)
    cookie_files,
    download,
    private_tmp,
    stored_jar,
)

FINISHED = ("completed", "failed")
HEADER = "# Netscape HTTP Cookie File\n"
LATER = 1_830_000_000  # 2027-12-28: alive
PAST = 1_600_000_000  # 2020-09-13: expired


def host_cookie(name: str, value: str, expires: int = LATER) -> str:
    return f"127.0.0.1\tFALSE\t/\tFALSE\t{expires}\t{name}\t{value}\n"


def jar(**cookies: str) -> str:
    lines = "".join(host_cookie(name, value) for name, value in cookies.items())
    return HEADER + lines + ".youtube.com\tTRUE\t/\tTRUE\t1830000000\tPREF\tf6=40000000\n"


def stored(text: str) -> dict[str, str]:
    """name -> value of the cookies in a jar's text."""
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("# ")]
    return {row[5]: row[6] for row in rows}


async def save_jar(app: MediaNestApp, admin: User, text: str) -> None:
    async with await signed_in_client(app, admin) as admin_client:
        saved = await admin_client.put("/api/admin/youtube/cookies", json={"cookies": text})
        assert saved.status_code == 200, saved.text


async def finished(app: MediaNestApp, user: User, count: int = 1) -> list[YoutubeDownload]:
    return await wait_for(
        app,
        lambda r: len(r) == count and all(d.status in FINISHED for d in r),
        user_id=user.id,
    )


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def sent_to(media: MediaServerSimulator, path: str) -> list[str]:
    return [header for seen_path, header in media.cookies.seen if seen_path == path]


@pytest.mark.parametrize("max_age", [False, True], ids=["expires-in-the-past", "max-age-0"])
async def test_a_cookie_the_site_deletes_is_forgotten_and_never_sent_again(
    worker_app: MediaNestApp,
    admin: User,
    alice: User,
    media: MediaServerSimulator,
    max_age: bool,
) -> None:
    # The feed's answer signs the consent out; the host refuses it from then on, as
    # YouTube treats a client that replays a deleted session cookie as a bad session.
    media.add_feed("members", "Members only", ["clip-one"])
    media.change_cookie(
        CookieChange("CONSENT", on="/feeds/members.xml", max_age=max_age, refuse_replay=True)
    )
    text = jar(SID="member", CONSENT="PENDING+987") + host_cookie("OLD", "gone", PAST)
    await save_jar(worker_app, admin, text)
    async with await signed_in_client(worker_app, alice) as client:
        await download(client, media.feed_url("members"))
        rows = await finished(worker_app, alice)
        # The expansion's run read the deletion; the item's run was lent the jar without it.
        assert [(i.state, i.error_kind) for i in rows[0].items] == [("completed", None)]
        await download(client, media.item_url("clip-two"))
        rows = await finished(worker_app, alice, 2)
        assert rows[1].status == "completed", rows[1].items
    assert media.cookies.replays == []
    media_requests = sent_to(media, "/media/clip-one.mp4") + sent_to(media, "/media/clip-two.mp4")
    assert media_requests and all("SID=member" in h for h in media_requests)
    assert not [h for h in media_requests if "CONSENT" in h or "OLD" in h]
    # Forgotten for good: the stored jar, and what the admin panel counts.
    assert stored(await stored_jar(worker_app)) == {"SID": "member", "PREF": "f6=40000000"}
    async with await signed_in_client(worker_app, admin) as admin_client:
        status = (await admin_client.get("/api/admin/youtube/cookies")).json()["data"]
    assert status["count"] == 2


async def test_two_workers_keep_each_others_renewal_and_the_deletion(
    worker_app: MediaNestApp,
    admin: User,
    alice: User,
    bob: User,
    media: MediaServerSimulator,
    private_tmp: Path,  # noqa: F811
) -> None:
    # alice's download renews TSA and the consent; bob's, lent the jar before that,
    # renews TSB and deletes the consent (the old one) and GONE.
    media.change_cookie(CookieChange("TSA", on="/media/clip-one.mp4", value="a1", once=True))
    media.change_cookie(
        CookieChange("CONSENT", on="/media/clip-one.mp4", value="renewed", once=True)
    )
    for name, value in (("TSB", "b1"), ("CONSENT", None), ("GONE", None)):
        change = CookieChange(name, on="/media/clip-two.mp4", value=value, once=True)
        media.change_cookie(change)
    await save_jar(worker_app, admin, jar(CONSENT="old", TSA="old", TSB="old", GONE="old"))
    media.hold_item("clip-two")
    async with await signed_in_client(worker_app, bob) as bob_client:
        await download(bob_client, media.item_url("clip-two"))

        async def bob_was_lent() -> bool:  # his item's run, not his link's expansion
            return bool(cookie_files(private_tmp)) and media.held_requests("clip-two") > 0

        await until(bob_was_lent, "bob's run got its cookie file")  # held by the host
        async with await signed_in_client(worker_app, alice) as client:
            await download(client, media.item_url("clip-one"))
            alice_rows = await finished(worker_app, alice)

        async def alice_checked_in() -> bool:
            return stored(await stored_jar(worker_app)).get("TSA") == "a1"

        await until(alice_checked_in, "alice's renewal stored")
        assert cookie_files(private_tmp)  # bob's run still holds the jar lent before
        media.release_item("clip-two")
        bob_rows = await finished(worker_app, bob)
    assert [r.status for r in alice_rows + bob_rows] == ["completed", "completed"]
    assert stored(await stored_jar(worker_app)) == {
        "CONSENT": "renewed",  # renewed by alice after bob was lent the old one
        "TSA": "a1",
        "TSB": "b1",
        "PREF": "f6=40000000",
    }


async def test_the_admins_new_jar_wins_over_a_run_that_was_lent_the_old_one(
    worker_app: MediaNestApp,
    admin: User,
    alice: User,
    media: MediaServerSimulator,
    private_tmp: Path,  # noqa: F811
) -> None:
    media.change_cookie(CookieChange("CONSENT", on="/media/clip-one.mp4", voids="old", once=True))
    media.change_cookie(CookieChange("TS", on="/media/clip-one.mp4", value="run", once=True))
    await save_jar(worker_app, admin, jar(CONSENT="old", TS="old"))
    media.hold_item("clip-one")
    async with await signed_in_client(worker_app, alice) as client:
        await download(client, media.item_url("clip-one"))

        async def run_was_lent() -> bool:  # the item's run, not the link's expansion
            return bool(cookie_files(private_tmp)) and media.held_requests("clip-one") > 0

        await until(run_was_lent, "the run got its cookie file")  # held by the host
        await save_jar(worker_app, admin, jar(CONSENT="fresh", TS="admin"))
        media.release_item("clip-one")
        rows = await finished(worker_app, alice)
    assert rows[0].status == "completed", rows[0].items
    assert stored(await stored_jar(worker_app)) == {
        "CONSENT": "fresh",
        "TS": "admin",
        "PREF": "f6=40000000",
    }
    assert "CONSENT=fresh" in sent_to(media, "/media/clip-one.mp4")[-1]  # the item's run


async def test_a_jar_whose_every_cookie_was_deleted_is_kept_empty(
    app: MediaNestApp, admin: User, settings: Settings
) -> None:
    await save_jar(app, admin, HEADER + host_cookie("SID", "x") + host_cookie("OLD", "y", PAST))
    factory, box = app.ctx.session_factory, app.ctx.secret_box
    hosts = settings.youtube_extra_host_list
    lease = await youtube_cookies.checkout(factory, box)
    assert lease is not None
    lease.rotated = HEADER + "# This file is generated by yt-dlp.  Do not edit.\n\n"
    assert await youtube_cookies.check_in(factory, box, lease, extra_hosts=hosts)
    assert stored(await stored_jar(app)) == {}
    async with session_scope(factory) as session:
        assert (await youtube_cookies.cookies_status(session)).count == 0
    # The next run's write-back (an empty file: no save by yt-dlp) changes nothing.
    following = await youtube_cookies.checkout(factory, box)
    assert following is not None
    following.rotated = ""
    assert not await youtube_cookies.check_in(factory, box, following, extra_hosts=hosts)


async def test_a_save_cut_short_by_a_full_disk_deletes_nothing(
    app: MediaNestApp,
    admin: User,
    media: MediaServerSimulator,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """yt-dlp's save truncates the file and writes it line by line: cut short after its
    first cookie, the file would read as the site deleting the others."""
    from yt_dlp.cookies import YoutubeDLCookieJar

    def disk_full(jar: YoutubeDLCookieJar, handle: Any, *_args: Any) -> None:
        first = next(iter(jar))
        handle.write(f"{first.domain}\tFALSE\t/\tFALSE\t0\t{first.name}\t{first.value}\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(YoutubeDLCookieJar, "_really_save", disk_full)
    media.change_cookie(CookieChange("TS", on="/feed.xml", value="renewed"))
    text = jar(A="1", B="2", C="3")
    await save_jar(app, admin, text)
    hosts = settings.youtube_extra_host_list
    accepted = validate_download_url(media.feed_url(), extra_hosts=hosts)
    with pytest.raises(OSError):
        await youtube_cookies.run_with_cookies(
            app.ctx, expand, accepted.url, extractors=accepted.extractors, extra_hosts=tuple(hosts)
        )
    assert stored(await stored_jar(app)) == stored(text)
    assert [path for path, _header in media.cookies.seen] == ["/feed.xml"]
