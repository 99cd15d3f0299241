"""Cancelling and deleting a running download, and live progress over Socket.IO."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from medianest.app import MediaNestApp, build_context, close_context, create_app
from medianest.auth.cookies import CSRF_COOKIE, SESSION_COOKIE
from medianest.auth.models import User
from medianest.auth.sessions import store as session_store
from medianest.core.realtime import Realtime
from medianest.db.engine import session_scope
from medianest.settings import Settings
from medianest.youtube.jobs.worker import workers_of
from medianest_simulators.media_server import MediaServerSimulator
from tests.support.http import http_client
from tests.support.servers import ServedApp
from tests.support.socket_listener import Listener
from tests.youtube.conftest import client_for, files_under, finished, wait_for_download


def downloading(data: dict[str, Any]) -> bool:
    return data["status"] == "downloading" and any(
        i["state"] == "downloading" and i["progress"] > 0 for i in data["items"]
    )


async def test_cancelling_a_running_download_stops_it_and_leaves_no_partial_files(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, download_root: Path
) -> None:
    media.set_throttle(3_000)
    async with await client_for(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        download_id = response.json()["data"]["id"]
        await wait_for_download(client, download_id, downloading)
        started = time.monotonic()
        cancelled = await client.post(f"/api/youtube/downloads/{download_id}/cancel")
        assert cancelled.status_code == 200
        data = await wait_for_download(client, download_id, finished, timeout=15)
        stopped_after = time.monotonic() - started

    assert data["status"] == "cancelled"
    assert stopped_after < 5  # the progress hook stops yt-dlp, no waiting for the item
    assert [i["state"] for i in data["items"]] == ["cancelled", "pending", "pending"]
    assert files_under(download_root) == []  # no .part, no half file


async def test_an_admin_stops_another_users_running_download(
    worker_app: MediaNestApp,
    admin: User,
    bob: User,
    media: MediaServerSimulator,
    download_root: Path,
) -> None:
    media.set_throttle(3_000)
    async with await client_for(worker_app, bob) as bob_client:
        response = await bob_client.post("/api/youtube/download", json={"url": media.feed_url()})
        download_id = response.json()["data"]["id"]
        await wait_for_download(bob_client, download_id, downloading)
        async with await client_for(worker_app, admin) as admin_client:
            cancelled = await admin_client.post(f"/api/youtube/downloads/{download_id}/cancel")
            assert cancelled.status_code == 200, cancelled.text
            data = await wait_for_download(admin_client, download_id, finished, timeout=15)

    assert data["status"] == "cancelled"
    assert data["userId"] == str(bob.id)
    assert files_under(download_root) == []


async def test_deleting_a_running_download_stops_it_and_removes_everything(
    worker_app: MediaNestApp, alice: User, media: MediaServerSimulator, download_root: Path
) -> None:
    media.set_throttle(3_000)
    async with await client_for(worker_app, alice) as client:
        response = await client.post("/api/youtube/download", json={"url": media.feed_url()})
        download_id = response.json()["data"]["id"]
        await wait_for_download(client, download_id, downloading)
        assert (await client.delete(f"/api/youtube/downloads/{download_id}")).status_code == 204
        assert (await client.get(f"/api/youtube/downloads/{download_id}")).status_code == 404

    deadline = time.monotonic() + 10
    while workers_of(worker_app.ctx).running and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not workers_of(worker_app.ctx).running
    assert files_under(download_root) == []


@pytest.fixture
async def served(
    youtube_settings: Callable[..., Settings],
) -> AsyncIterator[tuple[ServedApp, Settings]]:
    settings = youtube_settings(run_worker_in_process=True)
    server = ServedApp(create_app(settings, run_migrations=False))
    await asyncio.to_thread(server.start)
    yield server, settings
    await asyncio.to_thread(server.stop)


async def signed_in_cookie(
    settings: Settings, username: str, role: str = "user"
) -> tuple[User, str]:
    ctx = await build_context(settings, Realtime(None), run_migrations=False)
    try:
        async with session_scope(ctx.session_factory) as session:
            user = User(username=username, email=f"{username}@example.test", role=role)
            session.add(user)
            await session.flush()
            issued = await session_store.create_session(
                session, user=user, settings=settings, ip="127.0.0.1", user_agent="pytest"
            )
    finally:
        await close_context(ctx)
    return user, issued.token


def _finished(progress: dict[str, Any]) -> bool:
    return progress["status"] in ("completed", "failed", "cancelled")


async def test_progress_events_reach_the_owner_over_socketio_throttled(
    served: tuple[ServedApp, Settings], media: MediaServerSimulator
) -> None:
    server, settings = served
    _alice, alice_token = await signed_in_cookie(settings, "alice")
    _bob, bob_token = await signed_in_cookie(settings, "bob")
    media.set_throttle(15_000)  # about two seconds per clip: many hook calls per item
    owner = await Listener().connect(server.url, cookie=f"{SESSION_COOKIE}={alice_token}")
    other = await Listener().connect(server.url, cookie=f"{SESSION_COOKIE}={bob_token}")
    try:
        async with http_client(base_url=server.url) as http:
            http.cookies.set(SESSION_COOKIE, alice_token)
            http.cookies.set(CSRF_COOKIE, "csrf")
            response = await http.post(
                "/api/youtube/download",
                json={"url": media.feed_url()},
                headers={"X-CSRF-Token": "csrf"},
            )
            assert response.status_code == 201, response.text
            download_id = response.json()["data"]["id"]
            await owner.next("youtube:progress", where=_finished, timeout=60)
    finally:
        await owner.client.disconnect()
        await other.client.disconnect()

    payloads = owner.received("youtube:progress")
    assert all(p["downloadId"] == download_id for p in payloads)
    assert payloads[-1]["status"] == "completed" and payloads[-1]["progress"] == 100
    downloading_events = [p for p in payloads if p["status"] == "downloading"]
    assert any(0 < p["progress"] < 100 for p in downloading_events)
    assert {p["currentItem"] for p in downloading_events} >= {1, 2, 3}
    assert all(p["totalItems"] == 3 for p in downloading_events if p["totalItems"])
    assert any("speed" in p for p in downloading_events)
    progress = [p["progress"] for p in downloading_events]
    assert progress == sorted(progress)
    # Throttled: at most ~2 events per second however often yt-dlp reports.
    times = [at for at, _data in owner.received_at("youtube:progress")]
    assert len(times) <= 2 * (times[-1] - times[0]) + 6
    assert other.received("youtube:progress") == []  # bob hears nothing of alice's download


async def test_an_admin_follows_every_users_download_live_and_other_users_do_not(
    served: tuple[ServedApp, Settings], media: MediaServerSimulator
) -> None:
    """An admin sees and stops every user's downloads ("Show every user's"), so their
    page must follow them live; a user still hears only their own."""
    server, settings = served
    _alice, alice_token = await signed_in_cookie(settings, "alice")
    _bob, bob_token = await signed_in_cookie(settings, "bob")
    _root, root_token = await signed_in_cookie(settings, "root", role="admin")
    media.set_throttle(40_000)
    owner = await Listener().connect(server.url, cookie=f"{SESSION_COOKIE}={alice_token}")
    other = await Listener().connect(server.url, cookie=f"{SESSION_COOKIE}={bob_token}")
    admin = await Listener().connect(server.url, cookie=f"{SESSION_COOKIE}={root_token}")
    try:
        async with http_client(base_url=server.url) as http:
            http.cookies.set(SESSION_COOKIE, alice_token)
            http.cookies.set(CSRF_COOKIE, "csrf")
            response = await http.post(
                "/api/youtube/download",
                json={"url": media.feed_url()},
                headers={"X-CSRF-Token": "csrf"},
            )
            assert response.status_code == 201, response.text
            download_id = response.json()["data"]["id"]
            await owner.next("youtube:progress", where=_finished, timeout=60)
            seen_by_admin = await admin.next("youtube:progress", where=_finished, timeout=10)
    finally:
        await owner.client.disconnect()
        await other.client.disconnect()
        await admin.client.disconnect()

    assert seen_by_admin["downloadId"] == download_id
    assert seen_by_admin["status"] == "completed"
    # The same events, each once (not once per room the admin's socket is in).
    assert len(admin.received("youtube:progress")) == len(owner.received("youtube:progress"))
    assert other.received("youtube:progress") == []


async def test_an_admins_own_download_reaches_their_socket_once(
    served: tuple[ServedApp, Settings], media: MediaServerSimulator
) -> None:
    server, settings = served
    _root, root_token = await signed_in_cookie(settings, "root", role="admin")
    admin = await Listener().connect(server.url, cookie=f"{SESSION_COOKIE}={root_token}")
    try:
        async with http_client(base_url=server.url) as http:
            http.cookies.set(SESSION_COOKIE, root_token)
            http.cookies.set(CSRF_COOKIE, "csrf")
            response = await http.post(
                "/api/youtube/download",
                json={"url": media.feed_url()},
                headers={"X-CSRF-Token": "csrf"},
            )
            assert response.status_code == 201, response.text
            await admin.next("youtube:progress", where=_finished, timeout=60)
            late = await admin.nothing("youtube:progress", within=1.0)
    finally:
        await admin.client.disconnect()
    finished_events = [p for p in admin.received("youtube:progress") if _finished(p)]
    assert len(finished_events) == 1, finished_events  # in both rooms, delivered once
    assert late == []


async def test_a_demoted_admins_socket_stops_hearing_other_users_downloads(
    served: tuple[ServedApp, Settings], media: MediaServerSimulator
) -> None:
    server, settings = served
    _alice, alice_token = await signed_in_cookie(settings, "alice")
    root, root_token = await signed_in_cookie(settings, "root", role="admin")
    admin = await Listener().connect(server.url, cookie=f"{SESSION_COOKIE}={root_token}")
    ctx = await build_context(settings, Realtime(None), run_migrations=False)
    try:
        async with session_scope(ctx.session_factory) as session:
            demoted = await session.get(User, root.id)
            assert demoted is not None
            demoted.role = "user"
    finally:
        await close_context(ctx)
    # The socket came in as an admin's: it is let go, and comes back as a user's.
    deadline = time.monotonic() + 10
    while admin.client.connected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not admin.client.connected
    again = await Listener().connect(server.url, cookie=f"{SESSION_COOKIE}={root_token}")
    owner = await Listener().connect(server.url, cookie=f"{SESSION_COOKIE}={alice_token}")
    try:
        async with http_client(base_url=server.url) as http:
            http.cookies.set(SESSION_COOKIE, alice_token)
            http.cookies.set(CSRF_COOKIE, "csrf")
            response = await http.post(
                "/api/youtube/download",
                json={"url": media.feed_url()},
                headers={"X-CSRF-Token": "csrf"},
            )
            assert response.status_code == 201, response.text
            await owner.next("youtube:progress", where=_finished, timeout=60)
    finally:
        await owner.client.disconnect()
        await again.client.disconnect()
    assert again.received("youtube:progress") == []
